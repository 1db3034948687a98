# The two commands of the README: `make demo` and `make test`. Both install what they need first.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
RT_BUILD   ?= build-rt
ARM64_BUILD ?= build-arm64
WASM_BUILD ?= build-wasm
WASM_MT_BUILD ?= build-wasm-mt
JOBS       ?= $(shell nproc)
# ccache (scripts/setup installs it): the core-only build below compiles the same objects as the release
# build, so it costs a cache lookup per file instead of a second compile.
CMAKE_GEN  := -G Ninja $(if $(shell command -v ccache),-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
EDGEQ      := $(BUILD)/bin/edgeq

.PHONY: all setup build asan rt-only test test-release test-asan test-rt-only arm64 test-arm64 wasm test-wasm wasm-mt web test-web test-container demo fuzz clean

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

# The runtime core alone (-DEDGEQ_RT_ONLY=ON: configures without protobuf, libonnx, LibTorch, spdlog,
# CLI11 or nlohmann-json) and the minimal program on it; the test checks what they link (readelf -d).
rt-only: setup
	cmake -S . -B $(RT_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Release -DEDGEQ_RT_ONLY=ON
	cmake --build $(RT_BUILD) -j $(JOBS)

test-rt-only: rt-only
	cd $(RT_BUILD) && ctest --no-tests=error --output-on-failure -j $(JOBS)

# The runtime core for 64-bit Arm (cmake/aarch64-linux-gnu.cmake: Debian's cross compiler, static
# programs), its kernel tests and the ONNX node conformance suite run by qemu-aarch64-static as a
# Cortex-A53 (Armv8.0: NEON int16 pairs, label arm64_a53) and as qemu's "max" CPU (dot product: SDOT
# quads, label arm64_max), and cnn-s / cnn-m outputs, fp32 and int8, compared with the x86 core's (rt-only).
arm64: setup
	@command -v qemu-aarch64-static >/dev/null || { echo "make arm64: qemu-aarch64-static missing (Debian qemu-user-static, scripts/setup)"; exit 1; }
	cmake -S . -B $(ARM64_BUILD) $(CMAKE_GEN) -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake \
	  -DCMAKE_BUILD_TYPE=Release -DEDGEQ_RT_ONLY=ON -DEDGEQ_RT_BENCH=ON \
	  -DEDGEQ_X86_MODEL_OUTPUTS=$(abspath $(RT_BUILD))/tests/arm64/model_outputs
	cmake --build $(ARM64_BUILD) -j $(JOBS)

test-arm64: rt-only arm64
	cd $(ARM64_BUILD) && ctest -L 'arm64_(a53|max)' --no-tests=error --output-on-failure -j $(JOBS)

# The runtime core in WebAssembly (cmake/wasm.cmake: Debian's emscripten 3.1.6, SIMD128, one thread) and
# web/edgeq's ES module; under node (label wasm): the kernel tests, the ONNX node conformance suite,
# cnn-s / cnn-m outputs compared with the x86 core's (rt-only; int8 the same bits) and web/edgeq's
# node --test. No ccache here: it does not know emcc as a compiler.
wasm: setup
	@command -v emcc >/dev/null || { echo "make wasm: emcc missing (Debian emscripten, scripts/setup)"; exit 1; }
	cmake -S . -B $(WASM_BUILD) -G Ninja -DCMAKE_TOOLCHAIN_FILE=cmake/wasm.cmake -DCMAKE_BUILD_TYPE=Release \
	  -DEDGEQ_RT_ONLY=ON -DEDGEQ_X86_MODEL_OUTPUTS=$(abspath $(RT_BUILD))/tests/arm64/model_outputs
	cmake --build $(WASM_BUILD) -j $(JOBS)

test-wasm: rt-only wasm
	cd $(WASM_BUILD) && ctest -L wasm --no-tests=error --output-on-failure -j $(JOBS)

# web/edgeq's module in its pthread build (-DEDGEQ_WASM_THREADS=ON: a pool of 4 workers, docs/wasm.md), only
# the module: the browser app loads it when the page is cross-origin isolated. 3 to 4 min cold on 2 cores.
wasm-mt: setup
	@command -v emcc >/dev/null || { echo "make wasm-mt: emcc missing (Debian emscripten, scripts/setup)"; exit 1; }
	cmake -S . -B $(WASM_MT_BUILD) -G Ninja -DCMAKE_TOOLCHAIN_FILE=cmake/wasm.cmake -DCMAKE_BUILD_TYPE=Release \
	  -DEDGEQ_RT_ONLY=ON -DEDGEQ_WASM_THREADS=ON -DEDGEQ_RT_TESTS=OFF
	cmake --build $(WASM_MT_BUILD) -j $(JOBS) --target edgeq_web_wrapper

# The browser app (web/app, TypeScript + Vite) built into one static folder, $(BUILD)/web/dist: the app,
# edgeq's wasm module, onnxruntime-web's WebGPU+WASM files, models.json and the models by hash. The demo
# models are a cnn-s trained for seconds with edgeq and its static int8 version; WEB_FP32 / WEB_INT8 take
# others (e.g. out/demo's). Serve the folder with COOP/COEP headers (docs/web.md).
WEB_MODELS ?= $(BUILD)/web/models
WEB_FP32   ?= $(WEB_MODELS)/fp32.onnx
WEB_INT8   ?= $(WEB_MODELS)/int8.onnx
web: build wasm wasm-mt
	node web/app/tools/demo_models.mjs --edgeq $(EDGEQ) --out $(WEB_MODELS)
	node web/app/tools/build.mjs --wasm $(WASM_BUILD)/web/edgeq --wasm-threads $(WASM_MT_BUILD)/web/edgeq \
	  --fp32 $(WEB_FP32) --int8 $(WEB_INT8) --out $(BUILD)/web/dist

# The app in headless Chromium (label web): each backend against the native core, WebGPU on SwiftShader,
# the fallbacks, model delivery (IndexedDB, version bump, sha256 rollback, offline), the calibration
# export into edgeq quantize. Needs the full build, the wasm module and the x86 core (model_outputs).
test-web: rt-only wasm wasm-mt build
	cd $(BUILD) && ctest -L web --no-tests=error --output-on-failure

# The ONNX node-test sweep's count (tests/conformance/node_test.cpp) is printed from ctest's log. The
# edgeq-wasm peer's test (bench_edgeq_wasm_peer.measures) serves build-wasm/web/edgeq: `make test` runs
# test-wasm first; alone, without a wasm build, ctest reports it Skipped.
test-release: build
	cd $(BUILD) && ctest -LE 'fuzz|container|web' --no-tests=error --output-on-failure -j $(JOBS)
	@grep -h "inference node tests" $(BUILD)/Testing/Temporary/LastTest.log | head -2 | sed 's/^/node-test sweep: /'

# deploy/Dockerfile built and run with podman + runc (label container; minutes: debootstraps a base image
# once, then compiles the server inside the build stage). Not part of `make test`.
test-container: build
	cd $(BUILD) && ctest -L container --no-tests=error --output-on-failure

# Sanitizer run first, the full release run last (its summary line closes the output). test-arm64 (the
# aarch64 core under qemu) adds 30 s with a warm ccache (its tests: 11 s), about 6 min cold (the core's build:
# 4 min 7 s on 2 cores; the core-only edgeq bench and its libraries: 1 min 40 s more, measured on a loaded
# machine), to the ~18 min of the rest. test-wasm (the wasm32 core under node) adds 11 s warm, 3 min 18 s cold
# on 2 cores (its tests: 6 s). test-web (the browser app in headless Chromium) adds the pthread build of the wasm
# module (wasm-mt: 3 to 4 min cold on 2 cores, seconds warm) and its 5 tests, 79-99 s with warm builds (the demo
# models are trained once per build tree, in seconds).
test: setup
	$(MAKE) --no-print-directory test-asan
	$(MAKE) --no-print-directory test-rt-only
	$(MAKE) --no-print-directory test-arm64
	$(MAKE) --no-print-directory test-wasm
	$(MAKE) --no-print-directory test-web
	$(MAKE) --no-print-directory test-release

# The main job: train, quantize, evaluate and benchmark on Fashion-MNIST → out/demo/report.md (+ .html).
# The wasm build gives the bench its edgeq-wasm rows (edgeq's module in headless chromium); the browser
# app (make web: $(BUILD)/web/dist) is copied to out/demo/app/, which the report links (serve it with
# `edgeq serve --static out/demo/app`).
demo: build wasm web
	rm -rf out/demo/app && mkdir -p out/demo && cp -r $(BUILD)/web/dist out/demo/app
	$(EDGEQ) demo --out out/demo --wasm-dir $(abspath $(WASM_BUILD))/web/edgeq

# libFuzzer on the ONNX loader, 60 s (label fuzz, not part of `make test`).
fuzz: setup
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEDGEQ_FUZZ=ON \
	  -DEDGEQ_WITH_TORCH=OFF
	cmake --build $(FUZZ_BUILD) -j $(JOBS)
	cd $(FUZZ_BUILD) && ctest -L fuzz --output-on-failure

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(RT_BUILD) $(ARM64_BUILD) $(WASM_BUILD) $(WASM_MT_BUILD) out
