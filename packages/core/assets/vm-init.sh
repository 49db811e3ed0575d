#!/bin/busybox sh
# shellcheck shell=dash
# /init of the initramfs that `kprobecov vm` boots (src/vm/initramfs.ts packs it with a
# static busybox and the virtio/9p modules). Not meant to run on the host.
#
# Parameters come from the kernel command line (paths hold no spaces, commas or colons:
# src/vm/run.ts refuses them):
#   kpc.out=DIR      9p tag "out", mounted read-write at DIR without caching: holds cmd.sh
#                    (what to run, written by the host), receives exit-status and dmesg.log
#   kpc.rw=A:B:...   host directories shared read-write (the working directory, each --rw):
#                    9p tags rw0, rw1, ... mounted at the same paths
#   kpc.modules=DIR  optional: DIR/lib/modules is bind-mounted on /lib/modules
#   kpc.keep=A:B:... host directories under /tmp or /run kept visible where the guest's own
#                    tmpfs /tmp and /run would hide them
#   kpc.stdin=tty    the command reads the console (the host's terminal); else /dev/null
# /modules/list names the modules to insmod before the 9p root can be mounted, in order.
#
# The host's root is 9p tag "hostroot", mounted read-only on /newroot; cmd.sh runs in
# chroot /newroot as root. Whatever happens, this script ends with `reboot -f`, which ends
# QEMU (-no-reboot).

/bin/busybox --install -s /bin
export PATH=/bin

mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys

fatal() {
	echo "kprobecov vm: guest: $*"
	echo "kprobecov vm: guest: $*" >/dev/kmsg
	reboot -f
}

out='' rw='' modules='' keep='' stdin=null
for arg in $(cat /proc/cmdline); do
	case $arg in
	kpc.out=*) out=${arg#*=} ;;
	kpc.rw=*) rw=${arg#*=} ;;
	kpc.modules=*) modules=${arg#*=} ;;
	kpc.keep=*) keep=${arg#*=} ;;
	kpc.stdin=*) stdin=${arg#*=} ;;
	esac
done
[ -n "$out" ] || fatal "kpc.out= is required"

for m in $(cat /modules/list); do
	insmod "/modules/$m.ko" || fatal "insmod $m failed"
done

p9=trans=virtio,version=9p2000.L,msize=512000
R=/newroot
# cache=loose: the guest's page cache keeps what it read and nothing checks the host for
# changes (Node starts in 1.3 s instead of 4 s). Right because the host does not change
# these files while the guest runs, and reads what the guest wrote once QEMU has ended.
mount -t 9p -o $p9,cache=loose,ro hostroot $R || fatal "cannot mount the host root over 9p"
mount -t proc proc $R/proc
mount -t sysfs sysfs $R/sys
mount -t devtmpfs devtmpfs $R/dev
mkdir -p $R/dev/pts $R/dev/shm
mount -t devpts devpts $R/dev/pts
mount -t tmpfs tmpfs $R/dev/shm
mount -t debugfs debugfs $R/sys/kernel/debug 2>/dev/null
mount -t tracefs tracefs $R/sys/kernel/tracing 2>/dev/null
# /hostroot: a view of the host root that the tmpfs mounts below do not cover, the source
# of bind mounts for host directories under /tmp or /run.
mkdir -p /hostroot
mount --bind $R /hostroot
mount -t tmpfs -o mode=1777 tmpfs $R/tmp
mount -t tmpfs -o mode=755 tmpfs $R/run
IFS=:
for d in $keep; do
	case $d in
	/tmp/* | /run/*) mkdir -p "$R$d" && mount --bind "/hostroot$d" "$R$d" ||
		fatal "cannot keep $d visible" ;;
	esac
done
unset IFS
if [ -n "$modules" ]; then
	mount --bind "/hostroot$modules/lib/modules" $R/lib/modules ||
		fatal "cannot bind-mount $modules/lib/modules on /lib/modules"
fi
# After the tmpfs mounts, so that a directory under /tmp is not hidden by them. The output
# directory has no cache: what lands there is on the host at once, even if the guest dies.
i=0
IFS=:
for d in $rw; do
	mkdir -p "$R$d" && mount -t 9p -o $p9,cache=loose "rw$i" "$R$d" ||
		fatal "cannot mount $d read-write"
	i=$((i + 1))
done
unset IFS
mkdir -p "$R$out" && mount -t 9p -o $p9 out "$R$out" || fatal "cannot mount the output directory $out"

# The host reads the console through a pipe: plain newlines.
stty -onlcr
if [ "$stdin" = tty ]; then
	chroot $R /bin/sh "$out/cmd.sh"
else
	chroot $R /bin/sh "$out/cmd.sh" </dev/null
fi
echo $? >"$R$out/exit-status"
# The host shows nothing after this mark (the kernel's "reboot: Restarting system").
echo kprobecov-vm:phase:end
dmesg -s 16777216 >"$R$out/dmesg.log"
sync
# The output directory first: it may lie inside a read-write one (--out build/logs).
umount "$R$out"
IFS=:
for d in $rw; do umount "$R$d"; done
unset IFS
reboot -f
