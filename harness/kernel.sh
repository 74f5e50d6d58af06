#!/bin/bash
# Configure and build one kernel flavour: ours | upstream | debug, or
# the profiling build of ours or upstream (ours-prof | upstream-prof).
#   config: allnoconfig + harness/config/base.config, plus ours.config
#   for our tree, debug.config for the debug kernel and profile.config
#   for a profiling build
# The configuration is regenerated only when a fragment changes; every
# line of the fragments is checked against the result so a dependency
# that silently drops an option fails the build instead.
# SPDX-License-Identifier: GPL-2.0
. "$(dirname "$0")/lib.sh"

flavour=${1:?usage: kernel.sh ours|upstream|debug|ours-prof|upstream-prof}
obj=$(objdir_of "$flavour")
frags=("$HARNESS/config/base.config")
case "$flavour" in upstream*) ;; *) frags+=("$HARNESS/config/ours.config") ;; esac
[ "$flavour" = debug ] && frags+=("$HARNESS/config/debug.config")
case "$flavour" in *-prof) frags+=("$HARNESS/config/profile.config") ;; esac

"$HARNESS/tree.sh"
mkdir -p "$obj"

want=$(cat "${frags[@]}" | sha256sum | cut -d' ' -f1)
if [ ! -f "$obj/.config" ] || [ "$(cat "$obj/.fragments" 2>/dev/null)" != "$want" ]; then
	say "configuring $flavour"
	kmake "$flavour" allnoconfig >/dev/null
	(cd "$obj" && KCONFIG_CONFIG=.config \
		"$(tree_of "$flavour")/scripts/kconfig/merge_config.sh" -m -O . .config "${frags[@]}" >/dev/null)
	kmake "$flavour" olddefconfig >/dev/null
	missing=0
	while IFS= read -r line; do
		case "$line" in CONFIG_*=*) ;; *) continue ;; esac
		if ! grep -qx "$line" "$obj/.config"; then
			warn "$flavour config: wanted '$line', got '$(grep "^${line%%=*}=" "$obj/.config" || echo 'not set')'"
			missing=1
		fi
	done < <(cat "${frags[@]}")
	[ $missing = 0 ] || die "config fragments not satisfied for $flavour"
	echo "$want" > "$obj/.fragments"
fi

say "building $flavour kernel ($BASE_PKG $(base_version))"
log=$LOGS/build-$flavour.log
start=$(date +%s)
if ! kmake "$flavour" bzImage > "$log" 2>&1; then
	grep -E 'error|Error' "$log" | head -n 40 >&2
	die "$flavour kernel build failed, full log: $log"
fi
echo "built $flavour in $(( $(date +%s) - start ))s: $(kernel_image "$flavour")"
