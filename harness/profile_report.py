#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn the "@@PROF" lines of harness/profile.sh into samples by function.

usage: profile_report.py <System.map> <console output> [functions]

Bucket i of /proc/profile counts the ticks whose program counter fell in
[_stext + i * step, _stext + (i + 1) * step).  Each bucket is charged to
the text symbol at or below its start.  Shares are of the samples that
were not in the idle loop.
"""
import bisect
import collections
import sys

IDLE = {"default_idle", "pv_native_safe_halt", "native_safe_halt",
        "arch_cpu_idle", "default_idle_call", "do_idle", "cpu_idle_poll"}


def symbols(path):
    syms = []
    for line in open(path):
        fields = line.split()
        if len(fields) >= 3 and fields[1] in "tTwW":
            syms.append((int(fields[0], 16), fields[2]))
    syms.sort()
    return syms


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    syms = symbols(sys.argv[1])
    addrs = [a for a, _ in syms]
    stext = next(a for a, n in syms if n == "_stext")
    top = int(sys.argv[3]) if len(sys.argv) > 3 else 40
    step, per_fn = None, collections.Counter()
    for line in open(sys.argv[2], errors="replace"):
        fields = line.split()
        if len(fields) != 3 or fields[0] != "@@PROF":
            continue
        if fields[1] == "step":
            step = int(fields[2])
            continue
        pc = stext + int(fields[1]) * step
        i = bisect.bisect_right(addrs, pc) - 1
        per_fn[syms[i][1] if i >= 0 else "?"] += int(fields[2])
    if step is None:
        sys.exit("profile_report: no profile in the output (was the kernel "
                 "booted with profile=?)")
    total = sum(per_fn.values())
    idle = sum(c for n, c in per_fn.items() if n in IDLE)
    busy = max(total - idle, 1)
    print(f"profile: {total} samples, {idle} idle, {total - idle} busy")
    print(f"{'samples':>8} {'busy %':>7}  function")
    for name, count in per_fn.most_common():
        if name in IDLE:
            continue
        print(f"{count:8d} {100.0 * count / busy:6.2f}%  {name}")
        top -= 1
        if top == 0:
            break


if __name__ == "__main__":
    main()
