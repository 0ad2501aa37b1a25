#!/usr/bin/python3
"""Aggregate decode throughput of `vkgemma serve` with 1, 2, 4 ... concurrent streams.

    server_bench.py VKGEMMA [-m MODEL.gguf] [--streams 1,2,4] [-n 16] [-c 512]

For each stream count S: a server with --parallel S, S concurrent streamed /v1/completions of n
tokens (temperature 2, distinct seeds; ignore-eos is not available, so a stream may end early:
tokens are counted from usage), after one warm-up request. Prints one JSON object: per S the
wall time, total completion tokens and aggregate tok/s.
"""
import argparse
import json
import subprocess
import sys
import threading
import time
import http.client


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("vkgemma")
    ap.add_argument("-m", "--model", default="")
    ap.add_argument("--streams", default="1,2,4")
    ap.add_argument("-n", type=int, default=16)
    ap.add_argument("-c", type=int, default=512)
    a = ap.parse_args()
    out = {"model": a.model or "builtin", "n": a.n, "runs": []}
    for s in [int(x) for x in a.streams.split(",")]:
        cmd = [a.vkgemma, "serve", "--port", "0", "-q", "--parallel", str(s), "--queue", str(2 * s), "-c", str(a.c)]
        if a.model:
            cmd += ["-m", a.model]
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            port = int(p.stdout.readline().strip().rsplit(":", 1)[1])

            def post(body, timeout=600):
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
                c.request("POST", "/v1/completions", json.dumps(body), {"Content-Type": "application/json"})
                r = c.getresponse()
                j = json.loads(r.read())
                c.close()
                return j

            deadline = time.time() + 600
            while True:
                try:
                    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                    c.request("GET", "/health")
                    if c.getresponse().status == 200:
                        break
                except OSError:
                    pass
                if time.time() > deadline:
                    sys.exit("server not healthy")
                time.sleep(0.5)
            post({"prompt": "warm up", "max_tokens": 2, "temperature": 2, "top_k": 0, "top_p": 1, "min_p": 0})
            toks = [0] * s

            def one(i):
                j = post({"prompt": f"Stream {i} says", "max_tokens": a.n, "seed": i, "temperature": 2,
                          "top_k": 0, "top_p": 1, "min_p": 0})
                toks[i] = j["usage"]["completion_tokens"]

            t0 = time.time()
            ts = [threading.Thread(target=one, args=(i,)) for i in range(s)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            wall = time.time() - t0
            out["runs"].append({"streams": s, "wall_s": round(wall, 3), "completion_tokens": sum(toks),
                                "aggregate_tok_s": round(sum(toks) / wall, 2)})
        finally:
            p.kill()
            p.wait()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
