#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Find text that one of our documents shares with upstream's.

usage: doc_overlap.py OURS=UPSTREAM [OURS=UPSTREAM ...]

Both files of a pair are reduced to words: reStructuredText markup is
stripped roughly (section adornments, directives, comments and labels,
inline literals, roles and emphasis), case is folded and punctuation
dropped.  In ABI files (files with "What:" lines) the What:, Date:,
KernelVersion: and Contact: lines are left out, since they are data
that must match, and the "Description:" and "Users:" labels are dropped.

Two kinds of findings are reported for each pair:

- a sentence of ours of 8 words or more that also occurs, word for word,
  anywhere in the upstream file;
- a run of 12 or more consecutive words of ours that also occurs in the
  upstream file, wherever sentences begin or end.

Sentences end at '.', '!' or '?' followed by white space, and at blank
lines and section titles.  The exit status is 0 when nothing was found,
1 when something was, and 2 on a usage or file error.
"""
import re
import sys

MIN_SENTENCE_WORDS = 8
MIN_RUN_WORDS = 12

ABI_DATA = re.compile(r'^(What|Date|KernelVersion|Contact):')
ABI_LABEL = re.compile(r'^(Description|Users):')
ADORNMENT = re.compile(r'^\s*([=\-~^"`#*+:.\'_])\1{2,}\s*$')
DIRECTIVE = re.compile(r'^\s*\.\.(\s|$)')
WORD = re.compile(r"[a-z0-9_]+(?:['\u2019-][a-z0-9_]+)*")
SENTENCE_END = re.compile(r'[.!?]+["\')\]]*(\s|$)')

INLINE = [
    (re.compile(r':[a-z:+-]+:`([^`<]*?)\s*(<[^>]*>)?`'), r'\1'),  # roles
    (re.compile(r'`([^`<]*?)\s*<[^>]*>`_{1,2}'), r'\1'),  # links
    (re.compile(r'``([^`]*)``'), r'\1'),  # literals
    (re.compile(r'`([^`]*)`_{0,2}'), r'\1'),
    (re.compile(r'\*\*([^*]+)\*\*'), r'\1'),
    (re.compile(r'\*([^*\s][^*]*)\*'), r'\1'),
    (re.compile(r'::\s*$'), ':'),
    (re.compile(r'\\(.)'), r'\1'),
]


def is_abi(lines):
    return any(re.match(r'^What:\s', line) for line in lines)


def clean(lines):
    """Yield (line number, text) with markup stripped; '' marks a break."""
    abi = is_abi(lines)
    for num, line in enumerate(lines, 1):
        text = line.rstrip('\n')
        if abi and ABI_DATA.match(text):
            yield num, ''
            continue
        if abi:
            text = ABI_LABEL.sub('', text)
        if 'SPDX-License-Identifier' in text or DIRECTIVE.match(text) or \
                ADORNMENT.match(text):
            yield num, ''
            continue
        for pattern, repl in INLINE:
            text = pattern.sub(repl, text)
        yield num, text


def words(path):
    """Return the words of a file and its sentences.

    Words are (word, line number) pairs; sentences are (start, end)
    index ranges into the word list.
    """
    try:
        with open(path, encoding='utf-8', errors='replace') as f:
            lines = f.readlines()
    except OSError as e:
        print(f'doc_overlap.py: {e}', file=sys.stderr)
        sys.exit(2)
    out, sentences, start = [], [], 0

    def cut():
        nonlocal start
        if len(out) > start:
            sentences.append((start, len(out)))
        start = len(out)

    for num, text in clean(lines):
        if not text.strip():
            cut()
            continue
        low = text.lower()
        for m in WORD.finditer(low):
            out.append((m.group(0), num))
            if SENTENCE_END.match(low, m.end()):
                cut()
    cut()
    return out, sentences


def runs(ours, theirs):
    """Maximal runs of ours of MIN_RUN_WORDS+ words found in theirs."""
    seen = {}
    toks = [w for w, _ in theirs]
    for i in range(len(toks) - MIN_RUN_WORDS + 1):
        seen.setdefault(tuple(toks[i:i + MIN_RUN_WORDS]), i)
    found, i = [], 0
    mine = [w for w, _ in ours]
    while i <= len(mine) - MIN_RUN_WORDS:
        at = seen.get(tuple(mine[i:i + MIN_RUN_WORDS]))
        if at is None:
            i += 1
            continue
        n = MIN_RUN_WORDS
        while i + n < len(mine) and at + n < len(toks) and mine[i + n] == toks[at + n]:
            n += 1
        found.append((i, n, at))
        i += n
    return found


def check(ours_path, theirs_path):
    ours, sentences = words(ours_path)
    theirs, _ = words(theirs_path)
    hay = ' ' + ' '.join(w for w, _ in theirs) + ' '
    hits = 0
    for s, e in sentences:
        if e - s < MIN_SENTENCE_WORDS:
            continue
        text = ' '.join(w for w, _ in ours[s:e])
        if ' ' + text + ' ' in hay:
            hits += 1
            print(f'{ours_path}:{ours[s][1]}: sentence also in {theirs_path}: "{text}"')
    for i, n, at in runs(ours, theirs):
        hits += 1
        text = ' '.join(w for w, _ in ours[i:i + n])
        print(f'{ours_path}:{ours[i][1]}: {n} words as in {theirs_path}:{theirs[at][1]}: '
              f'"{text}"')
    return hits


def main(argv):
    if not argv or any('=' not in a for a in argv) or argv[0] in ('-h', '--help'):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    hits = 0
    for arg in argv:
        ours, theirs = arg.split('=', 1)
        found = check(ours, theirs)
        print(f'{ours} vs {theirs}: {found} finding(s)')
        hits += found
    return 1 if hits else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
