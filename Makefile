# animerec — PGXS build.
#
#   make && make install        build and install the extension (OpenBLAS headers via pkg-config,
#                               the library loaded at run time: src/nn/blas.c)
#   make installcheck           pg_regress over sql/<test>.sql + expected/<test>.out
#   make prove                  pgTAP suites test/pgtap/*.sql through pg_prove
#   make unittest               standalone C tests of the numeric core (test/nn/), TAP output
#   make bench                  build the standalone benchmarks in bench/
#   make install-router         only the optional extension animerec_router (router/),
#                               which make install installs too
#
# The install script sql/animerec--<version>.sql is assembled from the ordered
# fragments in sql/install/ (one per module), so that each module keeps its SQL
# beside its C.  Released versions' scripts (sql/animerec--0.1.0.sql, exactly as
# released, and sql/animerec--0.2.0.sql) and the update scripts sql/animerec--<old>--<new>.sql are committed
# files, installed as they are; pg_regress inputs are the other files in sql/.

EXTENSION   = animerec
# the version is written once, in animerec.control
EXTVERSION := $(shell sed -n "s/^default_version = '\\(.*\\)'/\\1/p" $(EXTENSION).control)
MODULE_big  = animerec

NN_SRCS     = $(sort $(wildcard src/nn/*.c))
TEXT_SRCS   = $(sort $(wildcard src/text/*.c))
PG_SRCS     = $(sort $(wildcard src/*.c))
OBJS        = $(PG_SRCS:.c=.o) $(NN_SRCS:.c=.o) $(TEXT_SRCS:.c=.o)

DATA_built  = sql/$(EXTENSION)--$(EXTVERSION).sql
DATA        = $(filter-out $(DATA_built),$(wildcard sql/$(EXTENSION)--*.sql))

REGRESS     = $(sort $(basename $(notdir $(filter-out sql/$(EXTENSION)--%,$(wildcard sql/*.sql)))))
REGRESS_OUTPUTDIR ?= results_dir
REGRESS_OPTS = --inputdir=. --outputdir=$(REGRESS_OUTPUTDIR) --load-extension=$(EXTENSION)
EXTRA_CLEAN = results_dir test/nn/bin bench/bin

# OpenBLAS is not linked: src/nn/blas.c dlopen()s it at run time after choosing
# its kernel from the CPU's feature bits (docs/cpu-and-blas.md); only its
# headers (cblas.h: the enums and blasint) are used at build time
BLAS_CFLAGS := $(shell pkg-config --cflags openblas)
ifeq ($(shell pkg-config --exists openblas && echo yes),)
$(error OpenBLAS not found by pkg-config: install libopenblas-dev)
endif

PG_CPPFLAGS = -I$(srcdir)/src $(BLAS_CFLAGS) -DANIMEREC_VERSION='"$(EXTVERSION)"'
PG_CFLAGS   = -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -O2
SHLIB_LINK  = -lm

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# the optional second extension animerec_router (router/, its own PGXS
# Makefile): installed and removed with this one
.PHONY: install-router uninstall-router
install: install-router
uninstall: uninstall-router
install-router uninstall-router:
	$(MAKE) -C router PG_CONFIG=$(PG_CONFIG) $(patsubst %-router,%,$@)

# the numeric core is built with more optimisation: vectorised elementwise
# loops (-fno-trapping-math lets the clamps of exp become blends; neither
# flag changes a result)
NN_OPT_CFLAGS = -O3 -fno-math-errno -fno-trapping-math
$(NN_SRCS:.c=.o): CFLAGS += $(NN_OPT_CFLAGS)

# PGXS tracks no header dependencies: rebuild every object when any header changes
$(OBJS): $(wildcard src/*.h src/nn/*.h src/text/*.h)

sql/$(EXTENSION)--$(EXTVERSION).sql: $(sort $(wildcard sql/install/*.sql))
	cat $^ > $@

# ---- standalone numeric core and text parsing: unit tests and benchmarks (no PostgreSQL) ----
#   make unittest            test/nn/test_*.c built with $(NN_CC) into $(NN_BIN), TAP output
#   make unittest-asan       the same tests built with clang -fsanitize=address,undefined
#   make unittest-valgrind   the same tests run under valgrind (memcheck, leaks included);
#                            ANIMEREC_TEST_SCALE=small shortens the slowest ones
NN_CC      ?= $(CC)
NN_CFLAGS  ?= -std=c11 -O2 -g -Wall -Wextra -Wno-unused-parameter -D_POSIX_C_SOURCE=200809L
NN_BIN     ?= test/nn/bin
CORE_SRCS   = $(NN_SRCS) $(TEXT_SRCS)
CORE_HDRS   = $(wildcard src/nn/*.h src/text/*.h)
NN_TESTS    = $(patsubst test/nn/%.c,$(NN_BIN)/%,$(sort $(wildcard test/nn/test_*.c)))
BENCHES     = $(patsubst bench/%.c,bench/bin/%,$(sort $(wildcard bench/*.c)))
ASAN_CFLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
VALGRIND    = valgrind -q --error-exitcode=1 --leak-check=full
EXTRA_CLEAN += test/nn/bin-asan

# the core is compiled once per build directory ($(NN_BIN)/obj/) and linked into every test
NN_OBJS     = $(patsubst src/%.c,$(NN_BIN)/obj/%.o,$(CORE_SRCS))
.SECONDARY: $(NN_OBJS)

$(NN_BIN)/obj/%.o: src/%.c $(CORE_HDRS)
	@mkdir -p $(dir $@)
	$(NN_CC) $(NN_CFLAGS) $(NN_EXTRA_CFLAGS) -Isrc $(BLAS_CFLAGS) -c -o $@ $<

$(NN_BIN)/%: test/nn/%.c $(NN_OBJS) $(CORE_HDRS) test/nn/tap.h
	@mkdir -p $(dir $@)
	$(NN_CC) $(NN_CFLAGS) $(NN_EXTRA_CFLAGS) -Isrc -Itest/nn $(BLAS_CFLAGS) -o $@ $< $(NN_OBJS) -lm

# The benchmark compiles the core exactly as the extension does (PGXS CFLAGS
# plus NN_OPT_CFLAGS, no -march: src/nn/blas.c chooses the OpenBLAS kernel by CPU
# at run time), so the in-database speed is the benchmark's; NN_BENCH_CFLAGS adds
# flags for a benchmark's variant (bench/simd_width.sh: -DNN_SIMD_NO_V4).
bench/bin/%: bench/%.c $(NN_SRCS) $(wildcard src/nn/*.h bench/*.h)
	@mkdir -p $(dir $@)
	$(NN_CC) $(CFLAGS) $(NN_OPT_CFLAGS) $(NN_BENCH_CFLAGS) -Isrc $(BLAS_CFLAGS) -o $@ $< $(NN_SRCS) -lm

.PHONY: unittest unittest-asan unittest-valgrind prove bench
# the serving tests build their model blobs with test/nn/bin/make_blob
installcheck prove: test/nn/bin/make_blob

unittest: $(NN_TESTS)
	@for t in $(NN_TESTS); do echo "# $$t"; (cd test/nn && $(NN_RUN) ../../$$t) || echo "not ok - $$t exited with status $$?"; done

# Both run one OpenBLAS thread unless OPENBLAS_NUM_THREADS says otherwise: on a
# busy machine the thread hand-offs of small GEMMs cost minutes under the tools
# (the threaded paths run in `make unittest`).
unittest-asan:
	@OPENBLAS_NUM_THREADS=$${OPENBLAS_NUM_THREADS:-1} $(MAKE) --no-print-directory unittest \
		NN_CC=clang NN_BIN=test/nn/bin-asan NN_EXTRA_CFLAGS="$(ASAN_CFLAGS)"

unittest-valgrind:
	@OPENBLAS_NUM_THREADS=$${OPENBLAS_NUM_THREADS:-1} $(MAKE) --no-print-directory unittest NN_RUN="$(VALGRIND)"

prove:
	pg_prove --verbose --dbname $${PGDATABASE:-postgres} $(sort $(wildcard test/pgtap/*.sql))

bench: $(BENCHES)

# ---- libFuzzer targets (clang; no PostgreSQL): test/fuzz/fuzz_<name>.c ----
#   make fuzz [FUZZ_SECONDS=60]   build and run every target for FUZZ_SECONDS each
#   make fuzz-<name>              one of them: weights (src/nn/format.c), tags
#                                 (src/text/tags.c), html (src/text/html.c),
#                                 train_options (src/text/train_options.c), resume
#                                 (src/nn/resume.c); it starts from the committed corpus
#                                 test/fuzz/corpus/<name>/, new inputs go to
#                                 test/fuzz/bin/corpus/<name>/, crashes to test/fuzz/bin/
#   make fuzz-corpus              rewrite the seed blobs and recipes in test/fuzz/corpus/weights/
#                                 and the seed training states in test/fuzz/corpus/resume/
# -DNN_FUZZ_SKIP_CRC (this build only) lets mutated blobs past the checksum.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS  ?= -std=c11 -O1 -g -Wall -Wextra -Wno-unused-parameter -D_POSIX_C_SOURCE=200809L \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -DNN_FUZZ_SKIP_CRC
FUZZ_NAMES    = $(patsubst test/fuzz/fuzz_%.c,%,$(sort $(wildcard test/fuzz/fuzz_*.c)))
FUZZ_MAX_LEN  = 4096
FUZZ_MAX_LEN_weights = 65536
FUZZ_MAX_LEN_resume = 16384
EXTRA_CLEAN += test/fuzz/bin

FUZZ_OBJS     = $(patsubst src/%.c,test/fuzz/bin/obj/%.o,$(CORE_SRCS))
# kept after a run (they would be intermediate files of fuzz-<name>), to reproduce crashes
.SECONDARY: $(FUZZ_OBJS) $(addprefix test/fuzz/bin/fuzz_,$(FUZZ_NAMES))

test/fuzz/bin/obj/%.o: src/%.c $(CORE_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Isrc $(BLAS_CFLAGS) -c -o $@ $<

test/fuzz/bin/fuzz_%: test/fuzz/fuzz_%.c $(FUZZ_OBJS) $(CORE_HDRS) test/fuzz/resume_trainer.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Isrc $(BLAS_CFLAGS) -o $@ $< $(FUZZ_OBJS) -lm

test/fuzz/bin/seed_corpus: test/fuzz/seed_corpus.c test/fuzz/resume_trainer.h $(CORE_SRCS) $(CORE_HDRS)
	@mkdir -p $(dir $@)
	$(NN_CC) $(NN_CFLAGS) -Isrc $(BLAS_CFLAGS) -o $@ $< $(CORE_SRCS) -lm

.PHONY: fuzz fuzz-corpus fuzz-names
fuzz-corpus: test/fuzz/bin/seed_corpus
	@mkdir -p test/fuzz/corpus/weights test/fuzz/corpus/resume
	test/fuzz/bin/seed_corpus test/fuzz/corpus/weights test/fuzz/corpus/resume

# fuzz-<name> (not .PHONY: phony targets skip pattern rules; no such file exists)
fuzz-%: test/fuzz/bin/fuzz_%
	@mkdir -p test/fuzz/bin/corpus/$*
	cd test/fuzz/bin && ./fuzz_$* -max_total_time=$(FUZZ_SECONDS) \
		-max_len=$(or $(FUZZ_MAX_LEN_$*),$(FUZZ_MAX_LEN)) -print_final_stats=1 corpus/$* ../corpus/$*

fuzz: $(addprefix fuzz-,$(FUZZ_NAMES))

fuzz-names:
	@echo $(FUZZ_NAMES)

# ---- every test program (unit tests plain and under ASan, make_blob, the fuzz targets) ----
# built without running anything: scripts/test builds them under a lock, so that two
# runs in one checkout never build the same file at once
.PHONY: unittest-programs test-programs
unittest-programs: $(NN_TESTS)

test-programs: unittest-programs test/nn/bin/make_blob $(addprefix test/fuzz/bin/fuzz_,$(FUZZ_NAMES))
	@$(MAKE) --no-print-directory unittest-programs \
		NN_CC=clang NN_BIN=test/nn/bin-asan NN_EXTRA_CFLAGS="$(ASAN_CFLAGS)"
