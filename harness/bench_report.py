#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Report of harness/bench.sh: read the raw VM consoles of build/bench/raw/,
take the median of each figure per kernel, the ratio ours/upstream and the
target, and write results.md, results.csv, mix.dat and mix.png.

    bench_report.py <build/bench> [--publish <dir>]

--publish copies results.md to <dir>/RESULTS.md and the plot to
<dir>/mix.png.  Exits 1 when a workload failed or a figure is missing
from a run of either kernel; a missed target is only reported.
"""

import argparse
import csv
import glob
import os
import re
import shutil
import statistics
import subprocess
import sys

KERNELS = ("upstream", "ours")

# (figure regex, "<=" or ">=", bound on ours/upstream)
TARGETS = [
    (r"scan_us_per_page_", "<=", 0.33),
    (r"scan_growth$", "<=", 1.0),
    (r"merge_s_", "<=", 0.33),
    (r"mix_converge_s$", "<=", 0.5),
    (r"mix_saved_mib$", ">=", 1.0),
    (r"cow_us_per_page$", "<=", 1.05),
    (r"unmerge_us_per_mib$", "<=", 1.05),
    (r"meta_bytes_per_page$", "<=", 0.5),
    (r"idle_cpu_pct$", "<=", 1.0),
    (r"volatile_cow_per_saved_page$", "<=", 1.0),
    (r"latency_(mmap|fault)_p99_us$", "<=", 1.0),
    (r"exit_(ms|sysfs_max_ms)$", "<=", 1.0),
    (r"thp_saved_mib$", ">=", 0.9),
    (r"thp_splits$", "<=", 0.1),
]

# Targets on the value of ours alone: (figure regex, "<=" or ">=", bound).
ABS_TARGETS = [
    (r"sidechan_auc_hardened$", "<=", 0.55),
]

# Figures measured in the first round only (the QEMU guests take long).
FIRST_ROUND_ONLY = re.compile(r"guests_")

# Figures of modes only ours has (hardened, merge domains); upstream runs
# lack them, and their ratio is taken against upstream's plain figure.
OURS_ONLY = re.compile(r".*_hardened$|mix_(hardened|memcg|process)_")


def baseline_of(fig):
    """The upstream figure an ours-only figure is compared with."""
    if not OURS_ONLY.match(fig):
        return fig
    return re.sub(r"^mix_(hardened|memcg|process)_", "mix_", re.sub(r"_hardened$", "", fig))


def abs_target_of(fig):
    for pat, op, bound in ABS_TARGETS:
        if re.match(pat, fig):
            return op, bound
    return None


# Kernel console lines that mean something went wrong in the VM.
SPLAT = re.compile(r"^\[\s*\d+\.\d+\] .*(WARNING:|BUG:|Oops:|Kernel panic - |"
                   r"blocked for more than|Out of memory)")

# /sys/kernel/mm/ksm files that are counters, not knobs.
COUNTERS = re.compile(r"full_scans|general_profit|ksm_zero_pages|pages_(scanned|shared|"
                      r"sharing|skipped|unshared|volatile)|stable_node_(chains|dups)$")

# Figures for which bigger is better; for the others smaller is.
BIGGER_BETTER = re.compile(r"mix_(\w+_)?(saved_mib|pages_sharing|general_profit_mib)$|"
                           r"thp_(saved_mib|kept_pct)$|guests_(saved|sharing)_mib|guests_thp_kept")


def target_of(fig):
    for pat, op, bound in TARGETS:
        if re.match(pat, fig):
            return op, bound
    return None


def size_mib(tag):
    return int(tag[:-1]) * (1024 if tag.endswith("G") else 1)


def parse_run(path):
    """Figures, series, notes, knobs and failures of one raw console."""
    run = {"figs": {}, "series": [], "notes": [], "knobs": {}, "fail": [],
           "order": [], "qemu_cmd": "", "times": {}}
    start = 0.0
    text = open(path, errors="replace").read()
    for line in text.splitlines():
        if line.startswith("# qemu-system"):
            run["qemu_cmd"] = line[2:]
        m = re.search(r"\] Linux version (\S+) .*?(#\d+ .*)$", line)
        if m and not run.get("kernel"):
            run["kernel"] = f"{m[1]} {m[2]}"
        m = re.search(r"@@FIG (\S+) (\S+)", line)
        if m:
            run["figs"][m[1]] = float(m[2])
            run["order"].append(m[1])
        m = re.search(r"@@SERIES (\S+) (\S+) (\S+)", line)
        if m:
            run["series"].append((float(m[2]), float(m[3])))
        m = re.search(r"@@NOTE (.*)", line)
        if m:
            run["notes"].append(m[1].strip())
        m = re.match(r"@@KNOB (\S+) (.*)", line)
        if m:
            run["knobs"][m[1]] = m[2].strip()
        m = re.match(r"@@RUN t=(\S+) (.*)", line)
        if m:
            start = float(m[1])
        m = re.match(r"@@RC (\d+) t=(\S+) (.*)", line)
        if m:
            run["times"][m[3]] = float(m[2]) - start
            if m[1] != "0":
                run["fail"].append(f"'{m[3]}' exited with {m[1]}")
        if SPLAT.search(line):
            run["notes"].append("kernel: " + line.strip())
    if "@@BENCH-END" not in text:
        run["fail"].append("the VM did not finish the benchmark")
    # Derived: growth of the scan cost from the smallest to the largest size.
    scans = sorted((size_mib(f.rsplit("_", 1)[1]), v) for f, v in run["figs"].items()
                   if f.startswith("scan_us_per_page_"))
    if len(scans) >= 2 and scans[0][1] > 0:
        run["figs"]["scan_growth"] = scans[-1][1] / scans[0][1]
        last = max(i for i, f in enumerate(run["order"]) if f.startswith("scan_us"))
        run["order"].insert(last + 1, "scan_growth")
    return run


def fmt(v):
    if v is None:
        return "-"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:#.3g}" if abs(v) < 1 else f"{v:.2f}"


def median_round(runs, fig):
    """Index of the run whose @fig is the (lower) median."""
    vals = sorted((r["figs"].get(fig, 0), i) for i, r in enumerate(runs))
    return vals[(len(vals) - 1) // 2][1]


def plot(out, runs, rounds):
    """mix.dat (one block per kernel) and mix.png, from the round with the
    median convergence time."""
    dat = os.path.join(out, "mix.dat")
    titles = []
    with open(dat, "w") as f:
        f.write("# MiB saved over time, workload 3 (ksm_mix); one block per kernel\n")
        for k in KERNELS:
            i = median_round(runs[k], "mix_converge_s")
            titles.append(f"{k} (round {rounds[k][i]})")
            f.write(f"# {k} round {rounds[k][i]}\n# t_s saved_mib\n")
            for t, v in runs[k][i]["series"]:
                f.write(f"{t:.2f} {v:.2f}\n")
            f.write("\n\n")
    png = os.path.join(out, "mix.png")
    script = f"""
set terminal pngcairo size 900,520 font ",11"
set output '{png}'
set title 'Host-like mix (ksm\\_mix): memory saved over time'
set xlabel 'time since run=1 (s)'
set ylabel 'MiB saved (pages\\_sharing x 4 KiB)'
set key bottom right
set grid
plot '{dat}' index 0 with lines lw 2 title '{titles[0]}', \\
     '{dat}' index 1 with lines lw 2 title '{titles[1]}'
"""
    try:
        subprocess.run(["gnuplot"], input=script, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"warning: no plot: {e}", file=sys.stderr)
        return None
    return png


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--publish")
    args = ap.parse_args()
    out = args.out

    meta, workloads = {}, []
    for line in open(os.path.join(out, "meta.txt")):
        key, _, val = line.rstrip("\n").partition("=")
        if key == "workload":
            workloads.append(val)
        else:
            meta[key] = val

    runs, rounds = {k: [] for k in KERNELS}, {k: [] for k in KERNELS}
    for k in KERNELS:
        paths = glob.glob(os.path.join(out, "raw", f"{k}-r*.txt"))
        for p in sorted(paths, key=lambda p: int(re.search(r"-r(\d+)\.txt$", p)[1])):
            runs[k].append(parse_run(p))
            rounds[k].append(int(re.search(r"-r(\d+)\.txt$", p)[1]))

    problems = []
    for k in KERNELS:
        if not runs[k]:
            problems.append(f"{k}: no raw console")
        for r, run in zip(rounds[k], runs[k]):
            problems += [f"{k} round {r}: {f}" for f in run["fail"]]

    # Figures in order of first appearance; each must be in every run.
    figs = []
    for k in KERNELS:
        for run in runs[k]:
            figs += [f for f in run["order"] if f not in figs]
    for k in KERNELS:
        for r, run in zip(rounds[k], runs[k]):
            missing = [f for f in figs if f not in run["figs"]
                       and not (k == "upstream" and OURS_ONLY.match(f))
                       and not (r != 1 and FIRST_ROUND_ONLY.match(f))]
            if missing:
                problems.append(f"{k} round {r}: missing {' '.join(missing)}")

    rows = []
    for fig in figs:
        med = {}
        for k in KERNELS:
            name = baseline_of(fig) if k == "upstream" else fig
            vals = [run["figs"][name] for run in runs[k] if name in run["figs"]]
            med[k] = statistics.median(vals) if vals else None
        ratio = None
        if med["upstream"] and med["ours"] is not None:
            ratio = med["ours"] / med["upstream"]
        tgt, met, target = target_of(fig), "", ""
        if tgt:
            op, bound = tgt
            target = f"{op} {bound}"
            if ratio is None:
                met = "NOT met"
            else:
                ok = ratio <= bound if op == "<=" else ratio >= bound
                met = "met" if ok else "NOT met"
        atgt = abs_target_of(fig)
        if atgt:
            op, bound = atgt
            target = f"ours {op} {bound}"
            if med["ours"] is None:
                met = "NOT met"
            else:
                ok = med["ours"] <= bound if op == "<=" else med["ours"] >= bound
                met = "met" if ok else "NOT met"
        rows.append({
            "figure": fig, "upstream": med["upstream"], "ours": med["ours"],
            "ratio": ratio, "target": target,
            "met": met,
            "upstream_rounds": [run["figs"].get(baseline_of(fig)) for run in runs["upstream"]],
            "ours_rounds": [run["figs"].get(fig) for run in runs["ours"]],
        })

    with open(os.path.join(out, "results.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["figure", "upstream", "ours", "ratio_ours_upstream", "target",
                    "met", "upstream_rounds", "ours_rounds"])
        for row in rows:
            w.writerow([row["figure"],
                        "" if row["upstream"] is None else f"{row['upstream']:.6g}",
                        "" if row["ours"] is None else f"{row['ours']:.6g}",
                        "" if row["ratio"] is None else f"{row['ratio']:.4f}",
                        row["target"], row["met"],
                        ";".join("" if v is None else f"{v:.6g}" for v in row["upstream_rounds"]),
                        ";".join("" if v is None else f"{v:.6g}" for v in row["ours_rounds"])])

    png = plot(out, runs, rounds) if all(runs[k] for k in KERNELS) else None

    nrounds = meta.get("rounds", "?")
    table = ["| figure | upstream | ours | ours/upstream | target | |",
             "|---|---:|---:|---:|---|---|"]
    for row in rows:
        ratio = "-" if row["ratio"] is None else f"{row['ratio']:.2f}"
        target = row["target"].replace("<=", "≤").replace(">=", "≥")
        table.append(f"| {row['figure']} | {fmt(row['upstream'])} | {fmt(row['ours'])} | "
                     f"{ratio} | {target} | {row['met']} |")
    met = sum(r["met"] == "met" for r in rows)
    targets = sum(bool(r["met"]) for r in rows)

    def kernel_of(k):
        return " / ".join(sorted({run.get("kernel", "?") for run in runs[k]}))

    def med_time(k, w):
        vals = [run["times"][w] for run in runs[k] if w in run["times"]]
        return statistics.median(vals) if vals else None

    knobs = {k: (runs[k][0]["knobs"] if runs[k] else {}) for k in KERNELS}
    knob_names = sorted(n for n in set(knobs["upstream"]) | set(knobs["ours"])
                        if not COUNTERS.match(n))
    md = ["# KSM benchmark: our engine against upstream",
          "",
          f"Generated by `make bench` (harness/bench.sh, harness/bench_report.py) on "
          f"{meta.get('date', '?')}{' in QUICK mode' if meta.get('quick') == '1' else ''}; "
          "not edited by hand.",
          "",
          f"Median of {nrounds} round(s) per kernel; ratio = ours / upstream. "
          "Smaller is better except for `mix_saved_mib`, `mix_pages_sharing` and "
          "`mix_general_profit_mib` (and their `mix_hardened_`/`mix_process_` "
          "variants), where bigger is. Figures of modes upstream lacks "
          "(`*_hardened`, `mix_hardened_*`, `mix_process_*`) are compared with "
          "upstream's plain figure of the same workload (`sidechan_auc`, `mix_*`), "
          "that is: the mode against upstream as it runs today. "
          f"{met} of {targets} targets met.",
          "",
          *table,
          "",
          "Units: `_s` seconds, `_cpu_s` ksmd CPU seconds, `us_per_page` µs per 4 KiB "
          "page, `_mib` MiB, `_pct` % of one CPU (`kept_pct`: % of the huge pages, "
          "`merged_pct`/`ksm_pct`: % of the pages), `bytes_per_page` bytes per registered "
          "page, `scan_growth` = scan cost at the largest size / at the smallest. "
          "`guests_*`: three QEMU guests in the VM, first round only.",
          "",
          "## Setup",
          "",
          f"- kernel: Debian `{meta.get('base_version', '?')}` (both kernels; `upstream` "
          "is the pristine tree, `ours` has mm/ksm/)",
          f"- images booted: upstream `{kernel_of('upstream')}`, ours `{kernel_of('ours')}`; "
          f"repository at {meta.get('commit', '?')}",
          f"- QEMU: {meta.get('qemu', '?')}; accelerator {meta.get('accel', '?')}; "
          f"{meta.get('vm_mem', '?')} memory, {meta.get('vm_cpus', '?')} vCPUs, "
          "numa=fake=2, zram swap, transparent_hugepage=madvise",
          f"- host: {meta.get('host', '?')}",
          f"- rounds: {nrounds}, the kernels alternating (odd rounds upstream first); "
          f"the VMs took {meta.get('vm_seconds', '?')} s",
          f"- VM command: `{runs['upstream'][0]['qemu_cmd'] if runs['upstream'] else '?'}`",
          "- workloads, in this order in every VM (in /opt/tests, sources in "
          "harness/workloads/), with their median time in the VM, upstream / ours:",
          *[f"  - `{w}`: {fmt(med_time('upstream', w))} s / {fmt(med_time('ours', w))} s"
            for w in workloads],
          "- knobs set by the workloads (same on both kernels): scan cost, merge speed, "
          "COW and metadata at `pages_to_scan=20000 sleep_millisecs=0`; the mix at "
          "`pages_to_scan=2000 sleep_millisecs=20`; idle at `pages_to_scan=100 "
          "sleep_millisecs=20` (after full-speed passes that bring the pages to "
          "smart scan's steady state); every other knob at its default:",
          "",
          "| knob at boot | upstream | ours |",
          "|---|---|---|",
          *[f"| {n} | {knobs['upstream'].get(n, '-')} | {knobs['ours'].get(n, '-')} |"
            for n in knob_names],
          "",
          "## Per round",
          "",
          "| figure | " + " | ".join(f"upstream r{r}" for r in rounds["upstream"]) + " | "
          + " | ".join(f"ours r{r}" for r in rounds["ours"]) + " |",
          "|---|" + "---:|" * (len(rounds["upstream"]) + len(rounds["ours"])),
          *[f"| {row['figure']} | "
            + " | ".join(fmt(v) for v in row["upstream_rounds"] + row["ours_rounds"]) + " |"
            for row in rows],
          ""]
    notes = [f"- {k} round {r}: {n}" for k in KERNELS
             for r, run in zip(rounds[k], runs[k]) for n in run["notes"]]
    notes += [f"- {k}: different builds booted in different rounds: {kernel_of(k)}"
              for k in KERNELS if " / " in kernel_of(k)]
    if notes or problems:
        md += ["## Notes", "", *notes, *[f"- FAILED: {p}" for p in problems], ""]
    missed = [r["figure"] for r in rows if r["met"] == "NOT met"]
    if missed:
        md += ["## Targets not met", "",
               "Not met in this run: " + ", ".join(f"`{f}`" for f in missed) + ". "
               "What the measurements show about them, and what would close them, is "
               "in [ANALYSIS.md](ANALYSIS.md) (written by hand, naming the run it "
               "speaks of).", ""]
    if png:
        md += ["## Workload 3: memory saved over time", "",
               "![MiB saved over time, ours vs upstream](mix.png)", ""]
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write("\n".join(md))

    print("\n".join(table))
    print(f"\n{met} of {targets} targets met; medians of {nrounds} round(s); "
          f"{os.path.join(out, 'results.md')}, results.csv, mix.png")
    for n in notes:
        print("note:" + n[1:])
    for p in problems:
        print(f"FAILED: {p}", file=sys.stderr)

    if args.publish and not problems:
        os.makedirs(args.publish, exist_ok=True)
        shutil.copy(os.path.join(out, "results.md"), os.path.join(args.publish, "RESULTS.md"))
        if png:
            shutil.copy(png, os.path.join(args.publish, "mix.png"))
        print(f"published {args.publish}/RESULTS.md")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
