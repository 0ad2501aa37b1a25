# Cross-build for 64-bit Arm Linux (Raspberry Pi 5, phones) on a Debian/Ubuntu x86_64 machine with
# Debian's cross toolchain (g++-aarch64-linux-gnu) and arm64 multiarch -dev packages
# (dpkg --add-architecture arm64; apt-get install libvulkan-dev:arm64 libfmt-dev:arm64 ...).
# scripts/setup.sh cross-aarch64 installs all of it, builds build-aarch64 and tests it under qemu.
#
#   cmake -S . -B build-aarch64 -G Ninja -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake
#
# No sysroot: with multiarch the arm64 libraries live in /usr/lib/aarch64-linux-gnu (and their CMake
# packages in /usr/lib/aarch64-linux-gnu/cmake), the headers are shared in /usr/include, and the
# cross compiler searches both by itself. CMAKE_LIBRARY_ARCHITECTURE keeps find_* on the arm64
# directory, never /usr/lib/x86_64-linux-gnu. Build-time tools (glslangValidator, spirv-opt,
# spirv-val, cmake) stay the host's x86_64 programs.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(VKG_CROSS_TRIPLE aarch64-linux-gnu)

set(CMAKE_C_COMPILER ${VKG_CROSS_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${VKG_CROSS_TRIPLE}-g++)
set(CMAKE_LIBRARY_ARCHITECTURE ${VKG_CROSS_TRIPLE})

# Libraries, headers and CMake packages: the cross toolchain's own tree, then the multiarch paths
# of the host root (lib/aarch64-linux-gnu through CMAKE_LIBRARY_ARCHITECTURE). Programs: the host's.
set(CMAKE_FIND_ROOT_PATH /usr/${VKG_CROSS_TRIPLE} /)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config (for whoever uses it): only arm64 .pc files and architecture-independent ones.
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/${VKG_CROSS_TRIPLE}/pkgconfig:/usr/share/pkgconfig)

# ctest (and anything that runs a freshly built program) goes through qemu user emulation.
# With arm64 multiarch (libc6:arm64, which every arm64 library package depends on) the programs
# run with the multiarch dynamic linker and libraries as they would on the device; the host's
# ld.so.cache sends the loader to the multiarch libc either way, so `-L /usr/aarch64-linux-gnu`
# (the cross toolchain's libc) only in its absence, where its ld.so and libc then match.
# -cpu cortex-a76: the Raspberry Pi 5's core (qemu's default "max" has features it lacks).
# Override with -DCMAKE_CROSSCOMPILING_EMULATOR=... (or "" on an arm64 machine).
if(NOT DEFINED CMAKE_CROSSCOMPILING_EMULATOR)
  foreach(qemu /usr/bin/qemu-aarch64-static /usr/bin/qemu-aarch64)
    if(EXISTS ${qemu})
      if(EXISTS /lib/ld-linux-aarch64.so.1)
        set(CMAKE_CROSSCOMPILING_EMULATOR ${qemu} -cpu cortex-a76 CACHE STRING "runs aarch64 programs here")
      else()
        set(CMAKE_CROSSCOMPILING_EMULATOR ${qemu} -cpu cortex-a76 -L /usr/${VKG_CROSS_TRIPLE}
          CACHE STRING "runs aarch64 programs here")
      endif()
      break()
    endif()
  endforeach()
endif()
