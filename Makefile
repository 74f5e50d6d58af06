# SPDX-License-Identifier: GPL-2.0
#
# Build, boot and test this KSM engine on Linux 6.12.  Everything generated
# goes under build/.  See README.md.
#
#   make run      build both, boot ours, run the dedup demo
#   make guests   boot KERNEL as the host of three QEMU guests (mem-merge=on)
#                 and show what KSM saves (THP=madvise: THP-backed guests)
#   make check    build, boot and run every test suite
#   make bench    ours against upstream KSM, results in build/bench/
#   make stress   stress, faults and fuzzing on the debug kernel (LONG=1: 1 h+)
#   make profile CMD='<command>'   where the kernel's time goes, by function
#   make series   the engine as a patch series in build/series/ (CHECK=1:
#                 also build every step and run the selftests at the switch)
#
# Variables: KERNEL=ours|upstream|debug  SUITES="selftests own kunit lint"
#            T=<regex> (test filter)  KVM=1  JOBS=<n>  QUICK=1 (bench)
#            LONG=1 (stress)  CMD=<command in /opt/tests> (profile,
#            KERNEL=ours|upstream)  CHECK=1 (series)  THP=madvise (guests)

SHELL := /bin/bash
H := harness
KERNEL ?= ours
export KERNEL SUITES T KVM JOBS SHELL_AFTER QUICK LONG CMD CHECK THP

DEB_PKGS := linux-source-6.12 build-essential flex bison bc libelf-dev \
	libssl-dev cpio xz-utils rsync kmod python3 perl ccache \
	qemu-system-x86 busybox-static libnuma-dev libcap-dev gnuplot-nox trinity \
	python3-sphinx python3-yaml git

.PHONY: all run guests check bench stress profile series deps tree kernel kernels userspace lint shell clean help

all: check

help:
	@sed -n '3,20p' Makefile | sed 's/^# \{0,1\}//'

deps:
	@$(H)/deps.sh $(DEB_PKGS)

tree: deps
	@$(H)/tree.sh

kernel: deps
	@$(H)/kernel.sh $(KERNEL)

kernels: deps
	@$(H)/kernel.sh upstream && $(H)/kernel.sh ours

userspace: deps
	@$(H)/userspace.sh

check: deps
	@$(H)/check.sh

bench: deps
	@$(H)/bench.sh

stress: deps
	@KERNEL=debug SUITES=stress $(H)/check.sh

series: deps
	@$(H)/series.sh

profile: deps
	@$(H)/profile.sh $(KERNEL) "$${CMD:?make profile CMD='<command>'}"

lint: deps
	@$(H)/kernel.sh ours && $(H)/lint.sh

run: deps
	@$(H)/run.sh

guests: deps
	@$(H)/guests.sh

shell: deps
	@SHELL_AFTER=1 $(H)/run.sh

clean:
	rm -rf build/src/*/out build/src/*/out-debug build/src/*/out-prof build/src/*/out-docs \
		build/src/*/out-noksm build/guest build/check-* build/run build/series
