#!/bin/bash
# Benchmark our engine against upstream KSM, side by side.
#   bench.sh            build both kernels and the guest programs, then
#                       R rounds (ROUNDS=3) of one VM per kernel
#   QUICK=1 bench.sh    one round, small sizes, short windows
#   BENCH_NO_BUILD=1    use the kernels and initramfs already built
#   BENCH_NO_PUBLISH=1  leave bench/ alone (QUICK=1 always does)
#   VM_MEM (3G), VM_CPUS (2), KVM=1 as for vm.sh
# Each VM runs every workload of harness/workloads/ in sequence; the
# kernels alternate (odd rounds upstream first, even rounds ours first)
# in identical VMs.  Raw consoles go to build/bench/raw/<kernel>-r<N>.txt,
# then bench_report.py writes build/bench/results.{md,csv} and mix.png
# (and, for a full run, the published bench/RESULTS.md and bench/mix.png).
# Exits non-zero when a workload fails or a figure is missing on either
# kernel; a missed target is only reported.
# SPDX-License-Identifier: GPL-2.0
. "$(dirname "$0")/lib.sh"

QUICK=${QUICK:-0}
OUT=$BUILD/bench
export VM_MEM=${VM_MEM:-3G} VM_CPUS=${VM_CPUS:-2}

if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
	"$HARNESS/kernel.sh" upstream && "$HARNESS/kernel.sh" ours
	"$HARNESS/userspace.sh"
fi
[ "$QUICK" = 1 ] || "$HARNESS/kvmhost.sh"

# The workloads, each resetting KSM (run=2) first and last.  The
# figures are named after the sizes given here.  The first two only
# warm up: under TCG the first large merge after boot is slower on both
# kernels by about the same time (0.4 s for 256 MiB, measured with
# harness/workload.sh), so an unmeasured merge of each kind comes first.
# Measurements shorter than a few seconds (the 256 MiB merges, COW and
# unmerge) are repeated inside the VM and their median taken, so that a
# single slow cycle does not decide a round.  The last four measure the
# modes of multi-tenant hosts that only our kernel has (hardened mode, a
# merge domain per process): on upstream they print a note and no
# figure, and the report compares them with upstream's plain figures.
if [ "$QUICK" = 1 ]; then
	rounds=1 tmo=900
	workloads=(
		"ksm_merge_speed -n -m 8"
		"ksm_merge_speed -n -m 8 -t"
		"ksm_scan_cost -f -m 32"
		"ksm_scan_cost -f -m 128"
		"ksm_merge_speed -m 32 -r 2"
		"ksm_merge_speed -m 32 -t"
		"ksm_mix -n 4 -m 24 -t 20"
		"ksm_thp_mix -n 20 -c 2 -z 2"
		"ksm_cow -m 16"
		"ksm_meta -m 64"
		"ksm_idle -m 64 -w 3 -t 10"
		"ksm_volatile -m 8 -w 3 -t 8"
		"ksm_latency -m 16 -s 300"
		"ksm_exit -m 64"
		"ksm_sidechan -n 500"
		"ksm_sidechan -n 500 -H"
		"ksm_mix -n 4 -m 24 -t 20 -H"
		"ksm_mix -n 4 -m 24 -t 20 -D process"
	)
else
	rounds=${ROUNDS:-3} tmo=1500
	workloads=(
		"ksm_merge_speed -n -m 256"
		"ksm_merge_speed -n -m 64 -t"
		"ksm_scan_cost -f -m 256"
		"ksm_scan_cost -f -m 1024"
		"ksm_merge_speed -m 256 -r 3"
		"ksm_merge_speed -m 1024"
		"ksm_merge_speed -m 256 -t -r 3"
		"ksm_merge_speed -m 1024 -t"
		"ksm_mix -n 4 -m 160 -t 60"
		"ksm_thp_mix -n 100 -c 4 -z 4"
		"ksm_cow -m 128 -r 9"
		"ksm_meta -m 1024"
		"ksm_idle -m 1024 -w 10 -t 30"
		"ksm_volatile -m 32 -w 5 -t 20"
		"ksm_latency -m 64 -s 2000"
		"ksm_exit -m 1024"
		"ksm_sidechan -n 2000"
		"ksm_sidechan -n 2000 -H"
		"ksm_mix -n 4 -m 160 -t 60 -H"
		"ksm_mix -n 4 -m 160 -t 60 -D process"
	)
fi

rm -rf "$OUT/raw" "$OUT/job"
mkdir -p "$OUT/raw" "$OUT/job"

# One guest script for every VM: the default knobs, then each workload
# between markers with its exit status and the VM's uptime.
job=$OUT/job
cat > "$job/job.sh" <<'JOB'
#!/bin/sh
cd /opt/tests
up() { cut -d' ' -f1 /proc/uptime; }
run() {
	echo "@@RUN t=$(up) $*"
	"./$@"
	echo "@@RC $? t=$(up) $*"
}
echo "@@BENCH-BEGIN"
for k in /sys/kernel/mm/ksm/*; do echo "@@KNOB ${k##*/} $(cat "$k")"; done
JOB
printf 'run %s\n' "${workloads[@]}" >> "$job/job.sh"
# The first round of a full run also hosts QEMU guests (about 5 minutes
# a VM): three of 160 MiB with THP-backed memory, as KVM hosts run them.
if [ "$QUICK" != 1 ]; then
	echo '[ "$(cat /round)" = 1 ] && run run-guests -n 3 -m 160 -t madvise -w 300 bench' \
		>> "$job/job.sh"
fi
echo 'echo "@@BENCH-END"' >> "$job/job.sh"
chmod +x "$job/job.sh"

start=$(date +%s)
status=0
for r in $(seq 1 "$rounds"); do
	order="upstream ours"
	[ $((r % 2)) = 0 ] && order="ours upstream"
	for k in $order; do
		say "round $r/$rounds: $k"
		echo "$r" > "$job/round"
		extra=
		[ "$r" = 1 ] && [ "$QUICK" != 1 ] && extra=$BUILD/guest/kvmhost.cpio
		set +e
		VM_EXTRA_CPIO=$extra VM_FILTER="sed -n -e /^@@BENCH-BEGIN/,/^@@BENCH-END/p" \
			"$HARNESS/vm.sh" "$k" "$job" "$OUT/raw/$k-r$r.txt" "$tmo" |
			grep -v -e '^@@SERIES' -e '^@@KNOB' -e '^@@BENCH-BEGIN'
		rc=${PIPESTATUS[0]}
		set -e
		[ "$rc" = 0 ] || { warn "$k VM of round $r exited with $rc"; status=1; }
	done
done
elapsed=$(($(date +%s) - start))

cat > "$OUT/meta.txt" <<META
quick=$QUICK
rounds=$rounds
vm_mem=$VM_MEM
vm_cpus=$VM_CPUS
accel=$([ "${KVM:-0}" = 1 ] && echo kvm || echo "tcg (${VM_CPU_MODEL:-max} CPU model)")
base_version=$BASE_PKG $(base_version)
qemu=$(qemu-system-x86_64 --version | head -n 1)
host=$(nproc) cores, $(uname -sr)
commit=$(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$TOP" diff --quiet HEAD -- mm include 2>/dev/null || echo " (mm/ or include/ modified)")
date=$(date -u '+%Y-%m-%d %H:%M UTC')
vm_seconds=$elapsed
META
for w in "${workloads[@]}"; do echo "workload=$w"; done >> "$OUT/meta.txt"
# (first round only)
[ "$QUICK" = 1 ] || echo "workload=run-guests -n 3 -m 160 -t madvise -w 300 bench" >> "$OUT/meta.txt"

say "VMs took $elapsed s; report"
publish=()
[ "$QUICK" = 1 ] || [ "${BENCH_NO_PUBLISH:-0}" = 1 ] || publish=(--publish "$TOP/bench")
python3 "$HARNESS/bench_report.py" "$OUT" "${publish[@]}" || status=1
exit $status
