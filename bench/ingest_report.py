#!/usr/bin/env python3
"""Markdown report of bench/ingest.sh results: medians over the repetitions.

    python3 bench/ingest_report.py OUTDIR     (reads OUTDIR/raw.tsv)
"""
import csv
import statistics
import sys
from collections import defaultdict

out = sys.argv[1]
rows = list(csv.DictReader(open(f"{out}/raw.tsv"), delimiter="\t"))
COLLS = ("nfcapd", "flowhound")


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def f(r, k):
    try:
        return float(r[k])
    except (ValueError, KeyError):
        return float("nan")


def human(n):
    n = float(n)
    return f"{n / 1e6:g}M" if n >= 1e6 else f"{n / 1e3:g}k"


cells = defaultdict(list)
for r in rows:
    cells[(r["phase"], int(r["rate"]), r["collector"])].append(r)

rates = sorted({k[1] for k in cells if k[0] == "ingest"})
print("| rate asked | sender achieved | stored % nfcapd | stored % flowhound "
      "| CPU s nfcapd / flowhound (while running) | CPU s incl. stop | peak RSS MiB nfcapd / flowhound "
      "| bytes/flow on disk nfcapd / flowhound | flowhound kernel drops |")
print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
stats = {}
for rate in rates:
    c = {k: cells[("ingest", rate, k)] for k in COLLS}
    s = {}
    for k, rs in c.items():
        s[k] = dict(
            pct=med([100 * f(r, "stored") / f(r, "sent") for r in rs]),
            pcts=[100 * f(r, "stored") / f(r, "sent") for r in rs],
            fps=med([f(r, "sender_fps") for r in rs]),
            cpu=med([f(r, "cpu_s") for r in rs]),
            cput=med([f(r, "cpu_total_s") for r in rs]),
            rss=med([f(r, "hwm_kb") / 1024 for r in rs]),
            rsslife=med([f(r, "maxrss_kb") / 1024 for r in rs]),
            bpf=med([f(r, "disk_bytes") / f(r, "stored") for r in rs if f(r, "stored") > 0]),
            drops=med([f(r, "sock_drops") for r in rs]),
            n=len(rs),
        )
    stats[rate] = s
    n, h = s["nfcapd"], s["flowhound"]
    print(f"| {human(rate)}/s | {n['fps'] / 1e6:.2f}M / {h['fps'] / 1e6:.2f}M "
          f"| {n['pct']:.2f} ({', '.join(f'{p:.2f}' for p in n['pcts'])}) "
          f"| {h['pct']:.2f} ({', '.join(f'{p:.2f}' for p in h['pcts'])}) "
          f"| {n['cpu']:.2f} / {h['cpu']:.2f} | {n['cput']:.2f} / {h['cput']:.2f} "
          f"| {n['rss']:.0f} / {h['rss']:.0f} ({h['rsslife']:.0f}) | {n['bpf']:.1f} / {h['bpf']:.1f} | {h['drops']:.0f} |")

print()
print("Medians over the repetitions (each run's value in brackets); sender achieved is "
      "the median `flows_per_s` of the generator in the nfcapd / flowhound runs.")
print()
for k in COLLS:
    lossless = [r for r in rates if stats[r][k]["pct"] >= 100.0]
    near = [r for r in rates if stats[r][k]["pct"] >= 99.9]
    # highest rate such that it and every lower rate are lossless
    def highest(ok):
        best = None
        for r in rates:
            if r in ok:
                best = r
            else:
                break
        return f"{human(best)}/s" if best else "none tested"
    print(f"- {k}: highest lossless rate (100.00 % stored, median) {highest(lossless)}; "
          f"highest with >= 99.9 % {highest(near)}")

print()
print("Ratios flowhound / nfcapd (medians):")
print()
print("| rate | CPU while running | CPU incl. stop | peak RSS | bytes/flow |")
print("|---:|---:|---:|---:|---:|")
for rate in rates:
    n, h = stats[rate]["nfcapd"], stats[rate]["flowhound"]
    print(f"| {human(rate)}/s | {h['cpu'] / n['cpu']:.2f} | {h['cput'] / n['cput']:.2f} "
          f"| {h['rss'] / n['rss']:.1f} | {h['bpf'] / n['bpf']:.2f} |")

disk = {k: cells.get(("disk", r, k)) for (p, r, k) in cells if p == "disk"}
if disk:
    print()
    print("Disk only (low rate, both lossless, the same flows):")
    print()
    print("| collector | flows stored | packets | bytes | on disk | bytes/flow |")
    print("|---|---:|---:|---:|---:|---:|")
    bpf = {}
    for k in COLLS:
        r = (disk.get(k) or [None])[0]
        if not r:
            continue
        bpf[k] = f(r, "disk_bytes") / f(r, "stored")
        print(f"| {k} | {int(f(r, 'stored'))} / {int(f(r, 'sent'))} sent | {r['stored_packets']} | {r['stored_bytes']} "
              f"| {int(f(r, 'disk_bytes'))} | {bpf[k]:.2f} |")
    if len(bpf) == 2:
        print()
        print(f"flowhound / nfcapd bytes per flow: {bpf['flowhound'] / bpf['nfcapd']:.3f}")

print()
print("flowhound CPU by thread while running (seconds, median run of each rate):")
print()
for rate in rates:
    rs = sorted(cells[("ingest", rate, "flowhound")], key=lambda r: f(r, "cpu_s"))
    r = rs[len(rs) // 2]
    print(f"- {human(rate)}/s: {r['threads']} (sender CPU {r['sender_cpu_s']} s, load1 {r['load1']})")
