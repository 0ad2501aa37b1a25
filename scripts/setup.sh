#!/usr/bin/env bash
# Fresh Debian/Ubuntu machine -> built vkgemma.
#   scripts/setup.sh run    install what is missing, build, run the main job on the built-in model
#   scripts/setup.sh test   install what is missing, build, run the whole test suite (validation on)
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-run}

pkgs=(build-essential cmake ninja-build pkg-config libvulkan-dev libvulkan-volk-dev glslang-tools glslang-dev
      spirv-tools doctest-dev libfmt-dev libcli11-dev nlohmann-json3-dev libbenchmark-dev liblzma-dev xz-utils
      mesa-vulkan-drivers vulkan-validationlayers)
missing=()
for p in "${pkgs[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "installing: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$(nproc)"

case "$mode" in
  run)  ./build/tools/vkgemma run -p "Why is the sky blue?" -n 32 ;;
  test)
    ctest --test-dir build --output-on-failure -j1
    # Sanitizer configuration: the file parsers (mutation test), the tokenizer and the C API
    # (misuse, threads, no leaks) under AddressSanitizer + UBSan + LeakSanitizer.
    cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVKGEMMA_SANITIZE=ON -DVKGEMMA_BUILD_PERF=OFF
    cmake --build build-asan -j"$(nproc)" --target test_gguf test_gguf_mutation test_tokenizer test_capi
    ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions="$PWD/tests/lsan.supp" \
      ctest --test-dir build-asan --output-on-failure -j1 -R '^(test_gguf|test_gguf_mutation|test_tokenizer)$'
    # The C API test loads the Vulkan driver, which leaves allocations behind after the loader
    # unloads it (frames of an unloaded module cannot be suppressed by name): leak checking off,
    # address and UB checks on. Our own handles are checked by the test itself.
    ASAN_OPTIONS=detect_leaks=0 ctest --test-dir build-asan --output-on-failure -j1 -R '^test_capi$'
    ;;
  *) echo "usage: $0 run|test" >&2; exit 2 ;;
esac
