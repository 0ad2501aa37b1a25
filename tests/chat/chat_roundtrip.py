#!/usr/bin/python3
"""cli_chat_tool_roundtrip: `vkgemma chat` driven by scripted stdin on the built-in model.

    chat_roundtrip.py VKGEMMA TEMPLATE_DIR SCRATCH_DIR

Checks:
  * the replies of the (random-weight) built-in model never show Gemma markup on stdout, /reset
    clears the history, the run ends cleanly without validation messages;
  * the built-in model (per-layer embeddings) gets the E2B template: its generation prompt ends at
    "<|turn>model\\n" with no empty thought channel;
  * a tool call round trip: after the model's (random) answer to a question, a model turn with
    reasoning and a tool call (scripted with /assistant, in Gemma markup, continuing the model's
    turn), the tool's answer (/tool), then the model continues. The prompt chat renders
    after /tool equals jinja2's rendering of the same conversation written by hand in the OpenAI
    format (the reasoning of the tool-call turn kept, as the template wants), and every prompt
    chat logged equals jinja2's rendering of the history it logged with it.
Exit 77 when the templates (../shared/reference) are absent.
"""
import json
import os
import subprocess
import sys

MARKERS = ["<|channel>", "<channel|>", "<|tool_call>", "<tool_call|>", "<|tool_response>", "<tool_response|>",
           '<|"|>', "<|tool>", "<tool|>", "<|turn>", "<turn|>", "<|think|>"]
TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Get the current weather for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "City name"},
                                                    "days": {"type": "integer"}}, "required": ["city"]}}}]
SYSTEM = "You check the weather."
SCRIPT = "\n".join([
    "What's the weather in Paris?",
    "/reset",
    "Weather in Paris?",
    '/assistant <|channel>thought\\nI need the weather tool.<channel|><|tool_call>call:get_weather{city:<|"|>Paris<|"|>,days:2}<tool_call|><|tool_response>',
    '/tool {"temp": 18, "sky": "clear"}',
    "Thanks!",
    "/exit",
]) + "\n"


def expected_after_tool(first_reply):
    """The conversation after /tool, written by hand (OpenAI format). first_reply: the answer the
    model generated for "Weather in Paris?" (random weights); /assistant continues that turn."""
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": first_reply},
        {"role": "assistant", "content": "", "reasoning": "I need the weather tool.",
         "tool_calls": [{"id": "t1", "type": "function",
                         "function": {"name": "get_weather", "arguments": {"city": "Paris", "days": 2}}}]},
        {"role": "tool", "tool_call_id": "t1", "content": '{"temp": 18, "sky": "clear"}'},
    ]


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def main():
    vkgemma, tdir, scratch = sys.argv[1:4]
    paths = {"small": os.path.join(tdir, "gemma-4-E2B-chat-template.jinja"),
             "large": os.path.join(tdir, "gemma-4-31B-chat-template.jinja")}
    for p in paths.values():
        if not os.path.isfile(p):
            print(f"SKIPPED: {p} is absent (../shared/reference)")
            return 77
    from jinja2.sandbox import ImmutableSandboxedEnvironment
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    tmpl = {k: env.from_string(open(p, encoding="utf-8").read()) for k, p in paths.items()}

    def render(kind, messages, tools, think, gen=True):
        return tmpl[kind].render(messages=messages, tools=tools, add_generation_prompt=gen,
                                 enable_thinking=think, bos_token="<bos>")

    os.makedirs(scratch, exist_ok=True)
    tools_path = os.path.join(scratch, "tools.json")
    log_path = os.path.join(scratch, "prompts.jsonl")
    with open(tools_path, "w") as f:
        json.dump(TOOLS, f)
    cmd = [vkgemma, "chat", "-n", "12", "--greedy", "--system", SYSTEM, "--tools", tools_path,
           "--prompt-log", log_path, "--show-reasoning"]
    p = subprocess.run(cmd, input=SCRIPT, capture_output=True, text=True, timeout=800)
    print("stdout:\n" + p.stdout)
    print("stderr:\n" + p.stderr)
    if p.returncode != 0:
        fail(f"vkgemma chat exited with {p.returncode}")
    if "validation]" in p.stderr or "vkgemma: error" in p.stderr:
        fail("validation message or error on stderr")
    for m in MARKERS:
        if m in p.stdout:
            fail(f"raw markup {m!r} on stdout")
    if "(history cleared)" not in p.stdout:
        fail("/reset did not answer '(history cleared)'")
    if p.stderr.count("[stop: ") != 4:
        fail("expected one [stop: ...] line per generated turn (4)")

    logs = [json.loads(line) for line in open(log_path, encoding="utf-8")]
    if len(logs) != 4:
        fail(f"expected 4 prompts (first question, after /reset, after /tool, after 'Thanks!'), got {len(logs)}")
    for i, e in enumerate(logs):
        if e["template"] != "small":
            fail("the built-in model has per-layer embeddings: it must get the E2B template")
        want = render(e["template"], e["messages"], e["tools"], e["enable_thinking"])
        if e["prompt"] != want:
            fail(f"prompt {i} differs from jinja2's rendering of its history:\n{e['prompt']!r}\n{want!r}")
    if not logs[0]["prompt"].endswith("<turn|>\n<|turn>model\n"):
        fail("the E2B generation prompt must end at '<|turn>model\\n' (no empty thought channel)")
    if logs[0]["messages"] != [{"role": "system", "content": SYSTEM},
                               {"role": "user", "content": "What's the weather in Paris?"}]:
        fail(f"first history: {logs[0]['messages']}")
    if logs[1]["messages"] != [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "Weather in Paris?"}]:
        fail(f"history after /reset: {logs[1]['messages']}")
    first_reply = logs[2]["messages"][2]["content"]
    want = render("small", expected_after_tool(first_reply), TOOLS, False)
    if logs[2]["prompt"] != want:
        fail(f"prompt after /tool:\n{logs[2]['prompt']!r}\njinja2 of the hand-written conversation:\n{want!r}")
    if not want.endswith('<|tool_response>response:get_weather{value:<|"|>{"temp": 18, "sky": "clear"}<|"|>}<tool_response|>'):
        fail("the hand-written conversation should end with the tool response (the model continues its turn)")
    # After 'Thanks!': the model's continuation is one more assistant message, the reasoning of the
    # tool-call turn is now before the last user message (the template drops it).
    hist = logs[3]["messages"]
    if [m["role"] for m in hist] != ["system", "user", "assistant", "assistant", "tool", "assistant", "user"]:
        fail(f"history roles after 'Thanks!': {[m['role'] for m in hist]}")
    if "I need the weather tool." in logs[3]["prompt"]:
        fail("reasoning before the last user message must not be in the prompt")
    for m in hist:
        for v in (m.get("content") or "", m.get("reasoning") or ""):
            for mk in MARKERS:
                if mk in v:
                    fail(f"markup {mk!r} in the history: {m}")
    print("ok: 4 prompts equal jinja2's renderings; no markup on stdout or in the history")
    return 0


if __name__ == "__main__":
    sys.exit(main())
