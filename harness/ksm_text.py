#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Name the text range of the KSM engine in a built kernel.

usage: ksm_text.py <kernel object directory>

Prints two symbol names: the first function of mm/ksm/ and the first
function after it, both unique in System.map, so that a guest can find
the range in /proc/kallsyms whatever KASLR did.  ksm_stress -f limits
the kernel's fault injection to stacks that pass through this range.
The engine's objects are linked one after the other, so their functions
form one run of System.map (init code and static-call trampolines live
elsewhere and are left out).
"""
import collections
import subprocess
import sys


def main():
    obj = sys.argv[1]
    nm = subprocess.run(['nm', '--defined-only', f'{obj}/mm/ksm/built-in.a'],
                        capture_output=True, text=True, check=True).stdout
    ours = {f[2] for f in (l.split() for l in nm.splitlines())
            if len(f) == 3 and f[1] in 'tT'}
    rows = []
    with open(f'{obj}/System.map') as f:
        for line in f:
            addr, kind, name = line.split()[:3]
            if kind in 'tT':
                rows.append((int(addr, 16), name))
    rows.sort()
    count = collections.Counter(name for _, name in rows)
    # The run of consecutive functions that are all ours holding the most
    # names found nowhere else (constructors such as _sub_I_65535_0 have
    # the same name in every object and form runs of their own).
    best, start, unique = (0, 0, 0), None, 0
    for i, (_, name) in enumerate(rows + [(0, '')]):
        if name in ours:
            if start is None:
                start, unique = i, 0
            unique += count[name] == 1
            continue
        if start is not None and unique > best[2]:
            best = (start, i, unique)
        start = None
    first, after, unique = best
    while first < after and count[rows[first][1]] != 1:
        first += 1
    while after < len(rows) and count[rows[after][1]] != 1:
        after += 1
    if unique < 50 or after >= len(rows):
        sys.exit(f'ksm_text.py: no run of mm/ksm functions in {obj}/System.map')
    print(rows[first][1], rows[after][1])


if __name__ == '__main__':
    main()
