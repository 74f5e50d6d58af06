#!/bin/bash
# Prepare the two source trees from the Debian base package:
#   build/src/upstream  pristine, never modified
#   build/src/ours      hard-linked copy with this repository's files
#                       symlinked in, harness/patches/*.patch applied and
#                       the files of harness/removed.list deleted
# Re-running is cheap; the overlay is redone only when its file list or
# the patches changed.  Files whose content changes are given a fresh
# mtime so that Kbuild rebuilds what depends on them.
# SPDX-License-Identifier: GPL-2.0
. "$(dirname "$0")/lib.sh"

up=$SRC/upstream
ours=$SRC/ours

if [ ! -f "$up/Makefile" ]; then
	[ -f "$BASE_TARBALL" ] || die "$BASE_TARBALL missing: run 'make deps'"
	say "unpacking $BASE_PKG $(base_version)"
	rm -rf "$up.tmp" && mkdir -p "$up.tmp"
	tar -xJf "$BASE_TARBALL" -C "$up.tmp" --strip-components=1
	mv "$up.tmp" "$up"
	echo "$(base_version)" > "$up/.debian-version"
fi

overlay_files() {
	(cd "$TOP" && for d in $OVERLAY_DIRS; do
		[ -d "$d" ] && find "$d" -type f ! -name '*.o' ! -name '.*.cmd'
	done) | LC_ALL=C sort
}

state=$(
	overlay_files
	cat "$HARNESS"/patches/*.patch 2>/dev/null || true
	cat "$HARNESS/removed.list"
) 
state_sum=$(printf '%s' "$state" | sha256sum | cut -d' ' -f1)
stamp=$ours/.overlay-state

if [ -f "$ours/Makefile" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$state_sum" ]; then
	exit 0
fi

say "refreshing the overlay tree"
mkdir -p "$ours"
if [ ! -f "$ours/Makefile" ]; then
	# First time: hard-link the whole base tree.
	(cd "$up" && find . -path ./out -prune -o -path ./out-debug -prune -o -print0 |
		cpio -0 -pdlm --quiet "$ours")
fi

# Undo the previous overlay: give every touched path a fresh private copy
# of the base file (new inode, new mtime), or remove it if it is new.
manifest=$ours/.overlay-manifest
if [ -f "$manifest" ]; then
	while IFS= read -r f; do
		rm -f "$ours/$f"
		[ -f "$up/$f" ] && cp "$up/$f" "$ours/$f"
	done < "$manifest"
fi
: > "$manifest.new"

# Overlay: symlink each repository file into place.
while IFS= read -r f; do
	mkdir -p "$ours/$(dirname "$f")"
	rm -f "$ours/$f"
	ln -s "$TOP/$f" "$ours/$f"
	touch "$TOP/$f"
	echo "$f" >> "$manifest.new"
done < <(overlay_files)

# Patches to existing base files (small, reviewed edits).
for p in "$HARNESS"/patches/*.patch; do
	[ -f "$p" ] || continue
	say "applying $(basename "$p")"
	# Make patched files private copies first so the base tree stays pristine.
	# (once: a later patch may build on an earlier one's edit).
	for f in $(sed -n 's|^+++ b/\([^[:space:]]*\).*|\1|p' "$p"); do
		[ -L "$ours/$f" ] && die "$(basename "$p") patches $f, which the repository overlays"
		grep -qxF "$f" "$manifest.new" && continue
		echo "$f" >> "$manifest.new"
		if [ -f "$ours/$f" ]; then
			cp --remove-destination "$up/$f" "$ours/$f"
		fi
	done
	patch -d "$ours" -p1 --fuzz=0 --no-backup-if-mismatch -s < "$p" ||
		die "patch $(basename "$p") does not apply to $BASE_PKG $(base_version)"
done
# Base files the engine replaces as a whole (harness/removed.list).
while IFS= read -r f; do
	case "$f" in ''|'#'*) continue ;; esac
	rm -f "$ours/$f"
	echo "$f" >> "$manifest.new"
done < "$HARNESS/removed.list"
sort -u "$manifest.new" > "$manifest" && rm -f "$manifest.new"
echo "$state_sum" > "$stamp"
