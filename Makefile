# chirp build.
#   make            release build: ./chirp and build/release/libchirp.a
#   make test       setup, then all tests normally and under ASan+UBSan,
#                   then a short fuzz run of each target (when clang is present)
#   make demo       the main job end to end on a Debian-packaged corpus
#   make fuzz       run every fuzz target for FUZZ_SECONDS each
#   make bench      build the benchmark programs
# BUILD=asan selects the sanitizer build; CC=clang works too.

CC      ?= cc
BUILD   ?= release
OUT     := build/$(BUILD)

BLAS_DIR := /usr/lib/x86_64-linux-gnu/openblas-openmp
WARN    := -Wall -Wextra -Werror -Wno-unknown-pragmas
ifeq ($(BUILD),asan)
  OPT   := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
else ifeq ($(BUILD),debug)
  OPT   := -O0 -g
else
  OPT   := -O3 -march=native -g
endif
CFLAGS  ?=
# -fno-math-errno: sqrtf and friends may then vectorise (AdamW's update);
# chirp never reads errno after a math call, and the results are the same.
CFLAGS  += -std=c11 -D_GNU_SOURCE $(WARN) $(OPT) -fno-math-errno -fopenmp -Isrc -MMD -MP
LDFLAGS += $(OPT) -fopenmp -L$(BLAS_DIR) -Wl,-rpath,$(BLAS_DIR)
LDLIBS  := -lopenblas -ldnnl -ljansson -lutf8proc -lsqlite3 -lmicrohttpd -lzip -lz -ldivsufsort -ldivsufsort64 -lm -lpthread

# MPI (Open MPI) for multi-process training, when mpicc is installed
# (scripts/setup installs it); without it chirp builds single-process only.
MPI_CFLAGS := $(shell mpicc --showme:compile 2>/dev/null)
MPI_LIBS   := $(shell mpicc --showme:link 2>/dev/null)
ifneq ($(MPI_LIBS),)
  MPI_CFLAGS += -DCHIRP_HAVE_MPI
  LDLIBS     += $(MPI_LIBS)
endif

LIB_SRC  := $(sort $(wildcard src/util/*.c src/text/*.c src/data/*.c src/compute/*.c src/model/*.c src/dist/*.c \
                             src/train/*.c src/infer/*.c src/serve/*.c src/audit/*.c))
CLI_SRC  := $(sort $(wildcard src/cli/*.c))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
BENCH_SRC := $(sort $(wildcard bench/*.c))
FUZZ_SRC := $(sort $(wildcard fuzz/fuzz_*.c))

LIB_OBJ  := $(LIB_SRC:%.c=$(OUT)/obj/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(OUT)/obj/%.o)
TEST_BIN := $(TEST_SRC:tests/%.c=$(OUT)/tests/%)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(OUT)/bench/%)
LIB      := $(OUT)/libchirp.a

ifeq ($(BUILD),release)
  CHIRP_BIN := chirp
else
  CHIRP_BIN := $(OUT)/chirp
endif

.PHONY: all setup test tests demo fuzz fuzz-build bench clean format format-check cppcheck
all: $(CHIRP_BIN)

setup:
	@scripts/setup
	@scripts/setup-npm

$(OUT)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# Only the MPI communicator sees MPI's headers.
$(OUT)/obj/src/dist/comm_mpi.o: src/dist/comm_mpi.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(MPI_CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	@rm -f $@
	ar rcs $@ $^

$(CHIRP_BIN): $(CLI_OBJ) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(LIB) $(LDLIBS)

$(OUT)/tests/%: tests/%.c tests/testutil.h $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests $(LDFLAGS) -o $@ $< $(LIB) -lcmocka $(LDLIBS)

$(OUT)/bench/%: bench/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

tests: $(CHIRP_BIN) $(TEST_BIN)
bench: $(BENCH_BIN)

# The C files clang-format and cppcheck look after.
STYLE_SRC = $(shell git ls-files '*.c' '*.h' 2>/dev/null || find src tests fuzz bench -name '*.[ch]')

format:
	@clang-format -i $(STYLE_SRC)

format-check:
	@clang-format --dry-run -Werror $(STYLE_SRC) && echo "format-check: clean ($(words $(STYLE_SRC)) files)"

# Static analysis of the library and CLI; a finding fails the build.
cppcheck:
	@cppcheck --quiet --enable=warning,portability --std=c11 -D_GNU_SOURCE -Isrc --inline-suppr \
	  --error-exitcode=1 --template='{file}:{line}: {severity}: {message} [{id}]' src && echo "cppcheck: clean (src/)"

# The whole suite: style and static checks, release and sanitizer builds,
# then a short fuzz run.
test: setup format-check cppcheck
	$(MAKE) --no-print-directory tests BUILD=release
	$(MAKE) --no-print-directory tests BUILD=asan
	@tests/run.sh

FUZZ_SECONDS ?= 20
fuzz-build:
	@if command -v clang >/dev/null; then $(MAKE) --no-print-directory -f fuzz/fuzz.mk; \
	 else echo "fuzz: clang not found, skipping"; fi
fuzz: fuzz-build
	@fuzz/run.sh $(FUZZ_SECONDS)

demo: setup all
	@scripts/demo

clean:
	rm -rf build chirp

# The chat page is embedded with .incbin, which -MMD does not see.
$(OUT)/obj/src/serve/web_assets.o: $(wildcard src/serve/web/*)

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)
