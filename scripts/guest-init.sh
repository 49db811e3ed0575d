#!/bin/busybox sh
# shellcheck shell=dash
# /init of the initramfs that scripts/guest-run.sh boots. Not meant to run on the host.
#
# Parameters come from the kernel command line (paths hold no spaces, guest-run.sh checks):
#   kpc.project=DIR   the host's project directory: 9p tag "project", mounted read-write at DIR
#   kpc.out=DIR       the output directory: 9p tag "out", mounted read-write at DIR; holds
#                     guest-cmd.sh (what to run, written by the host), and receives
#                     guest-exit-status and guest-dmesg.log
#   kpc.modules=DIR   optional: DIR/lib/modules is bind-mounted on /lib/modules
#   kpc.keep=A:B:...  host directories to keep visible where the guest's tmpfs /tmp and /run
#                     would hide them (Node, a cache, the working directory under /tmp)
#   kpc.stdin=tty     the command reads the console (the host's terminal); otherwise /dev/null
# /modules/list names the modules to insmod, in load order, from /modules/*.ko.
#
# The host's root is 9p tag "hostroot", mounted read-only on /newroot; the command runs in
# chroot /newroot as root. Whatever happens, this script ends with `reboot -f`, which ends
# QEMU (-no-reboot).

/bin/busybox --install -s /bin
export PATH=/bin

mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys

fatal() {
	echo "guest-init: $*"
	echo "guest-init: $*" >/dev/kmsg
	reboot -f
}

project='' out='' modules='' keep='' stdin=null
for arg in $(cat /proc/cmdline); do
	case $arg in
	kpc.project=*) project=${arg#*=} ;;
	kpc.out=*) out=${arg#*=} ;;
	kpc.modules=*) modules=${arg#*=} ;;
	kpc.keep=*) keep=${arg#*=} ;;
	kpc.stdin=*) stdin=${arg#*=} ;;
	esac
done
[ -n "$project" ] && [ -n "$out" ] || fatal "kpc.project= and kpc.out= are required"

for m in $(cat /modules/list); do
	insmod "/modules/$m.ko" || fatal "insmod $m failed"
done

p9=trans=virtio,version=9p2000.L,msize=512000
R=/newroot
# cache=loose: the guest's page cache keeps what it read, and nothing checks the host for
# changes. Node starts in 1.3 s instead of 4 s, and tsc over node_modules in the project
# runs 2x faster. Right because only the guest touches these files while it runs: the host
# reads what the guest wrote after QEMU has ended (and the shares were unmounted).
mount -t 9p -o $p9,cache=loose,ro hostroot $R || fatal "cannot mount the host root over 9p"
mount -t proc proc $R/proc
mount -t sysfs sysfs $R/sys
mount -t devtmpfs devtmpfs $R/dev
mkdir -p $R/dev/pts $R/dev/shm
mount -t devpts devpts $R/dev/pts
mount -t tmpfs tmpfs $R/dev/shm
mount -t debugfs debugfs $R/sys/kernel/debug 2>/dev/null
mount -t tracefs tracefs $R/sys/kernel/tracing 2>/dev/null
# /hostroot keeps a view of the host root that the tmpfs mounts below do not cover: the
# source of bind mounts for host directories under /tmp or /run.
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
# After the tmpfs mounts, so that a project under /tmp is not hidden by them. The output
# directory has no cache: what lands there is on the host at once, even if the guest dies.
mkdir -p "$R$project" && mount -t 9p -o $p9,cache=loose project "$R$project" ||
	fatal "cannot mount the project directory $project"
mkdir -p "$R$out" && mount -t 9p -o $p9 out "$R$out" ||
	fatal "cannot mount the output directory $out"

# The host's terminal adds carriage returns itself; a log file wants plain newlines.
stty -onlcr
if [ "$stdin" = tty ]; then
	chroot $R /bin/sh "$out/guest-cmd.sh"
else
	chroot $R /bin/sh "$out/guest-cmd.sh" </dev/null
fi
echo $? >"$R$out/guest-exit-status"
dmesg -s 16777216 >"$R$out/guest-dmesg.log"
sync
umount "$R$out" "$R$project"
reboot -f
