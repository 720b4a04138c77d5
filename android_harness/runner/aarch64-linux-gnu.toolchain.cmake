# CMake toolchain file: cross-compile for 64-bit ARM Linux (glibc) with
# Debian's aarch64-linux-gnu-g++ (apt package g++-aarch64-linux-gnu, which
# pulls the arm64 libc/libstdc++ it links against into /usr/aarch64-linux-gnu).
#   cmake -DCMAKE_TOOLCHAIN_FILE=<this file> -DEXECUTORCH_ROOT=<aarch64 wheel>/executorch ...
# Optional: -DODT_AARCH64_SYSROOT=<dir> to run try-compiled / built binaries
# through qemu-aarch64-static (CMAKE_CROSSCOMPILING_EMULATOR).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(_odt_triple aarch64-linux-gnu)
set(CMAKE_C_COMPILER ${_odt_triple}-gcc)
set(CMAKE_CXX_COMPILER ${_odt_triple}-g++)

# Headers/libraries of the target come from the cross toolchain's tree;
# programs (cmake helpers) from the host.
set(CMAKE_FIND_ROOT_PATH /usr/${_odt_triple})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Kryo 280 (Snapdragon 835) is ARMv8.0-A + crc + crypto; cortex-a53 tuning is
# safe on every 64-bit ARM phone.
set(CMAKE_CXX_FLAGS_INIT "-march=armv8-a+crc -mtune=cortex-a53")

if(ODT_AARCH64_SYSROOT)
  set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64-static -L ${ODT_AARCH64_SYSROOT})
endif()
