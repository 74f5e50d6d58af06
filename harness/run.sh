#!/bin/bash
# make run: build the kernels, boot "ours" and run the dedup demo with a
# live view until it converges.  SHELL_AFTER=1 (make shell) leaves a
# shell in the VM afterwards.
# SPDX-License-Identifier: GPL-2.0
. "$(dirname "$0")/lib.sh"

KERNEL=${KERNEL:-ours}
"$HARNESS/kernel.sh" "$KERNEL"
"$HARNESS/userspace.sh"
job=$BUILD/run/job
rm -rf "$job" && mkdir -p "$job"
cat > "$job/job.sh" <<JOB
#!/bin/sh
/opt/tests/ksm_demo ${DEMO_ARGS:-}
JOB
chmod +x "$job/job.sh"
log=$LOGS/run-$KERNEL.log
say "booting $KERNEL with the demo (console: $log)"
VM_FILTER="sed -n -e /^demo:/,/^@@JOB-DONE/p" \
	"$HARNESS/vm.sh" "$KERNEL" "$job" "$log" 900 | grep -v '^@@' || true
grep -q '^summary: converged' "$log" || die "the demo did not converge, see $log"
