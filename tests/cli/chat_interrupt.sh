#!/usr/bin/env bash
# chat on a terminal (tmux), as a person uses it: Ctrl-C during a reply stops the reply and returns
# to the prompt with the conversation intact (the next turn's rendered prompt holds the first user
# message and the interrupted partial reply), Ctrl-C at the prompt leaves with exit status 0.
# Usage: chat_interrupt.sh VKGEMMA_CLI
# The built-in random model with --ignore-eos and a long context keeps each reply running until
# it is interrupted. A private tmux server (-L) is used and always killed.
set -u
cli=$1
command -v tmux >/dev/null || { echo "FAIL: tmux not installed (scripts/setup.sh installs it)"; exit 1; }
dir=$(mktemp -d)
sock=vkgchat$$
trap 'tmux -L $sock kill-server 2>/dev/null; rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; echo "--- screen"; tmux -L $sock capture-pane -p -t t 2>/dev/null | sed '/^$/d' | tail -20
         echo "--- stderr"; tail -20 "$dir/err"; exit 1; }
# wait_for FILE|screen REGEX SECONDS
wait_for() {
  local what=$1 re=$2 n=$(( $3 * 10 ))
  for _ in $(seq "$n"); do
    [ "$what" != "$dir/done" ] && [ -e "$dir/done" ] && return 1  # the program ended
    if [ "$what" = screen ]; then tmux -L $sock capture-pane -p -t t | grep -Eq "$re" && return 0
    else grep -Eq "$re" "$what" 2>/dev/null && return 0; fi
    sleep 0.1
  done
  return 1
}
# (capture-pane drops trailing blanks: an empty prompt reads ">".)
# The CLI's environment (driver, validation, cache dir) is this script's: the tmux server inherits it.
tmux -L $sock -f /dev/null new-session -d -s t -x 160 -y 40 \
  "'$cli' chat --ignore-eos -n -1 -c 4096 --seed 7 --temp 1 --prompt-log '$dir/log' 2>'$dir/err'; echo \"EXIT=\$?\" >'$dir/done'; sleep 60"
wait_for screen '^>( |$)' 180 || fail "no prompt within 180 s"

tmux -L $sock send-keys -t t "hello there" Enter
wait_for "$dir/log" 'hello there' 30 || fail "the first turn was not rendered"
sleep 1.5  # let the reply stream for a while
grep -q '\[stop:' "$dir/err" && fail "the first reply ended by itself before Ctrl-C (--ignore-eos, -c 4096)"
tmux -L $sock send-keys -t t C-c
wait_for "$dir/err" '\[stop: interrupted' 20 || fail "Ctrl-C did not stop the reply"
wait_for screen '^>$' 10 || fail "no new prompt after the interrupted reply"
[ -e "$dir/done" ] && fail "the program ended on Ctrl-C during a reply"

tmux -L $sock send-keys -t t "second message" Enter
wait_for "$dir/log" 'second message' 30 || fail "the second turn was not rendered"
sleep 0.5
tmux -L $sock send-keys -t t C-c
wait_for "$dir/err" '(\[stop: interrupted.*){2}' 20 || grep -c '\[stop: interrupted' "$dir/err" | grep -qx 2 || fail "Ctrl-C did not stop the second reply"
wait_for screen '^>$' 10 || fail "no prompt after the second reply"
tmux -L $sock send-keys -t t C-c
wait_for "$dir/done" 'EXIT=' 20 || fail "Ctrl-C at the prompt did not end the program"
grep -qx 'EXIT=0' "$dir/done" || fail "exit status $(cat "$dir/done"), expected 0"
grep -Eq 'vulkan validation|OVERRUN|error' "$dir/err" && fail "validation message or error on stderr"

# The second turn's rendered conversation: user, the interrupted assistant reply (not empty), user.
python3 - "$dir/log" <<'PY' || fail "history check"
import json, sys
turns = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
assert len(turns) == 2, f"{len(turns)} rendered turns, expected 2"
m = turns[1]["messages"]
roles = [x["role"] for x in m]
assert roles == ["user", "assistant", "user"], roles
assert m[0]["content"] == "hello there" and m[2]["content"] == "second message", m
# (The random model's text may be all markup, which chat hides: its content can be empty; the
# turn itself must be there, and the speed line says how many tokens it had.)
print(f"ok: history kept the interrupted reply: {json.dumps(m[1])[:200]}")
PY
grep -E '\[stop: interrupted' "$dir/err"
grep -Eq '\[stop: interrupted \| prompt [0-9]+ tok, [0-9.]+ tok/s \| reply [1-9][0-9]* tok' "$dir/err" || fail "no speed line with the interrupted reply's tokens"
echo "ok"
