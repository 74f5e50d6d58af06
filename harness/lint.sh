#!/bin/bash
# Lint this repository's kernel files only; prints results like results.py:
#   checkpatch --strict   every C file and header we own (kernel and selftests)
#   layers                mm/ksm/ files include only lower layers' headers
#   kernel-doc -none -Wall   our kernel C files and headers
#   W=1                   our objects, recompiled with W=1 in the "ours" build
#   clean room            upstream mm/ksm.c is not linked into ours and our
#                         objects define none of its internal functions
#   docs                  make htmldocs of the directories we touch: no
#                         warning that the base tree does not have too;
#                         get_abi.pl validate; no sentence of our documents
#                         shared with upstream's (harness/doc_overlap.py)
#   series                make series: the patch series applies to the
#                         base tree with git am, equals the overlay, is
#                         checkpatch clean and fully in the KSM entry
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

# Layering: each file of mm/ksm/ includes only headers of lower layers.
log=$out/layers.log
python3 "$HARNESS/layers.py" mm/ksm > "$log" 2>&1 || true
report layers "$log" "upward includes"

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

# Documentation: the Sphinx build of the directories we touch, on both
# trees; a warning counts only if the base tree's build lacks it.
DOC_DIRS="mm admin-guide/mm"
docs_warnings() { # <tree>
	local t
	t=$(tree_of "$1")
	rm -rf "$t/out-docs"	# a full build: Sphinx only reports what it rebuilds
	make -C "$t" O="$t/out-docs" SPHINXDIRS="$DOC_DIRS" htmldocs 2>&1 |
		grep -E '(WARNING|ERROR|CRITICAL)' | sed "s|$t/||g" | LC_ALL=C sort -u || true
}
log=$out/htmldocs.log
docs_warnings upstream > "$out/htmldocs-upstream.txt"
docs_warnings ours > "$out/htmldocs-ours.txt"
LC_ALL=C comm -13 "$out/htmldocs-upstream.txt" "$out/htmldocs-ours.txt" > "$log"
[ -f "$(tree_of ours)/out-docs/Documentation/output/mm/ksm.html" ] ||
	echo "no output: Documentation/mm/ksm.rst was not built" >> "$log"
report htmldocs "$log" "new warnings"

log=$out/abi.log
(cd "$(tree_of ours)" && perl scripts/get_abi.pl validate --dir Documentation/ABI) > "$log" 2>&1 || true
report abi-validate "$log" "warnings"

log=$out/doc-overlap.log
python3 "$HARNESS/doc_overlap.py" \
	Documentation/mm/ksm.rst="$up/Documentation/mm/ksm.rst" \
	Documentation/mm/ksm.rst="$up/Documentation/admin-guide/mm/ksm.rst" \
	Documentation/admin-guide/mm/ksm.rst="$up/Documentation/admin-guide/mm/ksm.rst" \
	Documentation/admin-guide/mm/ksm.rst="$up/Documentation/mm/ksm.rst" \
	Documentation/ABI/testing/sysfs-kernel-mm-ksm="$up/Documentation/ABI/testing/sysfs-kernel-mm-ksm" \
	Documentation/ABI/testing/procfs-ksm="$up/Documentation/ABI/testing/sysfs-kernel-mm-ksm" \
	> "$log" 2>&1 && : > "$log"
report doc-overlap "$log" "passages shared with upstream's documents"

# The patch series: written, applied to the base tree, compared.
"$HARNESS/series.sh" 2>&1 | grep -E '^(PASS|FAIL) ' || echo "FAIL series/make-series make series failed, see $LOGS/series"
