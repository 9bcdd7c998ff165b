# lapgan build. One command: `make` (library, CLI, tests, benches).
#   make demo    install what is missing, build, run the main job
#   make test    install what is missing, build, run every test
#   make SAN=1   AddressSanitizer + UBSan build in build-san/
#   make bench   benchmarks against PyTorch (not tests)
#   make MPI=1   `mpirun -np N lapgan train` across processes, in build-mpi/
#                (needs an MPI: libopenmpi-dev; the default build does not)

CC      ?= gcc
ARCH    := $(shell $(CC) -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
BLASDIR := /usr/lib/$(ARCH)/openblas-openmp
BLASINC := /usr/include/$(ARCH)/openblas-openmp

ifeq ($(MPI),1)
MPI_SUFFIX := -mpi
MPI_CFLAGS ?= $(shell mpicc --showme:compile 2>/dev/null || pkg-config --cflags ompi-c mpich 2>/dev/null)
MPI_LIBS   ?= $(shell mpicc --showme:link 2>/dev/null || pkg-config --libs ompi-c mpich 2>/dev/null)
DIST_UNUSED := src/dist/serial.c
else
DIST_UNUSED := src/dist/mpi.c
endif

ifeq ($(SAN),1)
BUILD   ?= build-san$(MPI_SUFFIX)
OPT     := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD   ?= build$(MPI_SUFFIX)
OPT     := -O3 -march=native -g
endif

# Position-independent objects, so one set builds both liblapgan.a and
# liblapgan.so. Without semantic interposition GCC still inlines the
# library's global functions into their callers, as without -fPIC.
PIC     ?= -fPIC -fno-semantic-interposition
CFLAGS  ?=
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wno-unused-parameter $(OPT) $(PIC) -fopenmp \
           -Iinclude -Isrc -I$(BUILD)/gen -I$(BLASINC) -MMD -MP $(MPI_CFLAGS)
LDFLAGS += $(OPT) -fopenmp -L$(BLASDIR) -Wl,-rpath,$(BLASDIR)
# The library's own dependencies; the human study (libmicrohttpd, SQLite)
# lives in liblapgan-study.a, which only the CLI (and its tests) link.
LIB_LDLIBS := -lopenblas -ldnnl -lpng -ljpeg -ljansson -lprotobuf-c -lcrypto -lzip -llmdb -lwebp -lz -lm -lpthread $(MPI_LIBS)
LDLIBS  += -lmicrohttpd -lsqlite3 $(LIB_LDLIBS)

# Shared library version from include/lapgan/core.h; the soname carries the
# major number (liblapgan.so.0).
LG_VER   := $(shell sed -n 's/^\#define LG_VERSION "\(.*\)"/\1/p' include/lapgan/core.h)
LG_MAJOR := $(firstword $(subst ., ,$(LG_VER)))
SONAME   := liblapgan.so.$(LG_MAJOR)
# Every symbol resolved inside (proves the study is not needed); sanitizer
# runtimes come from the program that loads it, so not there.
SO_NOUNDEF := $(if $(filter 1,$(SAN)),,-Wl,--no-undefined)

LIB_SRC  := $(sort $(wildcard src/core/*.c src/backend/*.c src/backend/*/*.c src/nn/*.c \
              src/pyramid/*.c src/gan/*.c src/data/*.c src/io/*.c src/eval/*.c src/dist/*.c \
              src/export/*.c))
STUDY_SRC:= $(sort $(wildcard src/study/*.c))
# One implementation of src/dist/dist.h: serial.c, or mpi.c with MPI=1.
LIB_SRC  := $(filter-out $(DIST_UNUSED),$(LIB_SRC))
CLI_SRC  := $(sort $(wildcard src/cli/*.c))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
BENCH_SRC:= $(sort $(wildcard bench/*.c))

# The ONNX schema as C (protoc-c), generated into BUILD/gen from the
# onnx.proto that Debian's libonnx-dev ships.
ONNX_PROTO ?= /usr/include/onnx/onnx.proto
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/onnx.pb-c.o
STUDY_OBJ:= $(STUDY_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
TESTS    := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCHES  := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

.PHONY: all lib cli tests benches deps test demo bench clean
all: lib cli tests benches
lib: $(BUILD)/liblapgan.a $(BUILD)/liblapgan.so $(BUILD)/liblapgan-study.a
cli: $(BUILD)/lapgan
tests: $(TESTS)
benches: $(BENCHES)

deps:
	@scripts/deps.sh build

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# The study page is assembled into page.o (.incbin), which -MMD cannot see;
# so is the torch exporter's module text.
$(BUILD)/src/study/page.o: src/study/page.html
$(BUILD)/src/export/torch_py.o: src/export/torch_model.py

define onnx_gen # $(1): build dir, $(2): compile command
$(1)/gen/onnx.pb-c.c: $(ONNX_PROTO)
	@mkdir -p $(1)/gen
	protoc-c --c_out=$(1)/gen --proto_path=$(dir $(ONNX_PROTO)) $(ONNX_PROTO)
$(1)/gen/onnx.pb-c.h: $(1)/gen/onnx.pb-c.c
$(1)/src/export/onnx.o: $(1)/gen/onnx.pb-c.h
$(1)/gen/onnx.pb-c.o: $(1)/gen/onnx.pb-c.c
	$(2) -c $$< -o $$@
endef
$(eval $(call onnx_gen,$(BUILD),$(CC) $(CFLAGS)))

$(BUILD)/liblapgan.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/liblapgan-study.a: $(STUDY_OBJ)
	@rm -f $@
	ar rcs $@ $^

# What liblapgan.so exports: every lg_ function the public headers declare;
# the backends, the ONNX protobuf code and every other internal stay local,
# so a binding cannot come to depend on them.
$(BUILD)/liblapgan.map: include/lapgan.h $(wildcard include/lapgan/*.h)
	@mkdir -p $(@D)
	{ echo '{ global:'; grep -ohE '\blg_[a-z0-9_]+[[:space:]]*\(' $^ | sed 's/[[:space:]]*(//; s/$$/;/' | sort -u; \
	  echo 'local: *; };'; } > $@

# liblapgan.so.X.Y.Z, with liblapgan.so.X (the soname) and liblapgan.so
# (for -llapgan) as links to it.
$(BUILD)/liblapgan.so: $(LIB_OBJ) $(BUILD)/liblapgan.map
	$(CC) -shared $(LDFLAGS) -Wl,-soname,$(SONAME) $(SO_NOUNDEF) -Wl,--version-script=$(BUILD)/liblapgan.map \
	    -o $@.$(LG_VER) $(LIB_OBJ) $(LIB_LDLIBS)
	ln -sf liblapgan.so.$(LG_VER) $(BUILD)/$(SONAME)
	ln -sf liblapgan.so.$(LG_VER) $@

$(BUILD)/lapgan: $(CLI_OBJ) $(BUILD)/liblapgan-study.a $(BUILD)/liblapgan.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(BUILD)/liblapgan.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(BUILD)/liblapgan.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Replays the fuzz corpus and saved crashes; its CLI harness needs the parsers.
$(BUILD)/tests/test_fuzz_replay: $(BUILD)/tests/test_fuzz_replay.o \
                                  $(filter-out %/main.o,$(CLI_OBJ)) $(BUILD)/liblapgan-study.a \
                                  $(BUILD)/liblapgan.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Fuzzing (clang + libFuzzer, docs/RELIABILITY.md): one harness per parser of
# outside bytes (fuzz/fuzz_*.c), the library rebuilt with clang in build-fuzz.
#   make fuzz        build the harnesses
#   make fuzz-ci     run each for FUZZ_SECONDS (20) from fuzz/corpus/<name>
#   make fuzz-long   the same for FUZZ_LONG_SECONDS (600) each
FUZZ_CC     ?= clang
FUZZ_BUILD  ?= build-fuzz
FUZZ_SECONDS ?= 20
FUZZ_LONG_SECONDS ?= 600
FUZZ_FLAGS  := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
               -fno-sanitize-recover=undefined
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter -Wno-pass-failed $(FUZZ_FLAGS) -fopenmp \
               -Iinclude -Isrc -I$(FUZZ_BUILD)/gen -I$(BLASINC) -MMD -MP
FUZZ_NAMES  := $(patsubst fuzz/fuzz_%.c,%,$(sort $(wildcard fuzz/fuzz_*.c)))
FUZZ_BINS   := $(FUZZ_NAMES:%=$(FUZZ_BUILD)/fuzz_%)
FUZZ_OBJ    := $(patsubst %.c,$(FUZZ_BUILD)/%.o,$(LIB_SRC) $(STUDY_SRC) $(filter-out %/main.c,$(CLI_SRC))) \
               $(FUZZ_BUILD)/gen/onnx.pb-c.o

# Objects that only pattern rules mention would be deleted as intermediates.
.SECONDARY: $(FUZZ_OBJ) $(FUZZ_NAMES:%=$(FUZZ_BUILD)/fuzz/fuzz_%.o)
.PHONY: fuzz fuzz-ci fuzz-long fuzz-seeds
fuzz: $(FUZZ_BINS)
fuzz-seeds: $(BUILD)/liblapgan-study.a $(BUILD)/liblapgan.a
	$(CC) $(CFLAGS) -Ifuzz -o $(BUILD)/make_seeds fuzz/make_seeds.c $(LDFLAGS) $^ $(LDLIBS)
	$(BUILD)/make_seeds fuzz/corpus
fuzz-ci: fuzz
	@fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)
fuzz-long: fuzz
	@fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_LONG_SECONDS)

$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_BUILD)/src/study/page.o: src/study/page.html
$(eval $(call onnx_gen,$(FUZZ_BUILD),$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link))
$(FUZZ_BUILD)/src/export/torch_py.o: src/export/torch_model.py

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/fuzz/fuzz_%.o $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer -fopenmp -L$(BLASDIR) -Wl,-rpath,$(BLASDIR) \
	    -o $@ $^ $(LDLIBS)

# The README's two commands.
test:
	@scripts/test.sh

demo:
	@scripts/demo.sh

# The yardstick is PyPI's current torch in a venv (scripts/torch-venv.sh);
# REF_PYTHON=/usr/bin/python3 measures against Debian's 1.13 instead.
bench:
	@scripts/deps.sh torch
	@$(MAKE) --no-print-directory all
	@REF_PYTHON="$${REF_PYTHON:-$$(scripts/torch-venv.sh)}" bench/run.sh $(BUILD)

clean:
	rm -rf build build-san build-fuzz build-mpi build-san-mpi

-include $(wildcard $(FUZZ_BUILD)/*/*.d $(FUZZ_BUILD)/*/*/*.d $(FUZZ_BUILD)/*/*/*/*.d)
-include $(LIB_OBJ:.o=.d) $(STUDY_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TESTS:=.d) $(BENCHES:=.d)
