#!/bin/bash
# make check: build, boot, run every test suite, compare with the
# expected failures, print the results and "N passed, N failed, N skipped".
#   KERNEL=ours|upstream|debug   kernel the VM suites run on (default ours)
#   SUITES="own selftests kunit lint bench"  suites to run (all by default;
#                                bench, a QUICK=1 run of make bench that
#                                only checks every figure is measured on
#                                both kernels, only with KERNEL=ours)
#   T=<regex>                    only tests whose id matches
# SPDX-License-Identifier: GPL-2.0
. "$(dirname "$0")/lib.sh"

KERNEL=${KERNEL:-ours}
if [ "$KERNEL" = ours ]; then
	SUITES=${SUITES:-selftests own kunit lint bench}
else
	SUITES=${SUITES:-selftests own kunit lint}
fi
T=${T:-}
has() { [[ " $SUITES " == *" $1 "* ]]; }

say "$BASE_PKG $(base_version), kernel '$KERNEL', suites: $SUITES${T:+, filter: $T}"
t0=$(date +%s)
"$HARNESS/kernel.sh" "$KERNEL"
[ "$KERNEL" = ours ] || ! { has lint || has bench; } || "$HARNESS/kernel.sh" ours
[ "$KERNEL" = upstream ] || ! has bench || "$HARNESS/kernel.sh" upstream
"$HARNESS/userspace.sh"
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
	[ -f "$HARNESS/suites/$s.list" ] && [ "$s" != selftests ] &&
		grep -v '^#' "$HARNESS/suites/$s.list" | grep . >> "$list"
done
if [ -n "$T" ]; then
	grep -E -- "$T" "$list" > "$list.f" || true
	mv "$list.f" "$list"
fi

t1=$(date +%s)
if [ -s "$list" ] || has kunit; then
	cat > "$run/job/job.sh" <<-'JOB'
	#!/bin/sh
	run-tests
	JOB
	chmod +x "$run/job/job.sh"
	log=$LOGS/console-$KERNEL.log
	say "booting $KERNEL: $(grep -c . "$list") tests (console: $log)"
	VM_FILTER="grep --line-buffered -E ^@@(BEGIN|END)" \
		"$HARNESS/vm.sh" "$KERNEL" "$run/job" "$log" "${VM_TIMEOUT:-3600}" |
		sed -u 's/^@@END \([^ ]*\) rc=\([0-9]*\).*/   done \1 (exit \2)/; /^@@BEGIN/d' || true
	kopt=
	has kunit || kopt=--no-kunit
	python3 "$HARNESS/results.py" "$log" "$list" $kopt >> "$res"
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
has lint && "$HARNESS/lint.sh" >> "$res"

python3 "$HARNESS/summary.py" "$res" "$HARNESS/expected-failures" "$run/summary.txt" \
	"build ${t_build}s, tests ${t_test}s"
