#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn a VM console log into test results, one line each:

    <status> <id> [detail]          status: PASS FAIL SKIP

Sources in the log:
  * @@BEGIN/@@END frames written by run-tests.sh; a framed program that
    prints TAP gives one result per TAP line (named by the preceding
    "# [RUN] <name>" line when there is one), otherwise one by exit code;
  * KUnit KTAP printed by the kernel: one result per test case;
  * kernel splats anywhere in the log: each is a failure of kernel/<kind>.
A test listed but never started, or started but never finished, fails.

usage: results.py <console.log> <tests.list|-> [--no-kunit]
"""
import re
import sys

TS = re.compile(r'^\[\s*\d+\.\d+\]\s?')
TAP = re.compile(r'^(not ok|ok)\s+(\d+)\s*-?\s*(.*?)\s*(#\s*(SKIP|XFAIL|TODO)\b.*)?$')
SPLATS = [
    ('panic', re.compile(r'Kernel panic - not syncing')),
    ('kasan', re.compile(r'BUG: KASAN')),
    ('lockdep', re.compile(r'WARNING: possible (circular|recursive)|inconsistent lock state|'
                           r'WARNING: suspicious RCU|INFO: possible')),
    ('oops', re.compile(r'\bOops\b|general protection fault|BUG: unable to handle')),
    ('bug', re.compile(r'\bBUG: |kernel BUG at')),
    ('warning', re.compile(r'WARNING: .* at |WARNING: CPU: \d+')),
    ('kmemleak', re.compile(r'unreferenced object 0x|kmemleak: \d+ new suspected')),
    ('softlockup', re.compile(r'soft lockup - CPU#|rcu_sched self-detected stall|'
                              r'rcu: INFO: rcu_.* detected stalls')),
    ('hung-task', re.compile(r'blocked for more than \d+ seconds')),
    ('list-corruption', re.compile(r'list_(add|del) corruption')),
    ('bad-page', re.compile(r'BUG: Bad page (state|map)')),
]


def clean(line):
    return TS.sub('', line.rstrip('\r\n'))


def slug(text):
    text = re.sub(r'[^A-Za-z0-9_.+-]+', '_', text.strip()).strip('_')
    return text[:80] or 'unnamed'


def tap_results(test_id, lines):
    """One result per TAP line; a failure carries the last diagnostics before it."""
    out, run_name, seen, notes = [], None, set(), []
    for line in lines:
        m = re.match(r'^#\s*\[RUN\]\s*(.+)$', line)
        if m:
            run_name = m.group(1).strip()
            continue
        m = TAP.match(line)
        if not m or line.startswith('ok') and m.group(2) is None:
            if line.startswith('#'):
                notes.append(line.lstrip('# ').strip())
            continue
        name = run_name or m.group(3) or m.group(2)
        run_name = None
        sub = f'{test_id}/{slug(name)}'
        while sub in seen:
            sub += '+'
        seen.add(sub)
        if m.group(5) == 'SKIP':
            status = 'SKIP'
        else:
            status = 'PASS' if m.group(1) == 'ok' else 'FAIL'
        detail = m.group(3)
        if status == 'FAIL' and notes:
            detail += ' [' + ' | '.join(notes[-3:]) + ']'
        notes = []
        out.append((status, sub, detail))
    return out


def framed(lines, listed):
    results, started = [], set()
    cur, body = None, []
    for line in lines:
        if line.startswith('@@BEGIN '):
            cur, body = line.split()[1], []
            started.add(cur)
            continue
        if cur and line.startswith('@@END '):
            f = line.split()
            rc = int(f[2].split('=')[1])
            taps = tap_results(cur, body)
            results += taps
            fails = [t for t in taps if t[0] == 'FAIL']
            if not taps:
                status = {0: 'PASS', 4: 'SKIP'}.get(rc, 'FAIL')
                tail = ' | '.join(body[-3:])
                results.append((status, cur, f'rc={rc} {tail}' if status != 'PASS' else ''))
            elif rc not in (0, 4) and not fails:
                results.append(('FAIL', cur, f'exit status {rc} after its TAP results'))
            cur = None
            continue
        if cur:
            body.append(line)
    if cur:
        results.append(('FAIL', cur, 'never finished (VM died or timed out): '
                        + ' | '.join(body[-3:])))
    for t in listed:
        if t not in started:
            results.append(('FAIL', t, 'never started'))
    return results


def kunit(lines):
    """Test cases of every KUnit suite: KTAP with the suite's cases at 4 spaces."""
    results, suite = [], None
    for line in lines:
        m = re.match(r'^    # Subtest: (\S+)', line)
        if m:
            suite = m.group(1)
            continue
        if suite is None:
            continue
        m = re.match(r'^    (not ok|ok) \d+ (\S+)(.*)$', line)
        if m:
            skip = re.search(r'#\s*SKIP', m.group(3))
            status = 'SKIP' if skip else ('PASS' if m.group(1) == 'ok' else 'FAIL')
            results.append((status, f'kunit/{suite}/{m.group(2)}', m.group(3).strip()))
        elif re.match(r'^(not ok|ok) \d+ ', line):
            suite = None
    return results


def splats(lines):
    """One failure per kind of splat, naming the first and the count."""
    first, count = {}, {}
    for i, line in enumerate(lines):
        for kind, rx in SPLATS:
            if rx.search(line):
                first.setdefault(kind, i)
                count[kind] = count.get(kind, 0) + 1
                break
    return [('FAIL', f'kernel/{kind}',
             f'{count[kind]}x, first at log line {i + 1}: ' + ' | '.join(lines[i:i + 6]))
            for kind, i in first.items()]


def main():
    log, listfile = sys.argv[1], sys.argv[2]
    with open(log, errors='replace') as fh:
        lines = [clean(l) for l in fh]
    listed = []
    if listfile != '-':
        with open(listfile) as fh:
            listed = [l.split()[0] for l in fh if l.strip() and not l.startswith('#')]
    res = framed(lines, listed)
    if '--no-kunit' not in sys.argv:
        res += kunit(lines)
    res += splats(lines)
    if not any(l.startswith('@@BOOTED') for l in lines):
        res.append(('FAIL', 'vm/boot', 'the VM never reached /init'))
    elif not any(l.startswith('@@JOB-DONE') for l in lines):
        res.append(('FAIL', 'vm/job', 'the job did not finish (timeout or crash)'))
    for status, tid, detail in res:
        print(f'{status} {tid} {detail}'.rstrip())


if __name__ == '__main__':
    main()
