#!/usr/bin/env python3
"""Run `vkgemma kernels --json` and check its answer (tests/kernels.cmake).

Asserts: the pipelines of every op the forward pass records are listed, with matrix kernels
for every requested weight type; none is refused by the capability check or fails to compile;
where the driver reports statistics (RADV), every pipeline has VGPRs > 0; and the set of
spilling pipelines (spilled SGPRs/VGPRs or scratch > 0) equals the known-spills list for the
device family, both ways: a new spill fails, and so does a fixed one still listed (update the
list, tests/support/known_spills.txt, as kernels get fixed).

usage: check_kernels.py --cli VKGEMMA --family NAME --known FILE [--stats] -- ARGS...
"""
import argparse
import json
import subprocess
import sys
import time

EXPECTED_OPS = {"get_rows", "matmul", "gate_up_gelu", "scale", "rms_norm", "add_scale", "rope_neox", "kv_store",
                "attention", "attn_merge", "rms_norm_add", "gelu_mul", "softcap", "argmax/top_k"}


def known_spills(path, family):
    keys = set()
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split()
            if len(parts) == 1:
                keys.add(parts[0])
            elif parts[0].lower() == family.lower():
                keys.add(parts[1])
    return keys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--family", required=True, help="known-spills family (navi21, vega10, gfx1100, lavapipe)")
    ap.add_argument("--known", required=True)
    ap.add_argument("--stats", action="store_true", help="the driver must report statistics (RADV)")
    ap.add_argument("--types", default="", help="weight types the listing must cover (ggml names, comma list)")
    ap.add_argument("args", nargs="*")
    a = ap.parse_args()

    t0 = time.time()
    p = subprocess.run([a.cli, "kernels", "--json"] + a.args, capture_output=True, text=True)
    took = time.time() - t0
    if p.returncode != 0:
        print(p.stdout[-4000:], p.stderr[-4000:], sep="\n")
        sys.exit(f"vkgemma kernels exited with {p.returncode}")
    out = json.loads(p.stdout)
    rows = out["pipelines"]
    print(f"{out['device']} ({out['driver']}): {len(rows)} pipelines in {took:.1f} s; variants: {out['kernel_variants']}")
    errors = []

    ops = {r["op"] for r in rows}
    if not EXPECTED_OPS <= ops:
        errors.append(f"ops missing from the listing: {sorted(EXPECTED_OPS - ops)}")
    if a.types:
        want = {t.strip().upper() for t in a.types.split(",")}
        have = {r["weight_type"] for r in rows if r["op"] in ("matmul", "gate_up_gelu") and r["weight_type"]}
        if want != have:
            errors.append(f"matrix kernels for types {sorted(have)}, expected {sorted(want)}")
        for t in want:
            for op in ("matmul", "gate_up_gelu"):
                if not any(r["op"] == op and r["weight_type"] == t for r in rows):
                    errors.append(f"no {op} pipeline for {t}")
    head_dims = {int(r["shader"].split("_h")[1].split("_")[0]) for r in rows if r["op"] == "attention"}
    if not head_dims:
        errors.append("no attention pipeline")
    for r in rows:
        if r["refused"]:
            errors.append(f"{r['key']} refused: {r['refusal']}")
        if r["error"]:
            errors.append(f"{r['key']} failed: {r['error']}")
    if a.stats:
        if not out["statistics_available"]:
            errors.append("the driver reports no pipeline statistics")
        for r in rows:
            if not r["refused"] and r["statistics"].get("VGPRs", 0) <= 0:
                errors.append(f"{r['key']}: no VGPR count ({r['statistics']})")

    spilling = {r["key"] for r in rows if r["spills"]}
    known = known_spills(a.known, a.family)
    listed_keys = {r["key"] for r in rows}
    new = sorted(spilling - known)
    fixed = sorted((known & listed_keys) - spilling)
    for k in new:
        st = next(r["statistics"] for r in rows if r["key"] == k)
        errors.append(f"{k} spills (not in {a.known} for {a.family}): "
                      f"spilled SGPRs {st.get('Spilled SGPRs')}, VGPRs {st.get('Spilled VGPRs')}, "
                      f"scratch {st.get('Scratch size')}")
    for k in fixed:
        errors.append(f"{k} no longer spills: remove '{a.family} {k}' from {a.known}")
    print(f"{len(spilling)} spilling (known: {len(known & listed_keys)} of the listed ones)")
    if errors:
        print("\n".join(errors))
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
