#!/bin/bash
# Lint this repository's kernel files only; prints results like results.py:
#   checkpatch --strict   every C file and header we own (kernel and selftests)
#   kernel-doc -none -Wall   our kernel C files and headers
#   W=1                   our objects, recompiled with W=1 in the "ours" build
#   clean room            upstream mm/ksm.c is not linked into ours and our
#                         objects define none of its internal functions
# SPDX-License-Identifier: GPL-2.0
. "$(dirname "$0")/lib.sh"

up=$SRC/upstream
cd "$TOP"
kfiles=$(git ls-files -co --exclude-standard 'mm/*.[ch]' 'mm/**/*.[ch]' 'include/*.h' 'include/**/*.h' 2>/dev/null | sort -u)
sfiles=$(git ls-files -co --exclude-standard 'tools/testing/selftests/*.[ch]' 'tools/testing/selftests/**/*.[ch]' 2>/dev/null | sort -u)
out=$LOGS/lint
mkdir -p "$out"

report() { # <id> <logfile> <what>
	if [ -s "$2" ]; then
		echo "FAIL lint/$1 $(grep -c . "$2") $3, see $2: $(head -n 3 "$2" | tr '\n' '|')"
	else
		echo "PASS lint/$1"
	fi
}

# checkpatch: one result per file.
for f in $kfiles $sfiles; do
	log=$out/checkpatch-$(echo "$f" | tr / _).log
	perl "$up/scripts/checkpatch.pl" --no-tree --strict --terse --show-types \
		--ignore FILE_PATH_CHANGES,SPDX_LICENSE_TAG --file "$f" 2>&1 |
		grep -E '(ERROR|WARNING|CHECK):' > "$log" || true
	report "checkpatch/$f" "$log" findings
done

# kernel-doc over our kernel files.
log=$out/kernel-doc.log
if [ -n "$kfiles" ]; then
	perl "$up/scripts/kernel-doc" -none -Wall $kfiles > "$log" 2>&1 || true
else
	: > "$log"
fi
report kernel-doc "$log" warnings

# W=1: force our mm objects to recompile and keep their warnings.
log=$out/w1.log
: > "$log"
obj=$(objdir_of ours)
if [ -f "$obj/.config" ]; then
	objs=()
	for f in $kfiles; do
		case "$f" in mm/*.c) objs+=("${f%.c}.o"); rm -f "$obj/${f%.c}.o" ;; esac
	done
	if [ ${#objs[@]} -gt 0 ]; then
		kmake ours W=1 "${objs[@]}" 2>&1 | grep -E 'warning:|error:' > "$log" || true
	fi
	report W=1 "$log" warnings
else
	echo "FAIL lint/W=1 the ours kernel is not configured; build it first"
fi

# Clean room: upstream mm/ksm.c is not linked into ours, and no function
# of our engine carries the name of one of its internal functions.
log=$out/upstream-symbols.log
obj=$(objdir_of ours)
if [ -f "$obj/vmlinux" ]; then
	api=$(grep -ohE '\b(__)?[a-z_]*ksm[a-z_]*\(' "$up/include/linux/ksm.h" | tr -d '(' | sort -u)
	grep -oE '^[a-z_][^=;]*\b[a-z_0-9]+\(' "$up/mm/ksm.c" | grep -oE '[a-z_0-9]+\($' | tr -d '(' |
		sort -u | grep -vxF -f <(echo "$api") > "$out/upstream-functions.txt" || true
	{
		ar t "$obj/mm/built-in.a" 2>/dev/null | grep -E '(^|/)mm/ksm\.o$' |
			sed 's/^/linked: /' || true
		nm "$obj"/mm/ksm/*.o 2>/dev/null | awk '{ print $NF }' |
			sed 's/\.[a-z]*\.[0-9]*$//' | sort -u |
			grep -xF -f "$out/upstream-functions.txt" | sed 's/^/defined: /' || true
	} > "$log"
	report clean-room "$log" "traces of upstream mm/ksm.c"
else
	echo "FAIL lint/clean-room the ours kernel is not built"
fi
