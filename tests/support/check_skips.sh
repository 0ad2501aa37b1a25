#!/bin/sh
# check_skips.sh BUILD_DIR CTEST_OUTPUT ALLOWLIST: fail when ctest reported a test skipped (or not
# run) for a reason the allowlist does not expect. Each skip is described as
#   "<ctest name>: <test case>: <reason>"   (the test's "SKIPPED: ..." lines, from LastTest.log)
#   "<ctest name>"                          (a skip that printed no reason)
# and must match (grep -E, whole line) one ALLOWLIST pattern: one extended regular expression per
# line, "#" starts a comment.
build=$1; out=$2; allow=$3
[ -f "$out" ] || { echo "check_skips: no ctest output at $out"; exit 1; }
skipped=$(sed -n 's/^ *[0-9]*\/[0-9]* Test *#[0-9]*: \([^ ]*\) .*\*\*\*\(Skipped\|Not Run\).*/\1/p' "$out")
[ -n "$skipped" ] || { echo "check_skips: no test skipped"; exit 0; }
patterns=$(mktemp)
sed -e 's/[[:space:]]*#.*//' -e '/^$/d' "$allow" >"$patterns"
reasons=$(mktemp)
# "<test>: <case>: <reason>" for every SKIPPED line, attributed to the test being run.
cat "$build"/Testing/Temporary/LastTest*.log 2>/dev/null | awk '
  /^[0-9]+\/[0-9]+ Testing: / { sub(/^[0-9]+\/[0-9]+ Testing: /, ""); t = $0; next }
  /^ *SKIPPED: / { sub(/^ *SKIPPED: /, ""); print t ": " $0 }' | sort -u >"$reasons"
fail=0
for t in $skipped; do
  lines=$(grep -F "$t: " "$reasons" | awk -v t="$t" 'index($0, t ": ") == 1')
  [ -n "$lines" ] || lines=$t
  echo "$lines" | while IFS= read -r l; do
    if echo "$l" | grep -Exq -f "$patterns"; then echo "expected skip: $l"; else echo "UNEXPECTED SKIP: $l"; fi
  done
  if echo "$lines" | grep -Exvq -f "$patterns"; then fail=1; fi
done
rm -f "$patterns" "$reasons"
[ $fail -eq 0 ] || echo "check_skips: tests were skipped that this machine should run (allowlist: $allow)"
exit $fail
