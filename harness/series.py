#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Write the engine as a patch series, and check a written series.

  series.py commit REPO BASE     commit the steps of harness/series/steps.txt
                                 on top of tag BASE in git repository REPO
  series.py cover REPO BASE DIR  fill in the cover letter of the series in DIR
  series.py compare REPO BASE OVERLAY
                                 every path the commits BASE..HEAD touch must
                                 be byte for byte the same in the tree OVERLAY
  series.py steps                print "<n> <switch|-> <subject>" per step

The files of a step are the repository's files as they are at the end of
the series, minus the features that later steps bring in (trace calls,
the debugfs object, the KUnit objects): see the header of steps.txt.
"""
import os
import re
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HARNESS = os.path.join(TOP, 'harness')
STEPS = os.path.join(HARNESS, 'series', 'steps.txt')
COVER = os.path.join(HARNESS, 'series', 'cover.txt')
FEATURES = ('trace', 'debug', 'kunit')


def parse_steps():
    steps, cur = [], None
    for line in open(STEPS):
        line = line.rstrip('\n')
        if line.startswith('== '):
            cur = {'subject': line[3:], 'files': [], 'patches': [], 'remove': [],
                   'features': [], 'switch': False, 'body': [], 'in_body': False}
            steps.append(cur)
        elif cur is None:
            continue
        elif cur['in_body']:
            cur['body'].append(line)
        elif not line:
            cur['in_body'] = True
        elif line == 'switch':
            cur['switch'] = True
        else:
            key, _, val = line.partition(':')
            key = {'files': 'files', 'patch': 'patches', 'remove': 'remove',
                   'feature': 'features'}.get(key)
            if not key:
                sys.exit(f'steps.txt: unknown directive "{line}"')
            cur[key] += val.split()
    for s in steps:
        while s['body'] and not s['body'][-1]:
            s['body'].pop()
        for f in s['features']:
            if f not in FEATURES:
                sys.exit(f'steps.txt: unknown feature "{f}"')
    return steps


def tidy_blank_lines(lines):
    """Drop blank lines that removals left doubled, or next to braces."""
    out = []
    for line in lines:
        if not line.strip():
            if not out or not out[-1].strip() or out[-1].rstrip().endswith('{'):
                continue
        elif re.match(r'\s*}', line) and out and not out[-1].strip():
            out.pop()
        out.append(line)
    return out


def without_trace(text):
    lines, out, skipping = text.split('\n'), [], False
    for line in lines:
        if skipping:
            skipping = not line.rstrip().endswith(';')
            continue
        if line in ('#define CREATE_TRACE_POINTS', '#include <trace/events/ksm.h>'):
            continue
        if re.match(r'\s*trace_ksm_\w+\(', line):
            skipping = not line.rstrip().endswith(';')
            # A trace call that is the whole body of an "if" takes it along.
            if out and re.match(r'\s*if \(.*\)$', out[-1]):
                out.pop()
            continue
        out.append(line)
    return '\n'.join(tidy_blank_lines(out))


def without_make_lines(text, pattern):
    out, skipping = [], False
    for line in text.split('\n'):
        if skipping:
            skipping = line.endswith('\\')
            continue
        if re.match(pattern, line):
            skipping = line.endswith('\\')
            continue
        out.append(line)
    return '\n'.join(out)


def content_at(path, features):
    """The repository file @path as a step with @features sees it."""
    text = open(os.path.join(TOP, path)).read()
    if path.endswith('.c') and 'trace' not in features:
        text = without_trace(text)
    if os.path.basename(path) == 'Makefile':
        if 'debug' not in features:
            text = without_make_lines(text, r'obj-\$\(CONFIG_DEBUG_VM\)')
        if 'kunit' not in features:
            text = without_make_lines(text, r'obj-\$\(CONFIG_KSM_KUNIT_TEST\)')
    return text


def git(repo, *args, **kw):
    return subprocess.run(['git', '-C', repo] + list(args), check=True,
                          stdout=subprocess.PIPE, text=True, **kw).stdout


def identity():
    name = git(TOP, 'log', '-1', '--format=%an').strip()
    mail = git(TOP, 'log', '-1', '--format=%ae').strip()
    date = git(TOP, 'log', '-1', '--format=%aI').strip()
    return name, mail, date


def cmd_commit(repo, base):
    name, mail, date = identity()
    env = dict(os.environ, GIT_AUTHOR_NAME=name, GIT_AUTHOR_EMAIL=mail,
               GIT_COMMITTER_NAME=name, GIT_COMMITTER_EMAIL=mail,
               GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    git(repo, 'checkout', '-q', '-f', '-B', 'series', base)
    features = set()
    for s in parse_steps():
        features |= set(s['features'])
        for p in s['patches']:
            subprocess.run(['git', '-C', repo, 'apply', '--index',
                            os.path.join(HARNESS, 'patches', p)], check=True)
        for f in s['remove']:
            git(repo, 'rm', '-q', f)
        for f in s['files']:
            dst = os.path.join(repo, f)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            with open(dst, 'w') as out:
                out.write(content_at(f, features))
            git(repo, 'add', '-f', f)
        body = '\n'.join(s['body'])
        msg = f"{s['subject']}\n\n{body}\n\nSigned-off-by: {name} <{mail}>\n"
        subprocess.run(['git', '-C', repo, 'commit', '-q', '-F', '-'], input=msg,
                       text=True, check=True, env=env)


def results_summary():
    """The headline table of bench/RESULTS.md, laid out for a mail."""
    text = open(os.path.join(TOP, 'bench', 'RESULTS.md')).read()
    rows, started = [], False
    for line in text.split('\n'):
        if line.startswith('|'):
            started = True
            cells = [c.strip() for c in line.strip('|').split('|')]
            if not set(''.join(cells)) <= set('-:'):
                rows.append(cells)
        elif started:
            break
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    table = ['  '.join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    when = re.search(r'on (\d{4}-\d\d-\d\d \d\d:\d\d UTC)', text)
    rev = re.search(r'repository at ([0-9a-f]+)', text)
    met = re.search(r'(\d+ of \d+ targets met)', text)
    head = (f"bench/RESULTS.md of {when.group(1) if when else '?'} "
            f"(project repository at {rev.group(1) if rev else '?'}): "
            f"{met.group(1) if met else '?'}.")
    units = [l.replace('`', '') for l in text.split('\n') if l.startswith('Units:')]
    return head + '\n\n' + '\n'.join(table + [''] + units)


def cmd_cover(repo, base, outdir):
    cover = [f for f in os.listdir(outdir) if f.startswith('0000-')]
    if len(cover) != 1:
        sys.exit('no cover letter in ' + outdir)
    path = os.path.join(outdir, cover[0])
    text = open(path).read()
    tmpl = open(COVER).read()
    subject, _, blurb = tmpl.partition('\n\n')
    blurb = blurb.replace('@RESULTS@', results_summary()).rstrip('\n')
    subjects = [s['subject'] for s in parse_steps()]

    def number(m):
        hits = [i for i, s in enumerate(subjects, 1) if s.startswith(m.group(1))]
        if not hits:
            sys.exit(f'cover.txt: no step "{m.group(1)}"')
        return str(hits[0])
    blurb = re.sub(r'@N:([^@]+)@', number, blurb)
    text = text.replace('*** SUBJECT HERE ***', subject.strip())
    text = text.replace('*** BLURB HERE ***', blurb)
    open(path, 'w').write(text)


def cmd_compare(repo, base, overlay):
    out = git(repo, 'diff', '--name-status', '--no-renames', base, 'HEAD')
    bad = 0
    for line in out.splitlines():
        status, path = line.split('\t', 1)
        theirs = os.path.join(overlay, path)
        if status == 'D':
            if os.path.lexists(theirs):
                print(f'{path}: deleted by the series, present in the overlay')
                bad += 1
            continue
        ours = subprocess.run(['git', '-C', repo, 'show', f'HEAD:{path}'], check=True,
                              stdout=subprocess.PIPE).stdout
        if not os.path.exists(theirs):
            print(f'{path}: missing in the overlay')
            bad += 1
        elif open(theirs, 'rb').read() != ours:
            print(f'{path}: differs from the overlay')
            bad += 1
    n = len(out.splitlines())
    print(f'{n} paths compared, {bad} differ')
    return 1 if bad else 0


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ''
    if cmd == 'commit' and len(sys.argv) == 4:
        cmd_commit(sys.argv[2], sys.argv[3])
    elif cmd == 'cover' and len(sys.argv) == 5:
        cmd_cover(*sys.argv[2:])
    elif cmd == 'compare' and len(sys.argv) == 5:
        return cmd_compare(*sys.argv[2:])
    elif cmd == 'steps':
        for i, s in enumerate(parse_steps(), 1):
            print(i, 'switch' if s['switch'] else '-', s['subject'])
    else:
        sys.exit(__doc__)
    return 0


if __name__ == '__main__':
    sys.exit(main())
