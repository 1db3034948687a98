# Cross build for WebAssembly (wasm32) with Debian's emscripten 3.1.6 (its clang is Debian's clang 14):
#   cmake -S . -B build-wasm -G Ninja -DCMAKE_TOOLCHAIN_FILE=cmake/wasm.cmake -DEDGEQ_RT_ONLY=ON
# The runtime core with WASM SIMD128 (-msimd128: Highway's static HWY_WASM target, the only one compiled,
# so HWY_DYNAMIC_DISPATCH is a direct call), one thread (no -pthread: runs in any page, no cross-origin
# isolation needed), native wasm exception handling (-fwasm-exceptions: edgeq::Error crosses the core;
# Emscripten's JS-based exceptions would route every call that may throw through a JS trampoline).
# Programs are .js + .wasm pairs that Node runs (CMAKE_CROSSCOMPILING_EMULATOR below, `make test-wasm`).
#
# Not used, on purpose:
#  - relaxed SIMD (-mrelaxed-simd): clang 14 emits the relaxed-simd prototype's opcodes, which Node 20
#    (V8 11.3) rejects even with --experimental-wasm-relaxed-simd ("invalid simd opcode", checked with
#    f32x4.fma), and clang 14 has no i32x4.relaxed_dot_i8x16_i7x16_add builtin at all.
#  - Debian's emscripten expects Debian's nodejs (which searches /usr/share/nodejs for the acorn module
#    its JS optimizer needs); a nodejs from elsewhere (here NodeSource's 20) does not, hence NODE_PATH on
#    every link (the linker launcher below).
set(EMSCRIPTEN_SYSTEM_PROCESSOR wasm32)  # Emscripten.cmake's default is "x86", which our CMake would read as x86
find_program(EDGEQ_EMCC emcc)
if(NOT EDGEQ_EMCC)
  message(FATAL_ERROR "emcc not found: install Debian's emscripten (scripts/setup)")
endif()
get_filename_component(EDGEQ_EMCC_REAL ${EDGEQ_EMCC} REALPATH)  # /usr/share/emscripten/wrapper
get_filename_component(EDGEQ_EMSCRIPTEN_ROOT ${EDGEQ_EMCC_REAL} DIRECTORY)
include(${EDGEQ_EMSCRIPTEN_ROOT}/cmake/Modules/Platform/Emscripten.cmake)

# EDGEQ_WASM_THREADS: a pthread build (SharedArrayBuffer: pages must be cross-origin isolated), with a pool
# of workers started with the module, since a worker cannot start while the main thread waits for it.
option(EDGEQ_WASM_THREADS "wasm32 build with pthreads (Web Workers)" OFF)
set(EDGEQ_WASM_THREAD_FLAGS "")
if(EDGEQ_WASM_THREADS)
  set(EDGEQ_WASM_THREAD_FLAGS "-pthread")
endif()
set(CMAKE_C_FLAGS_INIT "-msimd128 -fwasm-exceptions ${EDGEQ_WASM_THREAD_FLAGS}")
set(CMAKE_CXX_FLAGS_INIT "-msimd128 -fwasm-exceptions ${EDGEQ_WASM_THREAD_FLAGS}")
# ALLOW_MEMORY_GROWTH: a model's size is not known at link time.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-fwasm-exceptions -sALLOW_MEMORY_GROWTH=1 ${EDGEQ_WASM_THREAD_FLAGS}")
# -Wno-pthreads-mem-growth: growth with threads slows JS's access to the heap (views re-checked), not the
# wasm kernels; a model's size is not known at link time, so growth stays.
if(EDGEQ_WASM_THREADS)
  string(APPEND CMAKE_EXE_LINKER_FLAGS_INIT " -sPTHREAD_POOL_SIZE=4 -Wno-pthreads-mem-growth")
endif()

set(EDGEQ_NODE_PATH /usr/share/nodejs CACHE PATH "node modules Debian's emscripten needs at link time (acorn)")
set(CMAKE_C_LINKER_LAUNCHER env NODE_PATH=${EDGEQ_NODE_PATH})
set(CMAKE_CXX_LINKER_LAUNCHER env NODE_PATH=${EDGEQ_NODE_PATH})

# How ctest runs the programs: Node, with the host's files visible to the program (NODERAWFS, set per
# program in cmake/EdgeqTest.cmake) and without Node's global fetch: Emscripten 3.1.6 instantiates the
# .wasm with fetch() whenever fetch exists, which Node >= 18 has and which cannot read a file path.
# Programs run by Node (tests, run_model, model_outputs) link these: NODERAWFS, the host's file system
# as is (the ONNX test data under /usr/share); EXIT_RUNTIME, so main's return value becomes the exit code
# (without it Emscripten keeps the runtime alive and Node exits 0). Not for the web module (web/edgeq).
set(EDGEQ_WASM_NODE_PROGRAM -sNODERAWFS=1 -sEXIT_RUNTIME=1)
find_program(EDGEQ_NODE node)
if(EDGEQ_NODE)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${EDGEQ_NODE} --no-experimental-fetch)
endif()
