#!/usr/bin/env python3
"""The results section of bench/run-comparison.

    report.py RESULTS_DIR HEAD_FILE OUT_FILE

Reads the runs' JSON and markdown from RESULTS_DIR (written by `iwa-bench run`, `compare` and
`idle`), appends the tables and the issue 5 targets to HEAD_FILE's text (machine, versions,
commands), and puts the whole between the run-comparison markers of OUT_FILE: the section is
replaced if OUT_FILE has one, appended otherwise; the rest of OUT_FILE is kept.
"""

import json
import os
import re
import sys

BEGIN, END = "<!-- run-comparison:begin -->", "<!-- run-comparison:end -->"


def load(results, name):
    try:
        with open(os.path.join(results, name + ".json"), encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def text_of(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().rstrip("\n")
    except OSError:
        return None


def mb(b):
    return "?" if b is None else "%.1f MB" % (b / 1e6)


def idle_table(idle):
    per = idle.get("bytes_per_connection")
    return "\n".join([
        "| idle keep-alive connections to the gateway | open | after the hold | RSS before "
        "| RSS open | RSS after the hold | per connection |",
        "|---|---|---|---|---|---|---|",
        "| %d | %d | %d | %s | %s | %s | %s |" % (
            idle["connections"], idle["open"], idle.get("open_after_hold", 0),
            mb(idle.get("rss_before_bytes")), mb(idle.get("rss_open_bytes")),
            mb(idle.get("rss_after_hold_bytes")), "?" if per is None else "%.1f KB" % (per / 1e3)),
    ])


def targets_table(results):
    an, gn = load(results, "apache-negotiate"), load(results, "gateway-negotiate")
    gs, gp, idle = load(results, "gateway-session"), load(results, "gateway-plain"), load(results, "idle")

    def rps(r):
        return r["throughput_rps"] if r else None

    def cpu(r):
        return (r.get("server") or {}).get("cpu_us_per_request") if r else None

    def p99(r):
        return r["latency_us"]["p99"] if r else None

    rss = [idle.get(k) for k in ("rss_open_bytes", "rss_after_hold_bytes")] if idle else []
    rss = max([b for b in rss if b is not None], default=None)
    rows = [
        ("gateway server CPU per request ≤ 10 % of Apache's (negotiate)", cpu(gn), cpu(an),
         lambda g, a: g <= 0.10 * a, "%.1f µs vs %.1f µs"),
        ("gateway negotiate req/s ≥ 3× Apache's", rps(gn), rps(an),
         lambda g, a: g >= 3 * a, "%.0f vs %.0f"),
        ("gateway negotiate p99 < Apache's", p99(gn), p99(an),
         lambda g, a: g < a, "%.0f µs vs %.0f µs"),
        ("gateway session req/s ≥ 75 % of its plain req/s", rps(gs), rps(gp),
         lambda s, p: s >= 0.75 * p, "%.0f vs %.0f"),
        ("gateway RSS < 100 MB with %s idle connections" % (idle or {}).get("connections", "?"),
         None if rss is None else rss / 1e6, 100.0, lambda r, limit: r < limit, "%.1f MB (limit %.0f MB)"),
    ]
    out = ["| target (issue 5) | measured | |", "|---|---|---|"]
    for name, a, b, ok, fmt in rows:
        if a is None or b is None:
            out.append("| %s | not measured | |" % name)
        else:
            out.append("| %s | %s | **%s** |" % (name, fmt % (a, b), "met" if ok(a, b) else "missed"))
    return "\n".join(out)


def section(results, head):
    parts = [text_of(head) or "", text_of(os.path.join(results, "runs.md")) or "(no runs)"]
    compare = text_of(os.path.join(results, "compare.md"))
    if compare:
        parts += ["Apache and the gateway in turns, negotiate (`iwa-bench compare`):", compare]
    idle = load(results, "idle")
    if idle:
        parts.append(idle_table(idle))
    parts.append(targets_table(results))
    for name in sorted(os.listdir(results)):
        r = load(results, name[:-5]) if name.endswith(".json") else None
        if isinstance(r, dict) and r.get("stopped_early"):
            parts.append("`%s` stopped early: %s." % (r.get("label", name[:-5]), r["stopped_early"]))
    return BEGIN + "\n" + "\n\n".join(parts) + "\n" + END


def main():
    results, head, out = sys.argv[1:4]
    new = section(results, head)
    old = text_of(out) or ""
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    if pattern.search(old):
        text = pattern.sub(lambda _: new, old, count=1)
    else:
        text = old + "\n\n" + new if old.strip() else new
    with open(out, "w", encoding="utf-8") as f:
        f.write(text.rstrip("\n") + "\n")


if __name__ == "__main__":
    main()
