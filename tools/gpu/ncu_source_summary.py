#!/usr/bin/env python3
"""Summarises an ncu per-SASS source page (`ncu --page source --print-source sass --csv`,
as tools/gpu/persistent_ncu.sh writes with NCU_SOURCE=1): the instructions with the most
warp-stall samples, the straight-line runs that execute the most instructions (a loop's
body executes as often as its every instruction), and per function (code between
returns) the share of samples and executed instructions with the kinds of work in it.

    python3 tools/gpu/ncu_source_summary.py fp8.source.csv [--top 20]
"""
import argparse
import csv
import sys

SAMPLES = "Warp Stall Sampling (All Samples)"
EXECUTED = "Instructions Executed"
# Opcodes that tell what a stretch of code does.
MARKERS = ("HMMA", "MUFU.EX2", "UBLKCP", "UBLKPF", "SYNCS", "BAR.SYNC", "NANOSLEEP", "SHFL",
           "F2FP", "HADD2.F32", "RED", "ATOMS", "LDG", "STG", "LDS", "LD.E")


def number(text):
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return 0.0


def load(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header_at = next((i for i, r in enumerate(rows) if r and r[0] == "Address"), None)
    if header_at is None:
        sys.exit(f"{path}: no 'Address' header: not an ncu source page CSV")
    header = rows[header_at]
    col = {name: i for i, name in enumerate(header)}
    for need in (SAMPLES, EXECUTED):
        if need not in col:
            sys.exit(f"{path}: no column '{need}'")
    out = []
    for r in rows[header_at + 1:]:
        if len(r) != len(header):
            continue
        out.append((r[0], r[1].strip(), number(r[col[SAMPLES]]), number(r[col[EXECUTED]])))
    if not out:
        sys.exit(f"{path}: no instruction rows")
    return out


def opcode(sass):
    parts = sass.split()
    if parts and parts[0].startswith("@"):
        parts = parts[1:]
    return parts[0] if parts else ""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("csv")
    ap.add_argument("--top", type=int, default=20)
    args = ap.parse_args()
    inst = load(args.csv)
    samples = sum(i[2] for i in inst) or 1.0
    executed = sum(i[3] for i in inst) or 1.0
    print(f"{len(inst)} instructions, {samples:.0f} stall samples, {executed / 1e6:.1f} M executed")

    print(f"\n-- top {args.top} by stall samples (% samples, % executed, address, SASS)")
    for a, sass, s, e in sorted(inst, key=lambda i: -i[2])[:args.top]:
        print(f"{100 * s / samples:5.1f}% {100 * e / executed:5.1f}%  {a}  {sass[:80]}")

    # Straight-line runs: consecutive instructions executed equally often.
    runs = []
    for a, sass, s, e in inst:
        if runs and runs[-1]["count"] == e:
            runs[-1]["n"] += 1
            runs[-1]["samples"] += s
            runs[-1]["sass"].append(sass)
        else:
            runs.append({"at": a, "count": e, "n": 1, "samples": s, "sass": [sass]})
    print(f"\n-- top {args.top} runs by instructions executed (count x length, % samples, start)")
    for r in sorted(runs, key=lambda r: -r["count"] * r["n"])[:args.top]:
        head = " | ".join(x[:24] for x in r["sass"][:4])
        print(f"{r['count']:12.0f} x {r['n']:4d} = {r['count'] * r['n'] / 1e6:8.1f} M "
              f"{100 * r['samples'] / samples:5.1f}%  {r['at']}  {head}")

    # Functions: code between returns / exits.
    funcs, cur = [], []
    for i in inst:
        cur.append(i)
        op = opcode(i[1])
        if op.startswith("RET") or op == "EXIT":
            funcs.append(cur)
            cur = []
    if cur:
        funcs.append(cur)
    print("\n-- code between returns (start, instructions, % samples, M executed, kinds)")
    for f in funcs:
        s = sum(i[2] for i in f)
        if s / samples < 0.003:
            continue
        kinds = sorted({m for i in f for m in MARKERS if opcode(i[1]).startswith(m)})
        print(f"{f[0][0]}  {len(f):5d}  {100 * s / samples:5.1f}%  "
              f"{sum(i[3] for i in f) / 1e6:8.1f}  {' '.join(kinds)}")


if __name__ == "__main__":
    main()
