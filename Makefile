# lapgan build. One command: `make` (library, CLI, tests, benches).
#   make demo    install what is missing, build, run the main job
#   make test    install what is missing, build, run every test
#   make SAN=1   AddressSanitizer + UBSan build in build-san/
#   make bench   benchmarks against PyTorch (not tests)

CC      ?= gcc
ARCH    := $(shell $(CC) -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
BLASDIR := /usr/lib/$(ARCH)/openblas-openmp
BLASINC := /usr/include/$(ARCH)/openblas-openmp

ifeq ($(SAN),1)
BUILD   ?= build-san
OPT     := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD   ?= build
OPT     := -O3 -march=native -g
endif

CFLAGS  ?=
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wno-unused-parameter $(OPT) -fopenmp \
           -Iinclude -Isrc -I$(BLASINC) -MMD -MP
LDFLAGS += $(OPT) -fopenmp -L$(BLASDIR) -Wl,-rpath,$(BLASDIR)
LDLIBS  += -lopenblas -ldnnl -lpng -ljpeg -ljansson -lmicrohttpd -lsqlite3 -lz -lm -lpthread

LIB_SRC  := $(sort $(wildcard src/core/*.c src/backend/*.c src/backend/*/*.c src/nn/*.c \
              src/pyramid/*.c src/gan/*.c src/data/*.c src/io/*.c src/eval/*.c src/dist/*.c src/study/*.c))
CLI_SRC  := $(sort $(wildcard src/cli/*.c))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
BENCH_SRC:= $(sort $(wildcard bench/*.c))

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
TESTS    := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCHES  := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

.PHONY: all lib cli tests benches deps test demo bench clean
all: lib cli tests benches
lib: $(BUILD)/liblapgan.a
cli: $(BUILD)/lapgan
tests: $(TESTS)
benches: $(BENCHES)

deps:
	@scripts/deps.sh build

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# The study page is assembled into page.o (.incbin), which -MMD cannot see.
$(BUILD)/src/study/page.o: src/study/page.html

$(BUILD)/liblapgan.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/lapgan: $(CLI_OBJ) $(BUILD)/liblapgan.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(BUILD)/liblapgan.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(BUILD)/liblapgan.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The README's two commands.
test:
	@scripts/test.sh

demo:
	@scripts/demo.sh

bench:
	@scripts/deps.sh torch
	@$(MAKE) --no-print-directory all
	@bench/run.sh $(BUILD)

clean:
	rm -rf build build-san

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TESTS:=.d) $(BENCHES:=.d)
