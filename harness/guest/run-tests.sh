#!/bin/sh
# Run the tests listed in /tests.list inside the VM, one per line:
#   <id> <timeout-seconds> <command...>
# Each test is framed by @@BEGIN/@@END markers that the host parses.
# Between tests KSM is stopped and every merged page unmerged, so a
# test never sees pages left behind by the one before.
# SPDX-License-Identifier: GPL-2.0
cd /opt/tests || exit 1
ksm=/sys/kernel/mm/ksm
# Our kernel's THP split threshold at boot, restored after every test.
thp=$(cat $ksm/thp_split_threshold 2>/dev/null)
while read -r id tmo cmd; do
	case "$id" in ''|'#'*) continue ;; esac
	echo "@@BEGIN $id"
	start=$(cut -d' ' -f1 /proc/uptime)
	timeout -s KILL "$tmo" sh -c "$cmd" < /dev/null 2>&1
	rc=$?
	end=$(cut -d' ' -f1 /proc/uptime)
	echo "@@END $id rc=$rc start=$start end=$end"
	[ -w $ksm/run ] && echo 2 > $ksm/run
	# A test that failed half-way may have left a tenant mode on.
	[ -w $ksm/hardened ] && echo 0 > $ksm/hardened
	[ -w $ksm/merge_domain ] && echo global > $ksm/merge_domain
	[ -n "$thp" ] && echo "$thp" > $ksm/thp_split_threshold
done < /tests.list
if [ -w /sys/kernel/debug/kmemleak ]; then
	echo scan > /sys/kernel/debug/kmemleak
	sleep 6
	echo scan > /sys/kernel/debug/kmemleak
	cat /sys/kernel/debug/kmemleak
fi
