#!/bin/bash
# make guests: boot a kernel (KERNEL=ours by default, or upstream) as a
# KVM host running three small QEMU guests with mem-merge=on, and show
# the memory KSM merges per guest and saves in total until it settles.
#   THP=never|madvise   the host's THP mode for guest memory (never)
#   GUESTS_ARGS=...     more options for harness/guest/run-guests
# The guests run our kernel under TCG inside the VM (no nested KVM).
# SPDX-License-Identifier: GPL-2.0
. "$(dirname "$0")/lib.sh"

KERNEL=${KERNEL:-ours}
"$HARNESS/kernel.sh" "$KERNEL"
[ "$KERNEL" = ours ] || "$HARNESS/kernel.sh" ours
"$HARNESS/userspace.sh"
"$HARNESS/kvmhost.sh"
job=$BUILD/guests/job
rm -rf "$job" && mkdir -p "$job"
cat > "$job/job.sh" <<JOB
#!/bin/sh
cd /opt/tests
./run-guests -t ${THP:-never} ${GUESTS_ARGS:-} show
JOB
chmod +x "$job/job.sh"
log=$LOGS/guests-$KERNEL.log
say "booting $KERNEL as the host of three QEMU guests (console: $log)"
VM_EXTRA_CPIO=$BUILD/guest/kvmhost.cpio VM_FILTER="sed -u -n -e /^guests:/,/^@@GUESTS/p" \
	"$HARNESS/vm.sh" "$KERNEL" "$job" "$log" 2400 | grep -v '^@@' || true
grep -q '^@@GUESTS done' "$log" || die "the guests did not run to the end, see $log"
