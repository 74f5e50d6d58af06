#!/bin/bash
# Build the statically linked guest programs and the base initramfs:
#   build/guest/bin/   upstream KSM selftests, this repository's selftests,
#                      and the workload programs of harness/workloads/
#   build/guest/base.cpio  busybox + /init + the programs
# SPDX-License-Identifier: GPL-2.0
. "$(dirname "$0")/lib.sh"

"$HARNESS/tree.sh"
G=$BUILD/guest
HDR=$G/headers
BIN=$G/bin
mkdir -p "$BIN"

# Exported UAPI headers of our tree (identical to upstream's today).
if [ ! -f "$HDR/include/linux/mman.h" ] || [ "$HARNESS/userspace.sh" -nt "$HDR/.stamp" ]; then
	say "installing kernel headers"
	make -s -C "$SRC/ours" O="$G/hdr-obj" INSTALL_HDR_PATH="$HDR" headers_install >/dev/null
	touch "$HDR/.stamp"
fi

CC=${CC_GUEST:-gcc}
CFLAGS="-O2 -Wall -static -U_FORTIFY_SOURCE -isystem $HDR/include"
LIBS="-lrt -lpthread -lm"

# build <output> <selftests dir> <sources...> [-- extra link flags]
build() {
	local out=$1 dir=$2; shift 2
	local srcs=() extra=()
	while [ $# -gt 0 ]; do
		[ "$1" = -- ] && { shift; extra=("$@"); break; }
		srcs+=("$dir/$1"); shift
	done
	local newest
	newest=$(ls -tL "${srcs[@]}" "$dir"/*.h "$0" 2>/dev/null | head -n 1 || true)
	[ -x "$BIN/$out" ] && [ "$BIN/$out" -nt "$newest" ] && return 0
	$CC $CFLAGS -isystem "$dir/../../../../tools/include/uapi" \
		-I "$dir/../../../.." -I "$dir" \
		-o "$BIN/$out" "${srcs[@]}" $LIBS "${extra[@]}" > "$LOGS/guest-$out.log" 2>&1 ||
		{ cat "$LOGS/guest-$out.log" >&2; die "building guest program $out failed"; }
}

# Upstream's KSM selftests, from the pristine tree.
up_mm=$SRC/upstream/tools/testing/selftests/mm
build ksm_functional_tests "$up_mm" ksm_functional_tests.c vm_util.c
build ksm_tests "$up_mm" ksm_tests.c vm_util.c thp_settings.c -- -lnuma

# This repository's selftests: every ksm_*.c program of ours, built in
# the overlaid tree next to upstream's helpers.
our_mm=$SRC/ours/tools/testing/selftests/mm
for f in "$TOP"/tools/testing/selftests/mm/*.c; do
	[ -f "$f" ] || continue
	grep -q '^int main' "$f" || continue
	name=$(basename "$f" .c)
	build "$name" "$our_mm" "$name.c" vm_util.c
done

# Workload programs (demo, benchmarks, stress).
for f in "$HARNESS"/workloads/*.c; do
	[ -f "$f" ] || continue
	name=$(basename "$f" .c)
	build "$name" "$HARNESS/workloads" "$name.c"
done

# Base initramfs.
root=$G/root
rm -rf "$root"
mkdir -p "$root"/{bin,sbin,proc,sys,dev,tmp,etc,opt/tests,usr/bin}
cp /bin/busybox "$root/bin/busybox"
cp "$HARNESS/guest/init" "$root/init"
cp "$HARNESS/guest/run-tests.sh" "$root/bin/run-tests"
cp "$BIN"/* "$root/opt/tests/"
mknod -m 600 "$root/dev/console" c 5 1
mknod -m 666 "$root/dev/null" c 1 3
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) > "$G/base.cpio.tmp"
mv "$G/base.cpio.tmp" "$G/base.cpio"
