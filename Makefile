# animerec — PGXS build.
#
#   make && make install        build and install the extension (OpenBLAS via pkg-config)
#   make installcheck           pg_regress over sql/<test>.sql + expected/<test>.out
#   make prove                  pgTAP suites test/pgtap/*.sql through pg_prove
#   make unittest               standalone C tests of the numeric core (test/nn/), TAP output
#   make bench                  build the standalone benchmarks in bench/
#
# The install script sql/animerec--<version>.sql is assembled from the ordered
# fragments in sql/install/ (one per module), so that each module keeps its SQL
# beside its C; pg_regress inputs are the other files directly in sql/.

EXTENSION   = animerec
EXTVERSION  = 0.1.0
MODULE_big  = animerec

NN_SRCS     = $(sort $(wildcard src/nn/*.c))
PG_SRCS     = $(sort $(wildcard src/*.c))
OBJS        = $(PG_SRCS:.c=.o) $(NN_SRCS:.c=.o)

DATA_built  = sql/$(EXTENSION)--$(EXTVERSION).sql
DATA        = $(filter-out $(DATA_built),$(wildcard sql/$(EXTENSION)--*--*.sql))

REGRESS     = $(sort $(basename $(notdir $(filter-out sql/$(EXTENSION)--%,$(wildcard sql/*.sql)))))
REGRESS_OPTS = --inputdir=. --outputdir=results_dir --load-extension=$(EXTENSION)
EXTRA_CLEAN = results_dir test/nn/bin bench/bin

BLAS_CFLAGS := $(shell pkg-config --cflags openblas)
BLAS_LIBS   := $(shell pkg-config --libs openblas)
ifeq ($(BLAS_LIBS),)
$(error OpenBLAS not found by pkg-config: install libopenblas-dev)
endif

PG_CPPFLAGS = -I$(srcdir)/src $(BLAS_CFLAGS)
PG_CFLAGS   = -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -O2
SHLIB_LINK  = $(BLAS_LIBS) -lm

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

sql/$(EXTENSION)--$(EXTVERSION).sql: $(sort $(wildcard sql/install/*.sql))
	cat $^ > $@

# ---- standalone numeric core: unit tests and benchmarks (no PostgreSQL) ----
NN_CC      ?= $(CC)
NN_CFLAGS  ?= -std=c11 -O2 -g -Wall -Wextra -Wno-unused-parameter -D_POSIX_C_SOURCE=200809L
NN_TESTS    = $(patsubst test/nn/%.c,test/nn/bin/%,$(sort $(wildcard test/nn/test_*.c)))
BENCHES     = $(patsubst bench/%.c,bench/bin/%,$(sort $(wildcard bench/*.c)))

test/nn/bin/%: test/nn/%.c $(NN_SRCS) $(wildcard src/nn/*.h) test/nn/tap.h
	@mkdir -p $(dir $@)
	$(NN_CC) $(NN_CFLAGS) $(NN_EXTRA_CFLAGS) -Isrc -Itest/nn $(BLAS_CFLAGS) -o $@ $< $(NN_SRCS) $(BLAS_LIBS) -lm

bench/bin/%: bench/%.c $(NN_SRCS) $(wildcard src/nn/*.h)
	@mkdir -p $(dir $@)
	$(NN_CC) $(NN_CFLAGS) -O3 -march=native -Isrc $(BLAS_CFLAGS) -o $@ $< $(NN_SRCS) $(BLAS_LIBS) -lm

.PHONY: unittest prove bench
unittest: $(NN_TESTS)
	@for t in $(NN_TESTS); do echo "# $$t"; (cd test/nn && ../../$$t) || echo "not ok - $$t exited with status $$?"; done

prove:
	pg_prove --verbose --dbname $${PGDATABASE:-postgres} $(sort $(wildcard test/pgtap/*.sql))

bench: $(BENCHES)
