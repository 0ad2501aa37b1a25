#!/usr/bin/env bash
# Fresh Debian/Ubuntu machine -> built vkgemma.
#   scripts/setup.sh run            install what is missing, build, run the main job on the built-in model
#   scripts/setup.sh test           install what is missing, build, run the whole test suite (validation on)
#                                   on both Vulkan implementations (Mesa lavapipe and SwiftShader), fail on
#                                   any skip tests/support/expected_skips.txt does not list, then the
#                                   cross-aarch64 stage
#   scripts/setup.sh cross-aarch64  cross-build for 64-bit Arm Linux into build-aarch64 and run the
#                                   tiny-model forward test and the CLI under qemu (arm64 lavapipe)
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-run}
sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"

# install_missing PKG...: apt-get install the packages that are not installed yet.
install_missing() {
  local missing=() p
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}

# 64-bit Arm (Raspberry Pi 5, phones): Debian's cross compiler and arm64 multiarch -dev packages
# (cmake/toolchains/aarch64-linux-gnu.cmake), shaders compiled by the host's tools. Then, under
# qemu-aarch64 user emulation with the arm64 lavapipe driver and the Khronos validation layer (arm64
# build) on as in the native suite: `vkgemma devices`, the tiny-model forward test (test_forward:
# golden logits of all three tiny models, F32 and F16 KV cache, batch == chunks == token by token)
# and `vkgemma run -n 8` on the built-in model (the cli_* ctest entries).
cross_aarch64() {
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    echo "enabling the arm64 architecture (multiarch)"
    $sudo dpkg --add-architecture arm64
  fi
  install_missing file g++-aarch64-linux-gnu qemu-user-static libvulkan-dev:arm64 libfmt-dev:arm64 liblzma-dev:arm64 \
    mesa-vulkan-drivers:arm64 vulkan-validationlayers:arm64
  cmake -S . -B build-aarch64 -G Ninja -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake \
    -DCMAKE_BUILD_TYPE=Release -DVKGEMMA_BUILD_PERF=OFF
  cmake --build build-aarch64 -j"$(nproc)" --target vkgemma vkgemma_capi test_forward
  file -L build-aarch64/tools/vkgemma build-aarch64/capi/libvkgemma.so
  if ! file -L build-aarch64/tools/vkgemma | grep -q "ARM aarch64"; then
    echo "build-aarch64/tools/vkgemma is not an aarch64 program" >&2
    exit 1
  fi
  # Only the arm64 lavapipe (the host's drivers cannot load into an arm64 process); lavapipe's
  # shader cache in the build dir, not ~/.cache.
  local icd=/usr/share/vulkan/icd.d/lvp_icd.aarch64.json
  export VK_ICD_FILENAMES=$icd VK_DRIVER_FILES=$icd
  export MESA_SHADER_CACHE_DIR="$PWD/build-aarch64/mesa-shader-cache"
  local emulator
  emulator=$(sed -n 's/^CMAKE_CROSSCOMPILING_EMULATOR:STRING=//p' build-aarch64/CMakeCache.txt | tr ';' ' ')
  # shellcheck disable=SC2086  # the emulator command line is a list
  VKGEMMA_CACHE_DIR="$PWD/build-aarch64/test-cache" $emulator build-aarch64/tools/vkgemma devices
  ctest --test-dir build-aarch64 --output-on-failure -j1 -R '^(test_forward|cli_devices|cli_run_builtin)$'
}

install_missing build-essential cmake ninja-build pkg-config libvulkan-dev libvulkan-volk-dev glslang-tools \
  spirv-tools doctest-dev libfmt-dev libcli11-dev nlohmann-json3-dev liblzma-dev xz-utils \
  mesa-vulkan-drivers vulkan-validationlayers chromium-common libspirv-cross-c-shared-dev libedit-dev tmux
# tests/chat.cmake renders Google's chat templates with Debian's jinja2 (/usr/bin/python3).
install_missing python3 python3-jinja2
# `vkgemma serve` (tools/server): Debian's cpp-httplib; its tests drive it with python3's stdlib and
# with the official `openai` npm package under Node (tests/server.cmake).
install_missing libcpp-httplib-dev nodejs
# Image and audio input (host/media): stb_image, libsndfile, libsamplerate, kissfft.
install_missing libstb-dev libsndfile1-dev libsamplerate0-dev libkissfft-dev

if [ "$mode" = cross-aarch64 ]; then
  cross_aarch64
  exit 0
fi

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$(nproc)"

case "$mode" in
  run)  ./build/tools/vkgemma run -p "Why is the sky blue?" -n 32 ;;
  test)
    # The official OpenAI client for server_openai_node, into a test-only folder (never installed
    # system-wide). Without network this fails here, and that test fails rather than skips.
    command -v npm >/dev/null || install_missing npm
    [ -d build/npm/node_modules/openai ] || npm install --prefix build/npm --no-audit --no-fund openai@4
    # Every device test runs on lavapipe (plain names) and SwiftShader (name@swiftshader; Debian ships
    # it in chromium-common), each pinned by VK_ICD_FILENAMES (tests/CMakeLists.txt).
    for drv in lavapipe swiftshader; do
      n=$(ctest --test-dir build -N -L "^driver-$drv\$" | sed -n 's/^Total Tests: //p')
      if [ "${n:-0}" -eq 0 ]; then echo "no device tests registered for $drv (driver not found at configure)" >&2; exit 1; fi
      echo "$n device tests on $drv"
    done
    rc=0
    ctest --test-dir build --output-on-failure -j1 2>&1 | tee build/ctest-output.txt || rc=$?
    sh tests/support/check_skips.sh build build/ctest-output.txt tests/support/expected_skips.txt || rc=1
    [ "$rc" -eq 0 ] || exit "$rc"
    # Sanitizer configuration: the file parsers (mutation test), the tokenizer and the C API
    # (misuse, threads, no leaks) under AddressSanitizer + UBSan + LeakSanitizer.
    cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVKGEMMA_SANITIZE=ON -DVKGEMMA_BUILD_PERF=OFF
    cmake --build build-asan -j"$(nproc)" --target test_gguf test_gguf_mutation test_tokenizer test_gemma4_config test_capi
    ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions="$PWD/tests/lsan.supp" \
      ctest --test-dir build-asan --output-on-failure -j1 -R '^(test_gguf|test_gguf_mutation|test_tokenizer|test_gemma4_config)$'
    # The C API test loads the Vulkan driver, which leaves allocations behind after the loader
    # unloads it (frames of an unloaded module cannot be suppressed by name): leak checking off,
    # address and UB checks on. Our own handles are checked by the test itself.
    ASAN_OPTIONS=detect_leaks=0 ctest --test-dir build-asan --output-on-failure -j1 -R '^test_capi$'
    # The server's request validation and response building (no device; leaks checked).
    cmake --build build-asan -j"$(nproc)" --target test_server_api
    ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions="$PWD/tests/lsan.supp" \
      ctest --test-dir build-asan --output-on-failure -j1 -R '^test_server_api$'
    cross_aarch64
    ;;
  *) echo "usage: $0 run|test|cross-aarch64" >&2; exit 2 ;;
esac
