#!/bin/sh
# expect_exit.sh CODE PATTERN CMD...: run CMD, require exit status CODE (not a signal), exactly one
# line on stderr, containing PATTERN.
want=$1; pattern=$2; shift 2
err=$(mktemp)
"$@" >/dev/null 2>"$err"
got=$?
lines=$(wc -l <"$err")
cat "$err"
if [ "$got" -ne "$want" ]; then echo "FAIL: exit status $got, expected $want"; exit 1; fi
if [ "$lines" -ne 1 ]; then echo "FAIL: $lines stderr lines, expected 1"; exit 1; fi
grep -q "$pattern" "$err" || { echo "FAIL: stderr lacks '$pattern'"; exit 1; }
echo "ok"
