#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Apply the expected-failures list to a results file and print the outcome.

usage: summary.py <results.txt> <expected-failures> <summary-out> [note]

A listed test that fails counts as an expected failure; a listed test
that passes fails the run ("unexpected pass"), so the list only shrinks.
Exits 1 on any failure.  The last line is "N passed, N failed, N skipped".
"""
import collections
import sys


def main():
    results, xfile, out = sys.argv[1:4]
    note = sys.argv[4] if len(sys.argv) > 4 else ''
    expected = {}
    with open(xfile) as fh:
        for line in fh:
            line = line.strip()
            if line and not line.startswith('#'):
                tid, _, why = line.partition(' ')
                expected[tid] = why.strip()
    counts = collections.Counter()
    per_suite = collections.defaultdict(collections.Counter)
    failures, xfails = [], []
    seen = set()
    with open(results) as fh:
        for line in fh:
            status, _, rest = line.rstrip('\n').partition(' ')
            tid, _, detail = rest.partition(' ')
            if not tid:
                continue
            seen.add(tid)
            if tid in expected:
                if status == 'FAIL':
                    status = 'XFAIL'
                    xfails.append(f'{tid}: {expected[tid]}')
                elif status == 'PASS':
                    status = 'FAIL'
                    detail = 'unexpected pass: remove it from harness/expected-failures'
            if status == 'FAIL':
                failures.append(f'FAIL {tid}: {detail}')
            counts[status] += 1
            per_suite[tid.split('/')[0]][status] += 1
    lines = ['', 'suite            passed  failed  skipped  xfail']
    for suite in sorted(per_suite):
        c = per_suite[suite]
        lines.append(f'{suite:16} {c["PASS"]:6}  {c["FAIL"]:6}  {c["SKIP"]:7}  {c["XFAIL"]:5}')
    if xfails:
        lines += ['', 'expected failures:'] + ['  ' + x for x in xfails]
    if failures:
        lines += ['', 'failures:'] + ['  ' + f for f in failures]
    if note:
        lines += ['', note]
    tail = f'{counts["PASS"]} passed, {counts["FAIL"]} failed, {counts["SKIP"]} skipped'
    if counts['XFAIL']:
        tail += f', {counts["XFAIL"]} expected failures'
    lines.append(tail)
    text = '\n'.join(lines) + '\n'
    sys.stdout.write(text)
    with open(out, 'w') as fh:
        fh.write(text)
    sys.exit(1 if counts['FAIL'] or not counts['PASS'] else 0)


if __name__ == '__main__':
    main()
