#!/usr/bin/env python3
"""Draws hegraph's results as an SVG bar chart (standard library only).

    plot_results.py ABLATION.txt OUT.svg

ABLATION.txt is the output of bench/bench_he: one row per configuration and thread count. The
chart shows images per second for each configuration, one thread and all cores, next to the
nGraph-HE2 paper's 1,998 images/s (56 cores) and the issue's target.
"""
import re
import sys


def parse(path):
    rows = []
    for line in open(path):
        m = re.match(r"^(\S.*?)\s+(\d+)\s+(\d+)\s+([\d.]+)\s+(\d+)\s*$", line)
        if m:
            rows.append((m.group(1).strip(), int(m.group(2)), int(m.group(3)),
                         float(m.group(4)), float(m.group(5))))
    return rows


def svg(rows, out):
    names = []
    for name, *_ in rows:
        if name not in names:
            names.append(name)
    threads = sorted({r[1] for r in rows})
    value = {(r[0], r[1]): r[4] for r in rows}
    refs = [("nGraph-HE2, 56 cores", 1998), ("target, 2 cores", 4000)]
    top = max([v for v in value.values()] + [r[1] for r in refs]) * 1.1
    w, h, left, bottom, bar = 980, 120 + 46 * len(names), 440, 50, 16
    colors = ["#4a7ab5", "#d9822b"]
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
         'font-family="sans-serif" font-size="12">',
         f'<rect width="{w}" height="{h}" fill="white"/>',
         f'<text x="{w / 2}" y="20" text-anchor="middle" font-size="15">CryptoNets on '
         'encrypted MNIST: server throughput (images/s)</text>']
    scale = (w - left - 40) / top
    for i, name in enumerate(names):
        y = 40 + i * 46
        o.append(f'<text x="{left - 8}" y="{y + 18}" text-anchor="end">{name}</text>')
        for k, t in enumerate(threads):
            v = value.get((name, t))
            if v is None:
                continue
            yy = y + k * (bar + 2)
            o.append(f'<rect x="{left}" y="{yy}" width="{v * scale:.1f}" height="{bar}" '
                     f'fill="{colors[k % 2]}"/>')
            o.append(f'<text x="{left + v * scale + 4:.1f}" y="{yy + 12}">{v:.0f}</text>')
    y0, y1 = 34, 40 + 46 * len(names)
    for label, v in refs:
        x = left + v * scale
        o.append(f'<line x1="{x:.1f}" y1="{y0}" x2="{x:.1f}" y2="{y1}" stroke="#b33" '
                 'stroke-dasharray="4,3"/>')
        o.append(f'<text x="{x + 3:.1f}" y="{y1 + 14}" fill="#b33">{label}</text>')
    for k, t in enumerate(threads):
        o.append(f'<rect x="{left + 140 * k}" y="{h - 22}" width="12" height="12" '
                 f'fill="{colors[k % 2]}"/>')
        o.append(f'<text x="{left + 140 * k + 16}" y="{h - 12}">{t} thread{"s" if t > 1 else ""}'
                 '</text>')
    o.append("</svg>")
    open(out, "w").write("\n".join(o) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: plot_results.py ABLATION.txt OUT.svg")
    svg(parse(sys.argv[1]), sys.argv[2])
