#!/usr/bin/python3
"""Prints the benchmark table from the raw results bench/run.sh collected:

    report.py <raw-dir> W1 W2 ...

<raw-dir>/<W>/systems lists the systems in order (cio first);
<W>/<label>.status says why a system did not run (missing, not installed,
n/a); <W>/<label>.failed holds its first failure; <W>/<label>.run<i> the
RESULT lines of each successful run. For every workload and metric the table
shows each system's median over its runs, the ratio cio/peer and which
direction is better, and says which side wins by how much."""
import os
import re
import statistics
import sys

TITLES = {
    "W1": "spawn: 1,000,000 tasks returning their index, gathered",
    "W2": "switch: 1,000,000 ping-pong rounds through two events",
    "W3": "sleepers: 1,000,000 and 100,000 tasks sleeping uniform [0,1000] ms",
    "W4": "lock: 1,000 tasks x 1,000 x {acquire; yield; release}",
    "W5": "queue: 4 producers, 4 consumers, maxsize 1,024, 1,000,000 items",
    "W6": "echo: 64-byte round trips on 127.0.0.1, 100 connections and 1",
    "W7": "to_thread: 10,000 sequential then 10,000 concurrent trivial calls",
    "W8": "files: write then read+verify 10,000 files of 4 KiB, 64 in flight",
    "W11": "http server: wrk -t2 -c64 against a 1 KiB response",
    "LOG": "logging: median cost of one log call while the writer is busy",
}

EXPECTED = {
    "W1": ["ns_per_task", "peak_rss_kb"],
    "W2": ["ns_per_handoff", "ns_per_handoff_one_fn", "ns_per_yield"],
    "W3": ["late_ms_1m", "rss_per_task_b_1m", "late_ms_100k", "rss_per_task_b_100k"],
    "W4": ["acq_per_sec"],
    "W5": ["items_per_sec"],
    "W6": ["rtt_per_sec_100c", "median_rtt_us_100c", "server_cpu_us_per_rtt_100c",
           "load_cpu_pct_100c", "rtt_per_sec_1c", "median_rtt_us_1c"],
    "W7": ["us_per_call_seq", "us_per_call_conc"],
    "W8": ["write_files_per_sec", "read_files_per_sec"],
    "W11": ["req_per_sec"],
    "LOG": ["ns_per_call_median"],
}

RESULT_RE = re.compile(r"^RESULT\s+(\S+)\s+(\S+)\s+(\S+)\s*$")


def higher_is_better(metric):
    return "per_sec" in metric or metric.startswith("requests_")


def informative(metric):
    """Context, not a score: no side wins (e.g. the load generator's CPU)."""
    return metric.startswith("load_cpu_pct")


def fmt(v):
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.3g}"


def read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def load(raw, w):
    d = os.path.join(raw, w)
    labels = (read(os.path.join(d, "systems")) or "").split()
    systems = []
    for label in labels:
        runs = []
        for name in sorted(os.listdir(d)):
            if name.startswith(label + ".run"):
                vals = {}
                for line in (read(os.path.join(d, name)) or "").splitlines():
                    m = RESULT_RE.match(line)
                    if m and m.group(1) == w:
                        try:
                            vals[m.group(2)] = float(m.group(3))
                        except ValueError:
                            pass
                runs.append(vals)
        systems.append({
            "label": label,
            "status": read(os.path.join(d, label + ".status")),
            "failed": read(os.path.join(d, label + ".failed")),
            "runs": runs,
        })
    return systems


def median_of(sysinfo, metric):
    vals = [r[metric] for r in sysinfo["runs"] if metric in r]
    return statistics.median(vals) if vals else None


def cell(sysinfo, metric, nruns):
    """(text, value or None) for one system and metric."""
    if sysinfo["status"]:
        st = sysinfo["status"]
        if len(st) > 40:  # the reason goes to the notes
            st = st.split(":")[0].split(" (")[0] + " (see notes)"
        return st, None
    v = median_of(sysinfo, metric)
    if v is None:
        if sysinfo["failed"]:
            return "failed", None
        if sysinfo["runs"]:
            return "-", None  # this system does not report that metric
        return "no result", None
    n = sum(1 for r in sysinfo["runs"] if metric in r)
    text = fmt(v)
    if n < nruns:
        text += f" ({n}/{nruns} runs)"
    return text, v


def verdict(cio, peer, hib):
    if cio is None or peer is None or cio <= 0 or peer <= 0:
        return "", ""  # no meaningful ratio (e.g. a lateness below zero)
    r = cio / peer
    better = r > 1 if hib else r < 1
    factor = r if r >= 1 else 1 / r
    ftext = f"{factor:.0f}" if factor >= 100 else f"{factor:.3g}"
    if abs(factor - 1) < 0.02:
        return f"{r:.3g}", "even"
    rtext = f"{r:.0f}" if r >= 100 else f"{r:.3g}"
    return rtext, f"{'cio' if better else 'peer'} {ftext}x better"


def main():
    raw, workloads = sys.argv[1], sys.argv[2:]
    header = read(os.path.join(raw, "header.txt")) or ""
    nruns = 0
    m = re.search(r"runs: (\d+)", header)
    if m:
        nruns = int(m.group(1))
    out = ["cio benchmarks: medians of every system, ratio cio/peer",
           "(lower is better for times, latencies and memory; higher for rates)"]
    out += header.splitlines()
    notes = []
    for w in workloads:
        systems = load(raw, w)
        if not systems:
            continue
        metrics = list(EXPECTED.get(w, []))
        for s in systems:  # extra metrics, cio's first
            for r in s["runs"]:
                for k in r:
                    if k not in metrics:
                        metrics.append(k)
        # an expected metric nobody reported (e.g. W3's 1m figures in a
        # smoke run) is left out when the systems that ran reported others
        if any(s["runs"] for s in systems):
            metrics = [k for k in metrics
                       if any(k in r for s in systems for r in s["runs"])]
        cio = next((s for s in systems if s["label"] == "cio"), None)
        rows = []
        for metric in metrics:
            hib = higher_is_better(metric)
            better = "-" if informative(metric) else "higher" if hib else "lower"
            cio_text, cio_v = cell(cio, metric, nruns) if cio else ("missing", None)
            first = True
            for s in systems:
                text, v = cell(s, metric, nruns)
                no_verdict = s is cio or informative(metric)
                ratio, verd = ("", "") if no_verdict else verdict(cio_v, v, hib)
                rows.append([metric if first else "", better if first else "",
                             s["label"], text, ratio, verd])
                first = False
        widths = [max(len(r[k]) for r in rows + [["metric", "better", "system", "median",
                                                    "cio/peer", ""]]) for k in range(6)]
        widths[3] = min(widths[3], 40)
        out.append("")
        out.append(f"{w} {TITLES.get(w, '')}")
        head = ["metric", "better", "system", "median", "cio/peer", "verdict"]
        out.append("  " + "  ".join(h.ljust(widths[k]) if k != 3 else h.rjust(widths[k])
                                    for k, h in enumerate(head)).rstrip())
        for r in rows:
            text = r[3]
            if len(text) > 40:
                text = text[:37] + "..."
            line = "  ".join([r[0].ljust(widths[0]), r[1].ljust(widths[1]), r[2].ljust(widths[2]),
                              text.rjust(widths[3]), r[4].rjust(widths[4]), r[5]])
            out.append("  " + line.rstrip())
        for s in systems:
            if s["status"] and len(s["status"]) > 40:
                notes.append(f"{w} {s['label']}: {s['status']}")
            if s["failed"]:
                notes.append(f"{w} {s['label']} failed: {s['failed']}")
    if notes:
        out.append("")
        out.append("notes:")
        out += ["  " + n for n in notes]
    print("\n".join(out))


if __name__ == "__main__":
    main()
