# Cross build for 64-bit Arm Linux with Debian's g++-aarch64-linux-gnu (scripts/setup installs it):
#   cmake -S . -B build-arm64 -G Ninja -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake -DEDGEQ_RT_ONLY=ON
# Baseline -march=armv8-a (every 64-bit Arm core: Cortex-A53 up); Highway's NEON target and the int8
# dot-product (Armv8.2 DotProd) and i8mm paths are chosen at run time (getauxval). Programs link
# statically, so qemu-aarch64-static runs them without an aarch64 sysroot (`make test-arm64`).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_AR aarch64-linux-gnu-ar CACHE FILEPATH "")
set(CMAKE_RANLIB aarch64-linux-gnu-ranlib CACHE FILEPATH "")

set(CMAKE_C_FLAGS_INIT "-march=armv8-a")
set(CMAKE_CXX_FLAGS_INIT "-march=armv8-a")
# Static executables: qemu-aarch64-static then needs no aarch64 sysroot.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")

# Libraries and headers of the target only from the cross toolchain's tree; programs from the host.
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# How ctest (and gtest discovery) runs target programs: qemu user mode, default CPU "max" (every
# feature qemu emulates: dot product, i8mm). `make test-arm64` also registers runs on -cpu cortex-a53.
find_program(EDGEQ_QEMU_AARCH64 qemu-aarch64-static)
if(EDGEQ_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${EDGEQ_QEMU_AARCH64} -cpu max)
endif()
