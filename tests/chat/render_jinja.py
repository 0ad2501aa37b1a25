#!/usr/bin/python3
"""Render the conversations of tests/data/chat_conversations.json with Google's Gemma 4 chat
templates through jinja2, as Hugging Face transformers does (ImmutableSandboxedEnvironment,
trim_blocks, lstrip_blocks, bos_token "<bos>"), for tests/chat_jinja.cpp to compare with.

    render_jinja.py TEMPLATE_DIR CONVERSATIONS.json OUT.json

Writes a JSON array of {"name", "template" ("small" | "large"), "add_generation_prompt",
"enable_thinking", "output"} (output null and "error" set when jinja2 fails on a case).
Exit 77 when a template file is absent (../shared missing), 3 when jinja2 cannot be imported.
Run it with Debian's /usr/bin/python3 (python3-jinja2).
"""
import json
import os
import sys

TEMPLATES = {"small": "gemma-4-E2B-chat-template.jinja", "large": "gemma-4-31B-chat-template.jinja"}
OPTIONS = [(g, t) for g in (True, False) for t in (False, True)]


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    tdir, conv_path, out_path = sys.argv[1:]
    paths = {k: os.path.join(tdir, f) for k, f in TEMPLATES.items()}
    for p in paths.values():
        if not os.path.isfile(p):
            print(f"SKIPPED: {p} is absent (../shared/reference)")
            return 77
    try:
        from jinja2.sandbox import ImmutableSandboxedEnvironment
    except ImportError as e:
        print(f"error: jinja2 is missing ({e}): install python3-jinja2 (scripts/setup.sh)", file=sys.stderr)
        return 3
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    templates = {k: env.from_string(open(p, encoding="utf-8").read()) for k, p in paths.items()}
    data = json.load(open(conv_path, encoding="utf-8"))
    out = []
    for conv in data["conversations"]:
        tools = conv.get("tools")
        if isinstance(tools, str):
            tools = data["tool_sets"][tools]
        options = [tuple(o) for o in conv.get("options", OPTIONS)]
        for kind, tmpl in templates.items():
            for gen, think in options:
                case = {"name": conv["name"], "template": kind, "add_generation_prompt": gen,
                        "enable_thinking": think, "output": None}
                try:
                    case["output"] = tmpl.render(messages=conv["messages"], tools=tools,
                                                 add_generation_prompt=gen, enable_thinking=think,
                                                 bos_token="<bos>")
                except Exception as e:  # reported by the comparing test
                    case["error"] = f"{type(e).__name__}: {e}"
                out.append(case)
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
