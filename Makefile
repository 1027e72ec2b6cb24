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
# beside its C.  Released versions' scripts (sql/animerec--0.1.0.sql, exactly as
# released) and the update scripts sql/animerec--<old>--<new>.sql are committed
# files, installed as they are; pg_regress inputs are the other files in sql/.

EXTENSION   = animerec
EXTVERSION  = 0.2.0
MODULE_big  = animerec

NN_SRCS     = $(sort $(wildcard src/nn/*.c))
PG_SRCS     = $(sort $(wildcard src/*.c))
OBJS        = $(PG_SRCS:.c=.o) $(NN_SRCS:.c=.o)

DATA_built  = sql/$(EXTENSION)--$(EXTVERSION).sql
DATA        = $(filter-out $(DATA_built),$(wildcard sql/$(EXTENSION)--*.sql))

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

# the numeric core is built with more optimisation: vectorised elementwise
# loops (-fno-trapping-math lets the clamps of exp become blends; neither
# flag changes a result)
NN_OPT_CFLAGS = -O3 -fno-math-errno -fno-trapping-math
$(NN_SRCS:.c=.o): CFLAGS += $(NN_OPT_CFLAGS)

# PGXS tracks no header dependencies: rebuild every object when any header changes
$(OBJS): $(wildcard src/*.h src/nn/*.h)

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

# The benchmark compiles the core exactly as the extension does (PGXS CFLAGS
# plus NN_OPT_CFLAGS, no -march: OpenBLAS dispatches by CPU at run time), so
# the in-database speed is the benchmark's.
bench/bin/%: bench/%.c $(NN_SRCS) $(wildcard src/nn/*.h)
	@mkdir -p $(dir $@)
	$(NN_CC) $(CFLAGS) $(NN_OPT_CFLAGS) -Isrc $(BLAS_CFLAGS) -o $@ $< $(NN_SRCS) $(BLAS_LIBS) -lm

.PHONY: unittest prove bench
# the serving tests build their model blobs with test/nn/bin/make_blob
installcheck prove: test/nn/bin/make_blob

unittest: $(NN_TESTS)
	@for t in $(NN_TESTS); do echo "# $$t"; (cd test/nn && ../../$$t) || echo "not ok - $$t exited with status $$?"; done

prove:
	pg_prove --verbose --dbname $${PGDATABASE:-postgres} $(sort $(wildcard test/pgtap/*.sql))

bench: $(BENCHES)

# ---- libFuzzer target of the weight-file reader (clang; no PostgreSQL) ----
#   make fuzz [FUZZ_SECONDS=60]   build test/fuzz/bin/fuzz_weights and run it; new
#                                 inputs go to test/fuzz/bin/corpus, crashes to test/fuzz/bin/
#   make fuzz-corpus              rewrite the seed blobs and recipes in test/fuzz/corpus/
# -DNN_FUZZ_SKIP_CRC (this build only) lets mutated blobs past the checksum.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS  ?= -std=c11 -O1 -g -Wall -Wextra -Wno-unused-parameter -D_POSIX_C_SOURCE=200809L \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -DNN_FUZZ_SKIP_CRC
EXTRA_CLEAN += test/fuzz/bin

test/fuzz/bin/fuzz_weights: test/fuzz/fuzz_weights.c $(NN_SRCS) $(wildcard src/nn/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Isrc $(BLAS_CFLAGS) -o $@ $< $(NN_SRCS) $(BLAS_LIBS) -lm

test/fuzz/bin/seed_corpus: test/fuzz/seed_corpus.c $(NN_SRCS) $(wildcard src/nn/*.h)
	@mkdir -p $(dir $@)
	$(NN_CC) $(NN_CFLAGS) -Isrc $(BLAS_CFLAGS) -o $@ $< $(NN_SRCS) $(BLAS_LIBS) -lm

.PHONY: fuzz fuzz-corpus
fuzz-corpus: test/fuzz/bin/seed_corpus
	@mkdir -p test/fuzz/corpus
	test/fuzz/bin/seed_corpus test/fuzz/corpus

fuzz: test/fuzz/bin/fuzz_weights
	@mkdir -p test/fuzz/bin/corpus
	cd test/fuzz/bin && ./fuzz_weights -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
		-print_final_stats=1 corpus ../corpus
