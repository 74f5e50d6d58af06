#!/bin/bash
# make series: the engine as a mailable patch series in build/series/.
#
#   1. A throwaway git repository, build/src/series, holds the pristine
#      base tree as its first commit (tag base-<Debian version>).
#   2. The steps of harness/series/steps.txt are committed on top of it
#      (harness/series.py) and written out with git format-patch and the
#      cover letter of harness/series/cover.txt.
#   3. verify: the series is applied with git am to the base commit,
#      the result must equal the overlay tree byte for byte in every path
#      it touches, every patch must be checkpatch --strict clean, and
#      get_maintainer.pl must name the KSM entry for every file of ours.
#   CHECK=1 also builds every step with our configuration (W=1 compile of
#   the mm/ksm/ objects that exist before the build switches to them),
#   runs the KSM selftests on the kernel of the switching step, and
#   builds the last step with CONFIG_KSM=n.
#
#   series.sh [verify]   verify only: check the series already written
# SPDX-License-Identifier: GPL-2.0
. "$(dirname "$0")/lib.sh"

repo=$(tree_of series)
out=$BUILD/series
tag=base-$(base_version | tr '~:' '-.')
logs=$LOGS/series
mkdir -p "$logs"

# The throwaway repository, with the base tree as its only commit.
base_repo() {
	if git -C "$repo" rev-parse -q --verify "refs/tags/$tag" >/dev/null 2>&1; then
		return
	fi
	"$HARNESS/tree.sh"
	say "committing the base tree $BASE_PKG $(base_version) to $repo"
	rm -rf "$repo"
	mkdir -p "$repo"
	(cd "$SRC/upstream" && find . -path ./out -prune -o -path './out-*' -prune -o \
		-path ./.debian-version -prune -o -print0 | cpio -0 -pdm --quiet "$repo")
	git -C "$repo" init -q
	printf '/out*/\n' >> "$repo/.git/info/exclude"
	git -C "$repo" -c core.looseCompression=0 add -A -f .
	git -C "$repo" -c user.name=base -c user.email=base@localhost commit -q \
		-m "$BASE_PKG $(base_version)"
	git -C "$repo" tag "$tag"
}

write_series() {
	say "committing $(python3 "$HARNESS/series.py" steps | wc -l) steps"
	python3 "$HARNESS/series.py" commit "$repo" "$tag"
	rm -rf "$out" && mkdir -p "$out"
	git -C "$repo" format-patch -q --cover-letter --no-signature --subject-prefix="RFC PATCH" \
		-o "$out" "$tag..series"
	python3 "$HARNESS/series.py" cover "$repo" "$tag" "$out"
	say "$(ls "$out" | grep -vc '^0000-') patches and a cover letter in $out"
}

# report <id> <log> <what>: one result line, as lint.sh prints them
report() {
	if [ -s "$2" ]; then
		echo "FAIL series/$1 $(grep -c . "$2") $3, see $2: $(head -n 3 "$2" | tr '\n' '|')"
	else
		echo "PASS series/$1"
	fi
}

# Files of the base tree that the series edits but that belong to other
# entries of MAINTAINERS.
NOT_OURS='^(MAINTAINERS|mm/Kconfig|mm/Makefile|tools/testing/selftests/mm/(Makefile|run_vmtests\.sh))$'

verify() {
	local patches log f sections
	patches=$(ls "$out"/[0-9]*.patch 2>/dev/null | grep -v '/0000-') ||
		die "no series in $out: run make series"
	"$HARNESS/tree.sh"
	git -C "$repo" checkout -q -f -B verify "$tag"
	log=$logs/am.log
	if git -C "$repo" -c user.name=series -c user.email=series@localhost am -q $patches > "$log" 2>&1; then
		: > "$log"
	else
		git -C "$repo" am --abort 2>/dev/null || true
	fi
	report "git-am" "$log" "lines of git am errors"

	log=$logs/compare.log
	python3 "$HARNESS/series.py" compare "$repo" "$tag" "$SRC/ours" > "$log.all" || true
	grep -v ' paths compared, 0 differ$' "$log.all" > "$log" || true
	report "equals-overlay" "$log" "paths differ from the overlay"

	# FILE_PATH_CHANGES asks whether MAINTAINERS needs updating for every
	# patch that adds a file; the first patch of the series adds the entry
	# that covers all of them, which get_maintainer.pl confirms below.
	log=$logs/checkpatch.log
	: > "$log"
	for f in $patches; do
		(cd "$repo" && perl scripts/checkpatch.pl --strict --terse --show-types \
			--ignore FILE_PATH_CHANGES "$f") 2>&1 |
			grep -E '(ERROR|WARNING|CHECK):' | sed "s|^|$(basename "$f"): |" >> "$log" || true
	done
	report "checkpatch" "$log" findings

	log=$logs/get_maintainer.log
	: > "$log"
	for f in $(git -C "$repo" diff --name-only --diff-filter=AM "$tag" HEAD | grep -Ev "$NOT_OURS"); do
		sections=$(cd "$repo" && perl scripts/get_maintainer.pl --no-git \
			--no-git-fallback --sections -f "$f" 2>/dev/null || true)
		grep -q '^MEMORY MANAGEMENT - KSM' <<< "$sections" ||
			echo "$f: not in the KSM entry" >> "$log"
	done
	report "get_maintainer" "$log" "files outside the KSM entry"
}

# Configure build/src/series/<objdir> for the tree checked out now:
# allnoconfig, our fragments (plus $extra), olddefconfig.
configure() { # <flavour> [extra fragment]
	local obj
	obj=$(objdir_of "$1")
	mkdir -p "$obj"
	kmake "$1" allnoconfig >/dev/null
	(cd "$obj" && KCONFIG_CONFIG=.config "$repo/scripts/kconfig/merge_config.sh" -m -O . \
		.config "$HARNESS/config/base.config" "$HARNESS/config/ours.config" ${2:+"$2"} >/dev/null)
	kmake "$1" olddefconfig >/dev/null
}

# The mm/ksm/ objects of a step before the switch, compiled with W=1
# through a temporary Makefile (nothing links them yet).
compile_early() { # <log>
	local objs=() f
	for f in "$repo"/mm/ksm/*.c; do
		[ -f "$f" ] && objs+=("mm/ksm/$(basename "${f%.c}").o")
	done
	[ ${#objs[@]} -gt 0 ] || return 0
	printf 'obj-y += %s\n' "${objs[@]##*/}" > "$repo/mm/ksm/Makefile"
	rm -f "${objs[@]/#/$(objdir_of series)/}"
	kmake series W=1 "${objs[@]}" >> "$1" 2>&1 || echo "error: compiling ${objs[*]} failed" >> "$1"
	rm -f "$repo/mm/ksm/Makefile"
}

check_steps() {
	local n=0 commit subject t0 t1 log res=$logs/steps.txt switched=0 kind
	: > "$res"
	for commit in $(git -C "$repo" rev-list --reverse "$tag..verify"); do
		n=$((n + 1))
		subject=$(git -C "$repo" log -1 --format=%s "$commit")
		git -C "$repo" checkout -q -f "$commit"
		log=$logs/build-$(printf %02d $n).log
		t0=$(date +%s)
		configure series
		if kmake series bzImage > "$log" 2>&1; then
			kind=built
		else
			kind=FAILED
		fi
		if [ $switched = 0 ] && [ "$kind" = built ]; then
			if grep -q '^obj-$(CONFIG_KSM) += ksm/$' "$repo/mm/Makefile"; then
				switched=$n
			else
				compile_early "$log"
			fi
		fi
		# Warnings of the files the series touches; the base tree has its own.
		grep -E '(warning|error):' "$log" |
			grep -E '(mm/ksm/|include/linux/ksm\.h|mm/Kconfig|mm/Makefile|^error)' > "$log.warn" || true
		[ -s "$log.warn" ] && kind="$kind, $(grep -c . "$log.warn") warnings"
		t1=$(date +%s)
		printf '%2d %4ss %s: %s\n' $n $((t1 - t0)) "$kind" "$subject" | tee -a "$res"
		if [ "$switched" = $n ]; then
			say "step $n switches the build: the KSM selftests on its kernel"
			KERNEL=series SUITES=selftests T= "$HARNESS/check.sh" > "$logs/selftests.log" 2>&1 || true
			tail -n 1 "$logs/selftests.log" | sed 's/^/   selftests: /' | tee -a "$res"
		fi
	done
	t0=$(date +%s)
	printf 'CONFIG_KSM=n\n' > "$logs/noksm.config"
	configure series-noksm "$logs/noksm.config"
	if kmake series-noksm bzImage > "$logs/build-noksm.log" 2>&1; then kind=built; else kind=FAILED; fi
	grep -q '^# CONFIG_KSM is not set' "$(objdir_of series-noksm)/.config" || kind="$kind, but KSM is set"
	printf 'KSM=n %4ss %s\n' $(($(date +%s) - t0)) "$kind" | tee -a "$res"
	git -C "$repo" checkout -q -f verify
	! grep -qE 'FAILED|warnings|but KSM|[1-9][0-9]* failed' "$res"
}

case "${1:-all}" in
verify)
	base_repo
	verify
	;;
all)
	base_repo
	write_series
	verify | tee "$logs/verify.txt"
	if [ "${CHECK:-0}" = 1 ]; then
		t0=$(date +%s)
		check_steps
		say "every step checked in $(( $(date +%s) - t0 ))s (per step: $logs/steps.txt)"
	fi
	! grep -q '^FAIL' "$logs/verify.txt"
	;;
*)
	die "usage: series.sh [verify]"
	;;
esac
