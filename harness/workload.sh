#!/bin/bash
# Run one workload command in a fresh VM and print what it prints.
#   workload.sh <ours|upstream|debug> '<command>' [timeout-seconds]
# The command runs in /opt/tests (the workload and test programs).
# SPDX-License-Identifier: GPL-2.0
. "$(dirname "$0")/lib.sh"

flavour=${1:?usage: workload.sh <kernel> <command> [timeout]}
cmd=${2:?usage: workload.sh <kernel> <command> [timeout]}
tmo=${3:-1200}
job=$BUILD/workload-$flavour/job
rm -rf "$job" && mkdir -p "$job"
cat > "$job/job.sh" <<JOB
#!/bin/sh
cd /opt/tests
echo "@@WORKLOAD-BEGIN"
$cmd
echo "@@WORKLOAD-END rc=\$?"
JOB
chmod +x "$job/job.sh"
VM_FILTER="sed -n -e /^@@WORKLOAD-BEGIN/,/^@@WORKLOAD-END/p" \
	"$HARNESS/vm.sh" "$flavour" "$job" "$LOGS/workload-$flavour.log" "$tmo" |
	grep -v '^@@WORKLOAD-BEGIN'
