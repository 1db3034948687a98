# The two commands of the README: `make demo` and `make test`. Both install what they need first.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
JOBS       ?= $(shell nproc)
CMAKE_GEN  := -G Ninja
EDGEQ      := $(BUILD)/bin/edgeq

.PHONY: all setup build asan test test-release test-asan demo fuzz clean

all: build

setup:
	bash scripts/setup

build: setup
	cmake -S . -B $(BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD) -j $(JOBS)

# ASan+UBSan build of the parser and kernel tests (no LibTorch). -g1: line tables for the sanitizer's
# stack traces without the full type information of Highway's templates, which made the kernel objects
# take gigabytes and most of CI's time to assemble.
asan: setup
	cmake -S . -B $(ASAN_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Debug -DEDGEQ_SANITIZE=ON -DEDGEQ_WITH_TORCH=OFF \
	  -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1"
	cmake --build $(ASAN_BUILD) -j $(JOBS)

test-asan: asan
	cd $(ASAN_BUILD) && ctest -L sanitize --no-tests=error --output-on-failure -j $(JOBS)

test-release: build
	cd $(BUILD) && ctest -LE fuzz --no-tests=error --output-on-failure -j $(JOBS)

# Sanitizer run first, the full release run last (its summary line closes the output).
test: setup
	$(MAKE) --no-print-directory test-asan
	$(MAKE) --no-print-directory test-release

# The main job: train, quantize, evaluate and benchmark on Fashion-MNIST → out/demo/report.md (+ .html).
demo: build
	$(EDGEQ) demo --out out/demo

# libFuzzer on the ONNX loader, 60 s (label fuzz, not part of `make test`).
fuzz: setup
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEDGEQ_FUZZ=ON \
	  -DEDGEQ_WITH_TORCH=OFF
	cmake --build $(FUZZ_BUILD) -j $(JOBS)
	cd $(FUZZ_BUILD) && ctest -L fuzz --output-on-failure

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) out
