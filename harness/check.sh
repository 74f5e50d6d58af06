#!/bin/bash
# make check: build, boot, run every test suite, compare with the
# expected failures, print the results and "N passed, N failed, N skipped".
#   KERNEL=ours|upstream|debug   kernel the VM suites run on (default ours)
#   SUITES="own selftests kunit guests lint bench stress"  suites to run
#                                (these by default with KERNEL=ours; guests,
#                                QEMU guests with mem-merge=on inside the VM,
#                                also with other kernels; bench, a QUICK=1
#                                run of make bench that only checks every
#                                figure is measured on both kernels, and
#                                stress, the short stress suite, only with
#                                KERNEL=ours; stress always runs on the debug
#                                kernel, in a VM of its own unless
#                                KERNEL=debug)
#   LONG=1                       the stress suite's long form (make stress)
#   T=<regex>                    only tests whose id matches
# SPDX-License-Identifier: GPL-2.0
. "$(dirname "$0")/lib.sh"

KERNEL=${KERNEL:-ours}
if [ "$KERNEL" = ours ]; then
	SUITES=${SUITES:-selftests own kunit guests lint bench stress}
else
	SUITES=${SUITES:-selftests own kunit lint}
fi
STRESS_LIST=$HARNESS/suites/stress.list
[ "${LONG:-0}" = 1 ] && STRESS_LIST=$HARNESS/suites/stress-long.list
T=${T:-}
has() { [[ " $SUITES " == *" $1 "* ]]; }

say "$BASE_PKG $(base_version), kernel '$KERNEL', suites: $SUITES${T:+, filter: $T}"
t0=$(date +%s)
# The kernel of a step of the patch series is built by series.sh.
[ "$KERNEL" = series ] || "$HARNESS/kernel.sh" "$KERNEL"
[ "$KERNEL" = ours ] || ! { has lint || has bench; } || "$HARNESS/kernel.sh" ours
[ "$KERNEL" = upstream ] || ! has bench || "$HARNESS/kernel.sh" upstream
[ "$KERNEL" = debug ] || ! has stress || "$HARNESS/kernel.sh" debug
"$HARNESS/userspace.sh"
# The guests' QEMU, kernel (ours) and initramfs, for the main VM.
if has guests; then
	[ "$KERNEL" = ours ] || "$HARNESS/kernel.sh" ours
	"$HARNESS/kvmhost.sh"
fi
t_build=$(( $(date +%s) - t0 ))

run=$BUILD/check-$KERNEL
rm -rf "$run" && mkdir -p "$run/job"
res=$run/results.txt
: > "$res"

# The list of tests the VM runs.
list=$run/job/tests.list
: > "$list"
# Our own tests first: they check boot defaults on an untouched KSM.
if has own; then
	# ksm_sysfs_tests first: it checks the boot defaults of an unused KSM.
	for f in $(ls "$TOP"/tools/testing/selftests/mm/*.c | sort -t/ -k1,1 |
		   awk '/ksm_sysfs_tests/ { print; next } { rest = rest $0 "\n" } END { printf "%s", rest }'); do
		[ -f "$f" ] && grep -q '^int main' "$f" || continue
		n=$(basename "$f" .c)
		echo "own/$n 900 ./$n" >> "$list"
	done
fi
if has selftests; then
	grep -v '^#' "$HARNESS/suites/selftests.list" | grep . >> "$list"
fi
for s in $SUITES; do
	[ -f "$HARNESS/suites/$s.list" ] && [ "$s" != selftests ] && [ "$s" != stress ] &&
		grep -v '^#' "$HARNESS/suites/$s.list" | grep . >> "$list"
done
# filter <list>: keep the tests that match $T
filter() {
	[ -n "$T" ] || return 0
	grep -E -- "$T" "$1" > "$1.f" || true
	mv "$1.f" "$1"
}

# boot <kernel> <job-dir> <log> <kunit|no-kunit>: run the job's tests.list
boot() {
	local kernel=$1 job=$2 log=$3 kopt=
	cat > "$job/job.sh" <<-'JOB'
	#!/bin/sh
	run-tests
	JOB
	chmod +x "$job/job.sh"
	say "booting $kernel: $(grep -c . "$job/tests.list") tests (console: $log)"
	VM_FILTER="grep --line-buffered -E ^@@(BEGIN|END)" \
		"$HARNESS/vm.sh" "$kernel" "$job" "$log" "${VM_TIMEOUT:-7200}" |
		sed -u 's/^@@END \([^ ]*\) rc=\([0-9]*\).*/   done \1 (exit \2)/; /^@@BEGIN/d' || true
	[ "$4" = kunit ] || kopt=--no-kunit
	python3 "$HARNESS/results.py" "$log" "$job/tests.list" $kopt >> "$res"
}

# trinity <job-dir>: Debian's trinity and its libraries, for the stress suite
trinity() {
	local bin=/usr/bin/trinity lib
	[ -x "$bin" ] || die "trinity is not installed (make deps)"
	mkdir -p "$1/usr/bin" "$1/etc"
	cp "$bin" "$1/usr/bin/"
	for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do
		mkdir -p "$1$(dirname "$lib")"
		cp -L "$lib" "$1$lib"
	done
	cp "$HARNESS/guest/run-trinity" "$1/usr/bin/"
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/tmp:/bin/sh\n' > "$1/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' > "$1/etc/group"
}

stress_list=$run/stress-job/tests.list
if has stress; then
	mkdir -p "$run/stress-job"
	grep -v '^#' "$STRESS_LIST" | grep . > "$stress_list"
	filter "$stress_list"
	if [ "$KERNEL" = debug ]; then
		cat "$stress_list" >> "$list"
		rm -rf "$run/stress-job"
	fi
fi
filter "$list"

# ksm_text <job-dir>: the engine's text range for ksm_stress -f
ksm_text() {
	python3 "$HARNESS/ksm_text.py" "$(objdir_of debug)" > "$1/ksm-text.syms" ||
		die "cannot find the engine's functions in the debug kernel"
}

t1=$(date +%s)
if [ -s "$list" ] || has kunit; then
	grep -q '^stress/trinity ' "$list" && trinity "$run/job"
	[ "$KERNEL" = debug ] && grep -q ' -f ' "$list" && ksm_text "$run/job"
	kunit=kunit
	has kunit || kunit=no-kunit
	extra=
	has guests && extra=$BUILD/guest/kvmhost.cpio
	VM_EXTRA_CPIO=$extra boot "$KERNEL" "$run/job" "$LOGS/console-$KERNEL.log" "$kunit"
fi
# Lint needs no VM and takes minutes on a fresh machine (the docs
# builds, the series repository): it runs while the stress VM does,
# whose tests run for fixed times.
lint_bg=
if has lint && [ -s "$stress_list" ] && [ "$KERNEL" != debug ]; then
	"$HARNESS/lint.sh" > "$run/lint.txt" 2> "$run/lint.err" &
	lint_bg=$!
fi
if [ -s "$stress_list" ] && [ "$KERNEL" != debug ]; then
	grep -q '^stress/trinity ' "$stress_list" && trinity "$run/stress-job"
	grep -q ' -f ' "$stress_list" && ksm_text "$run/stress-job"
	boot debug "$run/stress-job" "$LOGS/console-stress.log" no-kunit
fi
if has kunit && [ -z "$T" ]; then
	# Every KUnit suite of ours must have reported at least one case.
	for k in $(grep -rhoE '^\s*\.name = "[a-z0-9_]+",\s*/\* kunit suite \*/' "$TOP/mm" 2>/dev/null |
		   sed 's/.*"\(.*\)".*/\1/'); do
		grep -q " kunit/$k/" "$res" || echo "FAIL kunit/$k the suite did not run" >> "$res"
	done
fi
if has bench && [ -z "$T" ]; then
	# The benchmark must not rot: every figure measured on both kernels.
	# No timing is asserted here; targets are for make bench to report.
	say "bench, QUICK=1 (log: $LOGS/bench-quick.log)"
	if QUICK=1 BENCH_NO_BUILD=1 BENCH_NO_PUBLISH=1 "$HARNESS/bench.sh" \
		> "$LOGS/bench-quick.log" 2>&1; then
		echo "PASS bench/quick every figure measured on both kernels" >> "$res"
	else
		echo "FAIL bench/quick $(grep -E '^(FAILED|warning|error):' "$LOGS/bench-quick.log" |
			head -n 3 | tr '\n' '|')" >> "$res"
	fi
fi
t_test=$(( $(date +%s) - t1 ))
if [ -n "$lint_bg" ]; then
	wait "$lint_bg" || true
	cat "$run/lint.txt" >> "$res"
	cat "$run/lint.err" >&2
elif has lint; then
	"$HARNESS/lint.sh" >> "$res"
fi

python3 "$HARNESS/summary.py" "$res" "$HARNESS/expected-failures" "$run/summary.txt" \
	"build ${t_build}s, tests ${t_test}s"
