#!/usr/bin/env python3
"""Do two top-N results agree, up to the order of ties?

    side_compare.py ORDER NF_TOP FH_TOP NF_ALL FH_ALL

Each file holds rows "value,flows,packets,bytes" (bench/side_lib.sh's
nf_stat_rows / fh_stat_rows): the top N of a statistic from each tool, and the
whole statistic (-n 0) from each. ORDER (flows, packets or bytes) is what the
rows are ranked by. Prints "yes (ties reordered)" when both tools found
the same whole statistic and each top N is a valid top N of it (same ranking
values, rows from the statistic), else "no" (with the reason on stderr).
"""
import sys

order, nf_top, fh_top, nf_all, fh_all = sys.argv[1:6]
col = {"flows": 1, "packets": 2, "bytes": 3}[order]


def rows(path):
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


def key(row):
    return int(row.split(",")[col])


tops = {"nfdump": rows(nf_top), "flowhound": rows(fh_top)}
alls = {"nfdump": rows(nf_all), "flowhound": rows(fh_all)}
if sorted(alls["nfdump"]) != sorted(alls["flowhound"]):
    a, b = set(alls["nfdump"]), set(alls["flowhound"])
    print(f"whole statistics differ: {len(a - b)} rows only in nfdump's, {len(b - a)} only in flowhound's;"
          f" e.g. {sorted(a - b)[:3]} / {sorted(b - a)[:3]}", file=sys.stderr)
    print("no")
    sys.exit()
full = set(alls["nfdump"])
best = sorted((key(r) for r in full), reverse=True)
for tool, top in tops.items():
    keys = [key(r) for r in top]
    if keys != best[: len(top)] or not set(top) <= full or len(set(top)) != len(top):
        print(f"{tool}'s top {len(top)} is not a top {len(top)} of the whole statistic", file=sys.stderr)
        print("no")
        sys.exit()
if len(tops["nfdump"]) != len(tops["flowhound"]):
    print("the tops differ in length", file=sys.stderr)
    print("no")
    sys.exit()
print("yes (ties reordered)")
