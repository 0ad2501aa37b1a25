#!/usr/bin/python3
"""`vkgemma serve` on the built-in (random-weight) model, driven over HTTP with python3's stdlib.

    server_test.py basic VKGEMMA
    server_test.py load VKGEMMA
    server_test.py node VKGEMMA NODE SCRIPT NPM_PREFIX

The model is random, so texts are compared between runs (same seed -> same text), never against
fixed strings. Every server started here is killed at the end, whatever happens; loops and waits
are bounded.
"""
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time

KEY = "test-key-123"
HOST = "127.0.0.1"


class Server:
    """A `vkgemma serve --port 0` child; the port is read from its first stdout line."""

    def __init__(self, vkgemma, *args):
        cmd = [vkgemma, "serve", "--port", "0", "-q", "--api-key", KEY, *args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.err_lines = []
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        line = self._readline(60)
        if not line.startswith("vkgemma: listening on http://"):
            self.kill()
            raise SystemExit(f"unexpected first line: {line!r}; stderr: {''.join(self.err_lines)}")
        self.port = int(line.strip().rsplit(":", 1)[1])
        deadline = time.time() + 240
        while True:
            try:
                st, _, _ = self.request("GET", "/health", auth=False)
                if st == 200:
                    break
                check(st == 503, f"/health while loading: {st}")
            except OSError:
                pass
            if self.proc.poll() is not None or time.time() > deadline:
                self.kill()
                raise SystemExit(f"server did not become healthy; stderr: {''.join(self.err_lines)}")
            time.sleep(0.2)

    def _readline(self, timeout):
        out = []
        t = threading.Thread(target=lambda: out.append(self.proc.stdout.readline()), daemon=True)
        t.start()
        t.join(timeout)
        return out[0] if out else ""

    def _drain_stderr(self):
        for line in self.proc.stderr:
            self.err_lines.append(line)

    def conn(self, timeout=120):
        return http.client.HTTPConnection(HOST, self.port, timeout=timeout)

    def request(self, method, path, body=None, auth=True, headers=None, timeout=120, raw=None):
        h = {"Content-Type": "application/json"}
        if auth:
            h["Authorization"] = "Bearer " + KEY
        h.update(headers or {})
        c = self.conn(timeout)
        try:
            data = raw if raw is not None else (json.dumps(body) if body is not None else None)
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            text = r.read().decode("utf-8", "replace")
            return r.status, dict(r.getheaders()), text
        finally:
            c.close()

    def json(self, method, path, body=None, **kw):
        st, hdrs, text = self.request(method, path, body, **kw)
        try:
            return st, hdrs, json.loads(text)
        except ValueError:
            raise SystemExit(f"{method} {path}: status {st}, not JSON: {text[:300]!r}")

    def stream(self, path, body, timeout=120):
        """A streamed request: the list of decoded `data:` payloads (JSON or "[DONE]")."""
        st, _, text = self.request("POST", path, dict(body, stream=True), timeout=timeout)
        check(st == 200, f"stream status {st}: {text[:300]}")
        events = []
        for block in text.split("\n\n"):
            if not block.strip() or block.startswith(":"):  # SSE comments (keep-alive)
                continue
            check(block.startswith("data: "), f"not an SSE data line: {block[:100]!r}")
            payload = block[len("data: "):]
            events.append(payload if payload == "[DONE]" else json.loads(payload))
        check(events and events[-1] == "[DONE]", "stream does not end with [DONE]")
        return events[:-1]

    def healthy(self):
        st, _, _ = self.request("GET", "/health", auth=False, timeout=30)
        check(st == 200, f"/health answered {st}")

    def metrics(self):
        st, _, text = self.request("GET", "/metrics", auth=False)
        check(st == 200, "metrics")
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                k, v = line.rsplit(" ", 1)
                out[k] = float(v)
        return out

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def chat_body(text, seed=7, max_tokens=12, **kw):
    return dict({"model": "x", "messages": [{"role": "user", "content": text}], "seed": seed,
                 "max_tokens": max_tokens, "temperature": 0.8}, **kw)


def chat_text(srv, body):
    st, _, j = srv.json("POST", "/v1/chat/completions", body)
    check(st == 200, f"chat: {st} {j}")
    ch = j["choices"][0]
    return ch["message"]["content"], ch["finish_reason"], j


def streamed_chat(srv, body):
    events = srv.stream("/v1/chat/completions", body)
    text, finish, usage, calls = "", None, None, []
    for e in events:
        check(e["object"] == "chat.completion.chunk", f"chunk object {e.get('object')}")
        if e.get("usage"):
            usage = e["usage"]
        for ch in e["choices"]:
            d = ch["delta"]
            text += d.get("content") or ""
            calls += d.get("tool_calls") or []
            if ch["finish_reason"]:
                finish = ch["finish_reason"]
    return text, finish, usage, calls


def check_error(st, j, status, param=None):
    check(st == status, f"expected {status}, got {st}: {j}")
    e = j.get("error")
    check(isinstance(e, dict) and isinstance(e.get("message"), str) and isinstance(e.get("type"), str)
          and "param" in e and "code" in e, f"not an OpenAI error object: {j}")
    if param is not None:
        check(e["param"] == param, f"param {e['param']!r} != {param!r}")


TOOLS = [{"type": "function", "function": {"name": "get_time", "description": "The current time.",
                                           "parameters": {"type": "object", "properties": {}}}},
         {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city.",
                                           "parameters": {"type": "object",
                                                          "properties": {"city": {"type": "string"}},
                                                          "required": ["city"]}}}]


def test_basic(srv):
    t0 = time.time()
    srv.healthy()
    st, _, j = srv.json("GET", "/v1/models")
    check(st == 200 and j["object"] == "list" and j["data"][0]["id"] == "vkgemma-builtin", f"models {j}")
    st, _, j = srv.json("GET", "/v1/models/vkgemma-builtin")
    check(st == 200 and j["id"] == "vkgemma-builtin" and j["object"] == "model", f"model {j}")
    check_error(*srv.json("GET", "/v1/models/other")[::2], 404, "model")
    # Authentication: missing or wrong key -> 401 on /v1/*; /health stays open.
    check_error(*srv.json("GET", "/v1/models", auth=False)[::2], 401)
    check_error(*srv.json("POST", "/v1/chat/completions", chat_body("hi"), auth=False,
                          headers={"Authorization": "Bearer wrong"})[::2], 401)
    srv.healthy()

    # Same seed: same text, streamed or not; include_usage gives a usage chunk.
    body = chat_body("Why is the sky blue?", seed=11, max_tokens=16)
    a, fa, ja = chat_text(srv, body)
    b, fb, _ = chat_text(srv, body)
    check(a == b, f"same seed, different texts: {a!r} vs {b!r}")
    s, fs, usage, _ = streamed_chat(srv, dict(body, stream_options={"include_usage": True}))
    check(s == a, f"streamed {s!r} != non-streamed {a!r}")
    check(fs == fa and fa in ("stop", "length"), f"finish reasons {fs} {fa}")
    check(usage and usage["completion_tokens"] == ja["usage"]["completion_tokens"] and
          usage["prompt_tokens"] == ja["usage"]["prompt_tokens"], f"usage {usage} vs {ja['usage']}")
    check(ja["usage"]["completion_tokens"] <= 16, "max_tokens")
    if fa == "length":
        check(ja["usage"]["completion_tokens"] == 16, f"length with {ja['usage']}")
    # Another seed: (almost surely) another text; greedy twice: the same.
    g1, _, _ = chat_text(srv, chat_body("Hello", temperature=0, seed=1, max_tokens=10))
    g2, _, _ = chat_text(srv, chat_body("Hello", temperature=0, seed=2, max_tokens=10))
    check(g1 == g2, "greedy differs between seeds")
    # The same conversation again reuses the slot's KV cache.
    _, _, j2 = chat_text(srv, body)
    check(j2["usage"]["prompt_tokens_details"]["cached_tokens"] > 0, f"no prefix reuse: {j2['usage']}")

    # Stop strings: the text ends where the stop string began.
    long_body = chat_body("Tell me a story.", seed=5, max_tokens=24)
    full, _, _ = chat_text(srv, long_body)
    if len(full) > 12:
        stop = full[6:9]
        cut, fc, _ = chat_text(srv, dict(long_body, stop=[stop]))
        check(fc == "stop", f"stop string finish {fc}")
        check(cut.rstrip() == full[:full.index(stop)].rstrip(), f"stop {stop!r}: {cut!r} vs {full!r}")
        scut, _, _, _ = streamed_chat(srv, dict(long_body, stop=[stop]))
        check(scut == cut, f"streamed stop {scut!r} != {cut!r}")

    # /v1/completions: streamed == non-streamed (temperature 2: texts differ between seeds).
    cbody = {"prompt": "Once upon a time", "max_tokens": 16, "seed": 3, "temperature": 2, "top_k": 0,
             "top_p": 1, "min_p": 0}
    st, _, jc = srv.json("POST", "/v1/completions", cbody)
    check(st == 200 and jc["object"] == "text_completion", f"completions {st} {jc}")
    events = srv.stream("/v1/completions", cbody)
    check("".join(e["choices"][0]["text"] for e in events) == jc["choices"][0]["text"], "completions stream")

    # Tool calls the model is forced to make (tool_choice named / required), then the round trip.
    for choice in ({"type": "function", "function": {"name": "get_time"}}, "required"):
        tools = TOOLS if isinstance(choice, dict) else TOOLS[:1]
        tb = chat_body("What time is it?", tools=tools, tool_choice=choice)
        _, fin, jt = chat_text(srv, tb)
        msg = jt["choices"][0]["message"]
        check(fin == "tool_calls", f"forced call: finish {fin}, {msg}")
        call = msg["tool_calls"][0]
        check(call["type"] == "function" and call["function"]["name"] == "get_time" and
              json.loads(call["function"]["arguments"]) == {} and call["id"].startswith("call_"), f"call {call}")
        stext, sfin, _, scalls = streamed_chat(srv, tb)
        check(sfin == "tool_calls" and scalls and scalls[0]["function"]["name"] == "get_time" and
              scalls[0]["index"] == 0, f"streamed call {scalls} {sfin}")
        follow = dict(tb, tool_choice="auto", messages=tb["messages"] + [
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": call["id"], "content": "12:30"}])
        answer, afin, ja2 = chat_text(srv, follow)
        check(afin in ("stop", "length", "tool_calls") and isinstance(ja2["choices"][0]["message"], dict),
              f"answer after the tool: {ja2}")
        check(ja2["usage"]["prompt_tokens"] > jt["usage"]["prompt_tokens"], "the tool result is in the prompt")
    # tool_choice none: the tools are not rendered (a shorter prompt).
    _, _, jn = chat_text(srv, chat_body("What time is it?", tools=TOOLS, tool_choice="none"))
    _, _, ja3 = chat_text(srv, chat_body("What time is it?", tools=TOOLS))
    check(jn["usage"]["prompt_tokens"] < ja3["usage"]["prompt_tokens"], "tool_choice none renders no tools")

    # Hostile requests: the right status and error object, /health after each.
    bad = [
        ("POST", "/v1/chat/completions", "{not json", 400, None),
        ("POST", "/v1/chat/completions", json.dumps({"messages": "hi"}), 400, "messages"),
        ("POST", "/v1/chat/completions", json.dumps(chat_body("x", temperature="hot")), 400, "temperature"),
        ("POST", "/v1/chat/completions", json.dumps(chat_body("x", n=3)), 400, "n"),
        ("POST", "/v1/chat/completions", json.dumps(chat_body("x", max_tokens=-5)), 400, "max_tokens"),
        ("POST", "/v1/chat/completions", "[" * 60000, 400, None),
        ("POST", "/v1/chat/completions", json.dumps(chat_body("x" * 70000)), 413, None),
        ("POST", "/v1/chat/completions", json.dumps(chat_body("word " * 3000)), 400, "messages"),  # > context
        ("GET", "/v1/nothing", None, 404, None),
        ("GET", "/../../etc/passwd", None, 404, None),
    ]
    for method, path, raw, status, param in bad:
        try:
            st, _, text = srv.request(method, path, raw=raw)
        except (ConnectionError, BrokenPipeError) as e:
            raise AssertionError(f"{path} {raw[:40] if raw else ''}: connection error {e}")
        try:
            j = json.loads(text)
        except ValueError:
            raise AssertionError(f"{status} body is not JSON: {text[:200]!r}")
        check_error(st, j, status, param)
        srv.healthy()
    st, hdrs, _ = srv.request("POST", "/v1/chat/completions", raw="{}", headers={"Content-Type": "text/plain"})
    check(st == 400, "content type does not matter; the body does")

    # A client that disconnects mid-stream: its generation stops, the slot is free again.
    for _ in range(2):
        s = socket.create_connection((HOST, srv.port), timeout=60)
        body = json.dumps(chat_body("Go on and on.", max_tokens=400, stream=True)).encode()
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + KEY.encode() +
                  b"\r\nContent-Type: application/json\r\nContent-Length: " + str(len(body)).encode() +
                  b"\r\n\r\n" + body)
        got = b""
        while got.count(b"\n\n") < 5:  # headers, the role chunk, a few tokens
            chunk = s.recv(4096)
            check(chunk, "server closed the stream early")
            got += chunk
        s.close()
    deadline = time.time() + 20
    while srv.metrics().get("vkgemma_slots_busy", 1) > 0:
        check(time.time() < deadline, "slots still busy 20 s after the clients left")
        time.sleep(0.1)
    m = srv.metrics()
    check(m["vkgemma_decode_tokens_total"] < 2 * 400, "the abandoned generations ran on")
    x, _, _ = chat_text(srv, chat_body("After the disconnect", max_tokens=4))
    check(isinstance(x, str), "served after a disconnect")
    for k in ("vkgemma_queue_length", "vkgemma_kv_cells_used", "vkgemma_prefill_tokens_per_second",
              "vkgemma_decode_tokens_per_second", 'vkgemma_requests_total{endpoint="/v1/chat/completions",status="200"}'):
        check(k in m, f"metric {k} missing")

    # SIGTERM during a stream: the server cancels it and exits 0.
    res = {}
    threading.Thread(target=lambda: res.update(r=srv.request(
        "POST", "/v1/chat/completions", chat_body("Long answer", max_tokens=-1, stream=True), timeout=60)),
        daemon=True).start()
    time.sleep(1.0)
    srv.proc.send_signal(signal.SIGTERM)
    try:
        rc = srv.proc.wait(20)
    except subprocess.TimeoutExpired:
        raise AssertionError("no exit 20 s after SIGTERM")
    check(rc == 0, f"exit status {rc} after SIGTERM")
    log = "".join(srv.err_lines)
    check("POST /v1/chat/completions 200 prompt=" in log, "one log line per request")
    check("vulkan validation" not in log.lower() and "VUID" not in log, "validation messages:\n" + log[-3000:])
    print(f"basic: ok in {time.time() - t0:.1f} s")


def mutate(body_text, rng):
    b = bytearray(body_text.encode())
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(6)
        i = rng.randrange(len(b)) if b else 0
        if op == 0 and b:
            b[i] = rng.randrange(256)
        elif op == 1 and b:
            del b[i:i + rng.randint(1, 8)]
        elif op == 2:
            b[i:i] = rng.choice([b"{", b"}", b"[", b"]", b'"', b",", b":", b"null", b"-1", b"1e999", b"\\u0000",
                                 b"\xff", b"true", b'"a"', b"9" * 30])
        elif op == 3:
            b = b[:i]
        elif op == 4 and b:
            j = rng.randrange(len(b))
            b[i:i] = b[j:j + rng.randint(1, 16)]
    return bytes(b)


def structured(rng):
    body = chat_body("hi", max_tokens=2)
    values = [None, True, -1, 0, 3, 1.5, 1e308, -1e308, "x", "", [], {}, [1, "a"], {"a": {}}, "\u0000\ud7ff",
              "<|turn>model\n", "<|tool_call>call:f{}<tool_call|>"]
    keys = ["messages", "temperature", "top_p", "top_k", "min_p", "seed", "max_tokens", "stop", "n", "stream",
            "tools", "tool_choice", "stream_options", "presence_penalty", "frequency_penalty", "logprobs",
            "max_completion_tokens", "chat_template_kwargs"]
    for _ in range(rng.randint(1, 3)):
        k = rng.choice(keys)
        if k == "messages" and rng.random() < 0.6:
            body[k] = [{"role": rng.choice(["user", "assistant", "tool", "system", "bogus", 5]),
                        "content": rng.choice(values), "tool_calls": rng.choice([None, [], [{"function": {
                            "name": "f", "arguments": rng.choice(["{}", "{", "[]", '{"a":1}'])}}]])}]
        else:
            body[k] = rng.choice(values)
    if "max_tokens" not in body or not isinstance(body["max_tokens"], int) or body["max_tokens"] > 4:
        body["max_tokens"] = 2
    body["max_completion_tokens"] = 2
    return json.dumps(body)


def test_load(vkgemma):
    t0 = time.time()
    srv = Server(vkgemma, "--parallel", "2", "--queue", "32", "-c", "256", "--max-body", "65536")
    try:
        # Mutated bodies: never a 5xx, never a dropped connection; /health after each.
        rng = random.Random(1234)
        base = json.dumps(chat_body("fuzz me", max_tokens=2, tools=TOOLS))
        n, statuses, deadline = 0, {}, time.time() + 60
        while n < 1000 and time.time() < deadline:
            raw = structured(rng) if n % 2 else mutate(base, rng)
            path = rng.choice(["/v1/chat/completions", "/v1/chat/completions", "/v1/completions"])
            st, _, text = srv.request("POST", path, raw=raw, timeout=60)
            check(st < 500, f"{st} for {raw[:200]!r}: {text[:300]}")
            if st != 200:
                j = json.loads(text)
                check("error" in j and isinstance(j["error"].get("message"), str), f"error object: {text[:200]}")
            statuses[st] = statuses.get(st, 0) + 1
            srv.healthy()
            n += 1
        check(n >= 100, f"only {n} mutated requests in the time bound")
        print(f"load: {n} mutated bodies, statuses {statuses}, {time.time() - t0:.1f} s")

        # Concurrent streams against --parallel 2: each equals its sequential run. Raw completions
        # at temperature 2 (the random model's chat answers are mostly markup, hence empty).
        bodies = [{"prompt": f"Question number {i}?", "seed": 100 + i, "max_tokens": 10, "temperature": 2,
                   "top_k": 0, "top_p": 1, "min_p": 0} for i in range(16)]

        def completion(b):
            st, _, j = srv.json("POST", "/v1/completions", b)
            check(st == 200, f"completion {st} {j}")
            return j["choices"][0]["text"]

        def streamed_completion(b):
            return "".join(e["choices"][0]["text"] for e in srv.stream("/v1/completions", b))

        expected = [completion(b) for b in bodies]
        check(len(set(expected)) > 1, f"all texts equal: the comparison would prove nothing: {expected}")
        results = [None] * len(bodies)
        lat = [0.0] * len(bodies)

        def worker(i):
            t = time.time()
            try:
                results[i] = streamed_completion(bodies[i]) if i % 2 else completion(bodies[i])
            except Exception as e:  # reported below
                results[i] = e
            lat[i] = time.time() - t

        ts = [threading.Thread(target=worker, args=(i,)) for i in range(len(bodies))]
        for t in ts:
            t.start()
        for t in ts:
            t.join(120)
        for i, (r, e) in enumerate(zip(results, expected)):
            check(r == e, f"stream {i}: {r!r} != sequential {e!r}")
        lat.sort()
        print(f"load: {len(bodies)} concurrent requests (half streamed) ok, latency p50 {lat[len(lat) // 2]:.2f} s, max {lat[-1]:.2f} s")
        srv.healthy()
    finally:
        srv.kill()

    # A small queue: the surplus gets 503 + Retry-After, the server stays healthy.
    srv = Server(vkgemma, "--parallel", "1", "--queue", "1", "-c", "256")
    try:
        out = []

        def hit():
            st, hdrs, text = srv.request("POST", "/v1/chat/completions", chat_body("busy", max_tokens=40), timeout=120)
            out.append((st, hdrs, text))

        ts = [threading.Thread(target=hit) for _ in range(6)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(120)
        codes = sorted(st for st, _, _ in out)
        check(codes.count(200) >= 2 and codes.count(503) >= 1 and set(codes) <= {200, 503}, f"statuses {codes}")
        for st, hdrs, text in out:
            if st == 503:
                check(hdrs.get("Retry-After") == "1", "Retry-After")
                check_error(st, json.loads(text), 503)
        srv.healthy()
        print(f"load: queue full -> {codes}; total {time.time() - t0:.1f} s")
    finally:
        srv.kill()


def test_node(vkgemma, node, script, npm_prefix):
    if not os.path.isdir(os.path.join(npm_prefix, "node_modules", "openai")):
        raise SystemExit(f"the openai npm package is not installed in {npm_prefix} (scripts/setup.sh installs it: "
                         f"npm install --prefix {npm_prefix} openai@4)")
    srv = Server(vkgemma)
    try:
        env = dict(os.environ, NODE_PATH=os.path.join(npm_prefix, "node_modules"),
                   VKG_BASE_URL=f"http://{HOST}:{srv.port}/v1", VKG_API_KEY=KEY)
        r = subprocess.run([node, script], env=env, timeout=180)
        check(r.returncode == 0, f"node exited {r.returncode}")
    finally:
        srv.kill()


def main():
    mode, vkgemma = sys.argv[1], sys.argv[2]
    srv = None
    try:
        if mode == "basic":
            srv = Server(vkgemma, "--parallel", "2", "-c", "512", "-b", "64", "--max-body", "65536")
            test_basic(srv)
        elif mode == "load":
            test_load(vkgemma)
        elif mode == "node":
            test_node(vkgemma, *sys.argv[3:6])
        else:
            raise SystemExit(f"unknown mode {mode}")
    except AssertionError as e:
        if srv:
            sys.stderr.write("".join(srv.err_lines[-40:]))
        print(f"FAIL: {e}", file=sys.stderr)
        sys.exit(1)
    finally:
        if srv:
            srv.kill()


if __name__ == "__main__":
    main()
