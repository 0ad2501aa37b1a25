#!/usr/bin/env bash
# libvkgemma.so carries the engine, not the developer tools: no liblzma among its needed
# libraries and none of the devtools' code (GGUF writer, synthetic models, HF tokenizer import,
# vocabulary writer) among its symbols. Needs an unstripped library (the build's, not an
# installed stripped one): a library with no symbol table fails the check rather than passing it.
# Usage: check_libvkgemma.sh LIBVKGEMMA
set -euo pipefail
lib=$1
needed=$(readelf -d "$lib" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
echo "NEEDED: $(echo $needed)"
if echo "$needed" | grep -q lzma; then echo "FAIL: $lib links liblzma" >&2; exit 1; fi
syms=$(nm -C "$lib" 2>/dev/null || true)
n=$(grep -c . <<<"$syms" || true)
if [ "$n" -lt 100 ]; then echo "FAIL: $lib has no symbol table to check ($n symbols)" >&2; exit 1; fi
# Positive control: the engine is in there.
if ! grep -qF 'vkg::read_vocab(vkg::GgufFile const&)' <<<"$syms"; then
  echo "FAIL: vkg::read_vocab not found in $lib (symbol names changed? update the check)" >&2; exit 1
fi
bad=$(grep -E 'vkg::GgufWriter|vkg::write_vocab|vkg::synth_|vkg::SynthError|vkg::load_hf_tokenizer|lzma_' <<<"$syms" || true)
if [ -n "$bad" ]; then echo "FAIL: devtools code in $lib:" >&2; printf '%s\n' "$bad" | head -20 >&2; exit 1; fi
echo "ok: $n symbols, no devtools code, no liblzma"
