#!/bin/bash
# Build build/guest/kvmhost.cpio: what the test VM needs to act as a KVM
# host for small QEMU guests (harness/guest/run-guests):
#   /usr/bin/qemu-system-x86_64, its libraries, TCG module and firmware,
#       from the Debian packages installed on this machine
#   /opt/guests/bzImage      the guests' kernel: ours
#   /opt/guests/initrd.cpio  the guests' initramfs: busybox, /init
#                            (harness/guest/guest-init), ksm_guest_fill
#   /opt/tests/run-guests    the host side, run in the test VM
# vm.sh adds it to a VM's initramfs when VM_EXTRA_CPIO names it.
#   kvmhost.sh   (after kernel.sh ours and userspace.sh)
# SPDX-License-Identifier: GPL-2.0
. "$(dirname "$0")/lib.sh"

G=$BUILD/guest
out=$G/kvmhost.cpio
img=$(kernel_image ours)
[ -f "$img" ] || die "no ours kernel: run 'make kernel'"
[ -x "$G/bin/ksm_guest_fill" ] || die "no guest programs: run 'make userspace'"
qemu=$(command -v qemu-system-x86_64) || die "qemu-system-x86_64 missing (package qemu-system-x86)"

newest=$(ls -t "$img" "$G/bin/ksm_guest_fill" "$HARNESS/kvmhost.sh" /bin/busybox \
	"$HARNESS/guest/guest-init" "$HARNESS/guest/run-guests" "$qemu" | head -n 1)
[ -f "$out" ] && [ "$out" -nt "$newest" ] && exit 0
say "packaging QEMU and the guests' kernel and initramfs"

root=$G/kvmhost
rm -rf "$root"
mkdir -p "$root"/{usr/bin,opt/guests,opt/tests}

# The guests' initramfs.
groot=$G/guest-root
rm -rf "$groot"
mkdir -p "$groot"/{bin,proc,sys,dev,tmp}
cp /bin/busybox "$groot/bin/busybox"
cp "$HARNESS/guest/guest-init" "$groot/init"
cp "$G/bin/ksm_guest_fill" "$groot/bin/"
mknod -m 600 "$groot/dev/console" c 5 1
mknod -m 666 "$groot/dev/null" c 1 3
(cd "$groot" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) > "$root/opt/guests/initrd.cpio"
cp "$img" "$root/opt/guests/bzImage"
cp "$HARNESS/guest/run-guests" "$root/opt/tests/run-guests"

# QEMU with the shared libraries it loads, at their own paths.
copy() {
	mkdir -p "$root/$(dirname "$1")"
	cp -L "$1" "$root/$1"
}
copy "$qemu"
moddir=/usr/lib/x86_64-linux-gnu/qemu
copy "$moddir/accel-tcg-x86_64.so"
! ldd "$qemu" "$moddir/accel-tcg-x86_64.so" | grep 'not found' || die "a library QEMU needs is missing"
for lib in $(ldd "$qemu" "$moddir/accel-tcg-x86_64.so" | awk '/=> \//{print $3} /^\t\/lib/{print $1}' | sort -u); do
	copy "$lib"
done
# Firmware of the pc and microvm machines booted with -kernel and no devices.
for fw in /usr/share/seabios/bios-256k.bin /usr/share/qemu/linuxboot_dma.bin \
	  /usr/share/qemu/kvmvapic.bin /usr/share/qemu/bios-microvm.bin; do
	copy "$fw"
done

(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) > "$out.tmp"
mv "$out.tmp" "$out"
say "kvmhost.cpio: $(du -h "$out" | cut -f1)"
