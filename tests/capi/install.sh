#!/bin/sh
# install.sh BUILD SRC WORK CC CMAKE GENERATOR CLI SIMPLE MODEL
# Install libvkgemma into a fresh prefix, build examples/simple.c against it with pkg-config and
# with a find_package CMake project, run both (and the in-tree build) on MODEL, and require the
# text each prints to equal `vkgemma run --raw` for the same prompt, n_predict and seed.
# Exit 77 (skipped) when MODEL is absent.
set -eu
build=$1 src=$2 work=$3${VKGEMMA_TEST_DRIVER:+@$VKGEMMA_TEST_DRIVER} cc=$4 cmake=$5 generator=$6 cli=$7 simple=$8 model=$9
[ -f "$model" ] || { echo "SKIPPED: $model is absent (../shared/golden)"; exit 77; }
rm -rf "$work"
mkdir -p "$work"
prefix=$work/prefix

"$cmake" --install "$build" --prefix "$prefix" >"$work/install.log"
for f in include/vkgemma.h; do [ -f "$prefix/$f" ] || { echo "FAIL: $f not installed"; exit 1; }; done
pc=$(find "$prefix" -name vkgemma.pc | head -n 1)
cfg=$(find "$prefix" -name vkgemmaConfig.cmake | head -n 1)
lib=$(find "$prefix" -name 'libvkgemma.so' | head -n 1)
[ -n "$pc" ] && [ -n "$cfg" ] && [ -n "$lib" ] || { echo "FAIL: missing pc/config/library:"; find "$prefix"; exit 1; }
libdir=$(dirname "$lib")
echo "installed: $(cd "$prefix" && find . -type f -o -type l | sort | tr '\n' ' ')"

# 1. pkg-config
export PKG_CONFIG_PATH=$(dirname "$pc")
version=$(pkg-config --modversion vkgemma)
# shellcheck disable=SC2046
"$cc" -std=c99 -Wall -Wextra -pedantic -Werror -o "$work/simple_pc" "$src/examples/simple.c" \
  $(pkg-config --cflags vkgemma) $(pkg-config --libs vkgemma) -Wl,-rpath,"$libdir"
echo "pkg-config build ok (vkgemma $version)"

# 2. find_package
"$cmake" -S "$src/tests/capi/find_package" -B "$work/consumer" -G "$generator" -DCMAKE_PREFIX_PATH="$prefix" \
  -DVKGEMMA_EXAMPLE="$src/examples/simple.c" -DVKGEMMA_VERSION="$version" >"$work/consumer.log" 2>&1 ||
  { cat "$work/consumer.log"; echo "FAIL: find_package configure"; exit 1; }
"$cmake" --build "$work/consumer" >>"$work/consumer.log" 2>&1 || { cat "$work/consumer.log"; echo "FAIL: build"; exit 1; }
echo "find_package build ok"

# 3. same text as the CLI
prompt="The quick brown fox"
n=24
fail=0
for seed in 5 42; do
  "$cli" run --raw -q -m "$model" -p "$prompt" -n $n --seed $seed >"$work/cli_$seed.txt"
  for exe in "$work/simple_pc" "$work/consumer/simple" "$simple"; do
    name=$(echo "$exe" | tr / _)
    "$exe" "$model" "$prompt" $n $seed >"$work/out$name$seed.txt" 2>"$work/err$name$seed.txt" ||
      { cat "$work/err$name$seed.txt"; echo "FAIL: $exe exited $?"; exit 1; }
    if grep -q "vulkan validation" "$work/err$name$seed.txt"; then
      cat "$work/err$name$seed.txt"; echo "FAIL: validation messages from $exe"; fail=1
    fi
    if ! cmp -s "$work/cli_$seed.txt" "$work/out$name$seed.txt"; then
      echo "FAIL: $exe (seed $seed) differs from vkgemma run --raw:"
      echo "--- cli:"; cat "$work/cli_$seed.txt"; echo "--- $exe:"; cat "$work/out$name$seed.txt"
      fail=1
    fi
  done
  echo "seed $seed: $(wc -c <"$work/cli_$seed.txt") bytes, identical from CLI, pkg-config, find_package and in-tree builds"
done
# The installed library must be the one the consumers load.
if command -v ldd >/dev/null; then
  ldd "$work/simple_pc" | grep -q "$libdir/libvkgemma.so" || { ldd "$work/simple_pc"; echo "FAIL: not the installed lib"; fail=1; }
fi
[ $fail -eq 0 ] && echo ok
exit $fail
