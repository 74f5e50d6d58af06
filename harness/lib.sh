#!/bin/bash
# Shared settings and helpers for the harness scripts.  Sourced, not run.
# SPDX-License-Identifier: GPL-2.0

set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HARNESS=$TOP/harness
BUILD=${BUILD:-$TOP/build}
SRC=$BUILD/src
LOGS=$BUILD/logs
BASE_TARBALL=/usr/src/linux-source-6.12.tar.xz
BASE_PKG=linux-source-6.12

# Repository paths that are overlaid onto the "ours" tree, file by file.
OVERLAY_DIRS="mm include Documentation tools"

JOBS=${JOBS:-$(nproc)}

mkdir -p "$BUILD" "$LOGS"

say()  { printf '==> %s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die()  { printf 'error: %s\n' "$*" >&2; exit 1; }

base_version() {
	dpkg-query -W -f='${Version}' "$BASE_PKG" 2>/dev/null || echo unknown
}

# Source tree of a kernel flavour: "upstream" is the pristine base tree,
# "ours" and "debug" share the overlaid tree.  "<ours|upstream>-prof"
# are the profiling builds of harness/profile.sh.
tree_of() {
	case "$1" in
	upstream|upstream-prof) echo "$SRC/upstream" ;;
	ours|debug|ours-prof) echo "$SRC/ours" ;;
	series|series-noksm) echo "$SRC/series" ;;
	*) die "unknown kernel '$1' (ours, upstream, debug, ours-prof, upstream-prof)" ;;
	esac
}

# Build directory.  It is a direct child of the source tree so Kbuild
# uses the relative srctree "..": both trees then compile with identical
# command lines and ccache shares the work between them.
objdir_of() {
	case "$1" in
	debug) echo "$(tree_of "$1")/out-debug" ;;
	*-prof) echo "$(tree_of "$1")/out-prof" ;;
	series-noksm) echo "$(tree_of "$1")/out-noksm" ;;
	*) echo "$(tree_of "$1")/out" ;;
	esac
}

kernel_image() {
	echo "$(objdir_of "$1")/arch/x86/boot/bzImage"
}

# Kernel make wrapper, with ccache when available.  Both trees compile
# with identical command lines, so one tree's build fills the cache for
# the other.  (W=1 is applied to our objects by lint.sh only.)
kmake() {
	local flavour=$1; shift
	local cc=gcc
	command -v ccache >/dev/null && cc="ccache gcc"
	CCACHE_NOHASHDIR=1 CCACHE_BASEDIR=$SRC CCACHE_DIR=${CCACHE_DIR:-$BUILD/ccache} \
		make -C "$(tree_of "$flavour")" O="$(objdir_of "$flavour")" \
		CC="$cc" HOSTCC=gcc -j"$JOBS" "$@"
}
