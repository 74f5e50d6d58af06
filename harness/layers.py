#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Check the layering of mm/ksm/ against the table in its DOC: Layers block.

Every file of the engine (tests excepted) belongs to the layer of its
stem in the table of mm/ksm/state.h.  A file may include the header of
its own stem and the headers of lower layers only; every .c file must be
in the table, and every table entry must exist.  Prints one line per
violation and exits 1 if there is any.

usage: layers.py [DIR]    (default mm/ksm)
"""
import os
import re
import sys


def read_table(path):
    text = open(path).read()
    m = re.search(r'DOC: Layers\n(.*?)\*/', text, re.S)
    if not m:
        sys.exit(f'{path}: no "DOC: Layers" block')
    layers, layer = {}, None
    in_table = False
    for line in m.group(1).splitlines():
        body = line.lstrip().lstrip('*')
        if body.rstrip().endswith('::'):
            in_table = True
            continue
        if not in_table or not body.strip():
            continue
        if not body.startswith('   '):
            break
        cols = re.match(r'\s+(\d+)?\s+((?:[\w-]+\.c\s?)+)', body)
        if not cols:
            continue
        if cols.group(1):
            layer = int(cols.group(1))
        for name in cols.group(2).split():
            layers[name[:-2]] = layer
    return layers


def main():
    top = sys.argv[1] if len(sys.argv) > 1 else 'mm/ksm'
    layers = read_table(os.path.join(top, 'state.h'))
    bad = []
    files = sorted(f for f in os.listdir(top) if f.endswith(('.c', '.h')))
    for stem in layers:
        if not os.path.exists(os.path.join(top, stem + '.c')):
            bad.append(f'{stem}.c: in the table but missing')
    for f in files:
        stem = f[:-2]
        if stem not in layers:
            bad.append(f'{f}: not in the layer table of state.h')
            continue
        for n, line in enumerate(open(os.path.join(top, f)), 1):
            inc = re.match(r'#include\s+"([^"]+)\.h"', line)
            if not inc or inc.group(1).startswith('../'):
                continue
            dep = inc.group(1)
            if dep == stem:
                continue
            if dep not in layers:
                bad.append(f'{f}:{n}: includes "{dep}.h", which has no layer')
            elif layers[dep] >= layers[stem]:
                bad.append(f'{f}:{n}: layer {layers[stem]} includes "{dep}.h" '
                           f'of layer {layers[dep]}')
    for b in bad:
        print(b)
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
