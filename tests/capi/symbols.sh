#!/bin/sh
# symbols.sh LIB SONAME: libvkgemma exports only vkgemma_* symbols, and carries its SONAME.
lib=$1; soname=$2
syms=$(nm -D --defined-only "$lib" | awk '{print $NF}')
[ -n "$syms" ] || { echo "FAIL: no dynamic symbols in $lib"; exit 1; }
bad=$(echo "$syms" | grep -v '^vkgemma_')
if [ -n "$bad" ]; then
  echo "FAIL: symbols outside the C API exported from $lib:"; echo "$bad" | head -50; exit 1
fi
echo "$syms" | grep -qx vkgemma_generate || { echo "FAIL: vkgemma_generate not exported"; exit 1; }
echo "$(echo "$syms" | wc -l) symbols, all vkgemma_*"
readelf -d "$lib" | grep -q "SONAME.*\[$soname\]" || { echo "FAIL: SONAME is not $soname"; readelf -d "$lib" | grep SONAME; exit 1; }
echo "SONAME $soname"
echo ok
