#!/bin/bash
# Boot a kernel flavour in QEMU with the base initramfs plus a job, and
# capture the serial console.
#   vm.sh <ours|upstream|debug|ours-prof|upstream-prof> <job-dir> <log> [timeout-seconds]
# <job-dir> holds job.sh (run by /init) and any other files to add at /.
# TCG by default; KVM=1 uses /dev/kvm.  SHELL_AFTER=1 gives a shell in
# the VM after the job.  The exit status is qemu's (124 on timeout).
# SPDX-License-Identifier: GPL-2.0
. "$(dirname "$0")/lib.sh"

flavour=$1 job=$2 log=$3 tmo=${4:-1800}
img=$(kernel_image "$flavour")
[ -f "$img" ] || die "no $flavour kernel: run 'make kernel KERNEL=$flavour'"
[ -f "$BUILD/guest/base.cpio" ] || die "no initramfs: run 'make userspace'"

initrd=$job/initrd.cpio
(cd "$job" && find . ! -name initrd.cpio ! -name job.cpio | LC_ALL=C sort | cpio -o -H newc --quiet) > "$job/job.cpio"
# VM_EXTRA_CPIO: prebuilt archives to add (kvmhost.sh's QEMU and guests).
cat "$BUILD/guest/base.cpio" ${VM_EXTRA_CPIO:-} "$job/job.cpio" > "$initrd"

append="console=ttyS0 numa=fake=2 panic=-1 oops=panic softlockup_panic=1 hung_task_panic=1 loglevel=7"
append+=" kunit.enable=1 sysctl.kernel.hung_task_timeout_secs=60 transparent_hugepage=madvise"
# As on distribution kernels: swap goes through zswap first, and user
# memory lands in a movable zone whose blocks can be taken offline, and
# in a CMA area that can be allocated through debugfs (ksm_hotplug_tests).
append+=" zswap.enabled=1 movablecore=1G cma=256M"
[ "$flavour" = debug ] && append+=" panic_on_warn=1 kmemleak=on"
# A profiling build samples the kernel's PC at every tick, in 4-byte buckets.
case "$flavour" in *-prof) append+=" profile=2" ;; esac
[ "${SHELL_AFTER:-0}" = 1 ] && append+=" harness.shell=1"

accel=(-accel tcg,thread=multi -cpu "${VM_CPU_MODEL:-max}")
[ "${KVM:-0}" = 1 ] && accel=(-enable-kvm -cpu host)

qemu=(qemu-system-x86_64 "${accel[@]}" -m "${VM_MEM:-2G}" -smp "${VM_CPUS:-2}"
      -kernel "$img" -initrd "$initrd" -append "$append ${KERNEL_ARGS:-}"
      -display none -monitor none -serial stdio -no-reboot -nodefaults)

echo "# $flavour kernel $(base_version), $(qemu-system-x86_64 --version | head -n 1)" > "$log"
echo "# ${qemu[*]}" >> "$log"
set +e
if [ "${SHELL_AFTER:-0}" = 1 ]; then
	"${qemu[@]}" | tee -a "$log"
else
	timeout -k 10 "$tmo" "${qemu[@]}" < /dev/null 2>&1 |
		tee -a "$log" | ${VM_FILTER:-cat}
fi
exit "${PIPESTATUS[0]}"
