#!/bin/bash
# Profile a kernel while a workload runs in a VM, and print where its
# time went, by function.
#   profile.sh <ours|upstream> '<command>' [functions-to-show]
# The profiling build of the kernel (<kernel>-prof: profile.config) is
# built if needed and booted with profile=2: every tick samples the
# program counter of each CPU.  The command runs in /opt/tests with
# KSM_PROFILE=1.  Workloads that mark a measured window (ksm_merge_speed,
# ksm_scan_cost: ksm_profile_window() in ksm_util.h) count only the
# samples inside it; for other commands the whole command counts.
# Idle CPUs are sampled too; the table leaves them out of the shares.
# SPDX-License-Identifier: GPL-2.0
. "$(dirname "$0")/lib.sh"

kernel=${1:?usage: profile.sh <ours|upstream> <command> [functions]}
cmd=${2:?usage: profile.sh <ours|upstream> <command> [functions]}
top=${3:-40}
case "$kernel" in ours|upstream) ;; *) die "profile.sh: ours or upstream, not '$kernel'" ;; esac
flavour=$kernel-prof

"$HARNESS/kernel.sh" "$flavour" >&2
"$HARNESS/userspace.sh" >&2

job=$BUILD/profile-$kernel/job
out=$BUILD/profile-$kernel/samples.txt
rm -rf "$job" && mkdir -p "$job"
cat > "$job/job.sh" <<JOB
#!/bin/sh
cd /opt/tests
./ksm_profile reset
export KSM_PROFILE=1
echo "@@WORKLOAD-BEGIN"
$cmd
echo "@@WORKLOAD-END rc=\$?"
./ksm_profile print
JOB
chmod +x "$job/job.sh"
"$HARNESS/vm.sh" "$flavour" "$job" "$LOGS/profile-$kernel.log" 1800 > "$out" || true
sed -n -e '/^@@WORKLOAD-BEGIN/,/^@@WORKLOAD-END/p' "$out" | grep -v '^@@WORKLOAD-BEGIN'
python3 "$HARNESS/profile_report.py" "$(objdir_of "$flavour")/System.map" "$out" "$top"
