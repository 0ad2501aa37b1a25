#!/usr/bin/env python3
"""Markdown table of `vkgemma kernels --json` output (perf/README.md's per-family tables).

usage: kernels_table.py FILE.json [FILE.json ...]        one table per file
       kernels_table.py --compare BEFORE.json AFTER.json  the decode pipelines (matrix-vector, fused
                                                          gate/up, attention) before -> after, and totals
"""
import json
import sys


def fmt(v):
    if v is None:
        return "-"
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def cell(r):
    s = r["statistics"]
    return (f"{fmt(s.get('VGPRs'))} / {fmt(s.get('Spilled VGPRs'))} / {fmt(s.get('Scratch size'))} / "
            f"{fmt(s.get('Subgroups per SIMD'))}")


def compare(before_path, after_path):
    b, a = json.load(open(before_path)), json.load(open(after_path))
    def decode(rows):
        return [r for r in rows if r["op"] in ("matmul", "gate_up_gelu") and not r["shader"].startswith("matmul_")]
    print(f"{a['device']}: spilling pipelines {sum(r['spills'] for r in b['pipelines'])} of {len(b['pipelines'])} "
          f"before, {sum(r['spills'] for r in a['pipelines'])} of {len(a['pipelines'])} after\n")
    print("| decode kernel | before: pipeline | VGPRs / spilled VGPRs / scratch / subgroups per SIMD | after: pipeline | VGPRs / spilled / scratch / subgroups per SIMD |")
    print("|---|---|---|---|---|")
    bd, ad = decode(b["pipelines"]), decode(a["pipelines"])
    for rb in bd:
        t = rb["weight_type"]
        ra = next((r for r in ad if r["op"] == rb["op"] and r["weight_type"] == t), None)
        print(f"| {rb['op']} {t} | {rb['shader']} | {cell(rb)} | {ra['shader'] if ra else '-'} | {cell(ra) if ra else '-'} |")
    print()


if len(sys.argv) == 4 and sys.argv[1] == "--compare":
    compare(sys.argv[2], sys.argv[3])
    sys.exit(0)

for path in sys.argv[1:]:
    d = json.load(open(path))
    rows = d["pipelines"]
    spilling = sum(1 for r in rows if r["spills"])
    print(f"{d['device']}: {len(rows)} pipelines, {spilling} spilling  \nvariants: {d['kernel_variants']}\n")
    print("| pipeline | op | variant | VGPRs | SGPRs | spilled VGPRs | spilled SGPRs | scratch | LDS | subgroups/SIMD |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        s = r["statistics"]
        spec = ":".join(str(x) for x in r["spec"][1:])
        name = r["shader"] + (":" + spec if spec else "")
        print(f"| {name} | {r['op']} | {r['variant']} | {fmt(s.get('VGPRs'))} | {fmt(s.get('SGPRs'))} | "
              f"{fmt(s.get('Spilled VGPRs'))} | {fmt(s.get('Spilled SGPRs'))} | {fmt(s.get('Scratch size'))} | "
              f"{fmt(s.get('LDS size'))} | {fmt(s.get('Subgroups per SIMD'))} |")
    print()
