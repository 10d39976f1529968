# Builds the libFuzzer targets with clang: the library is compiled again
# with coverage instrumentation and ASan+UBSan.
OUT     := build/fuzz
BLAS_DIR := /usr/lib/x86_64-linux-gnu/openblas-openmp
FLAGS   := -std=c11 -D_GNU_SOURCE -O1 -g -fopenmp -Isrc -fsanitize=fuzzer-no-link,address,undefined -MMD -MP
LIB_SRC := $(sort $(wildcard src/util/*.c src/text/*.c src/data/*.c src/compute/*.c src/model/*.c src/dist/*.c \
                            src/train/*.c src/infer/*.c src/serve/*.c src/audit/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(OUT)/obj/%.o)
FUZZ_BIN := $(patsubst fuzz/%.c,$(OUT)/%,$(sort $(wildcard fuzz/fuzz_*.c)))
LDLIBS  := -L$(BLAS_DIR) -Wl,-rpath,$(BLAS_DIR) -lopenblas -ldnnl -ljansson -lutf8proc -lsqlite3 -lmicrohttpd -lzip -lz -ldivsufsort -ldivsufsort64 -lm -lpthread

all: $(FUZZ_BIN)

$(OUT)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FLAGS) -c $< -o $@

$(OUT)/libchirp.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(OUT)/fuzz_%: fuzz/fuzz_%.c $(OUT)/libchirp.a
	clang $(FLAGS) -fsanitize=fuzzer -o $@ $< $(OUT)/libchirp.a $(LDLIBS)

-include $(LIB_OBJ:.o=.d)
