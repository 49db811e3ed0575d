#!/usr/bin/env bash
# Runs one command as root inside a QEMU guest booted from a kernel image, and exits with
# the command's exit status.
#
#   scripts/guest-run.sh [--kernel IMAGE] [--modules DIR] [--timeout SECONDS] [--out DIR]
#                        [--mem MB] -- CMD [ARGS...]
#
#   --kernel IMAGE    bzImage to boot (default: KERNEL_IMAGE of build/setup.env, the stock
#                     Debian kernel)
#   --modules DIR     DIR/lib/modules/<release of IMAGE> is the guest's module tree, seen
#                     at /lib/modules (default: KERNEL_MODULES of build/setup.env without
#                     --kernel; none with --kernel, then virtio-pci and 9p must be built in)
#   --timeout SECONDS whole run, boot included (default 600)
#   --out DIR         where the guest's logs go (default build/guest)
#   --mem MB          guest memory (default 2048)
#
# The guest sees the host's root file system read-only, and the project directory (the one
# holding scripts/) read-write at the same absolute path, as is DIR of --out. CMD runs in a
# chroot of that, as root, with the working directory this script was started in, PATH
# starting with Node 24's directory, HOME=/tmp/home, and the host's CI, NO_COLOR,
# FORCE_COLOR and KPROBECOV_* variables (KPROBECOV_QEMU_ACCEL always, the accelerator it
# runs under). /tmp, /run and /dev/shm are empty tmpfs, but for
# the project, DIR of --out, Node and the working directory, kept visible where they are
# under /tmp or /run; /proc, /sys, /dev, debugfs and tracefs are the guest's own, and
# /lib/modules is the guest kernel's module tree (modprobe works). CMD's stdout and stderr
# are the serial console, shown here and kept in OUT/guest-console.log (with the kernel's
# few messages of level error or worse); its stdin is this terminal if stdin is one, else
# /dev/null.
#
# Exit status: CMD's, except
#   1  the guest's kernel log (kept in OUT/guest-dmesg.log) holds a warning, BUG, oops,
#      lockdep, KASAN or UBSAN report or a call trace (scripts/kernel-reports.sh: not the
#      stack dump of an allocation failure; tainting by an out-of-tree or
#      unsigned module is fine), or the guest reported no exit status (it crashed);
#   2  bad usage or missing setup;
#   124 the timeout ran out (QEMU is killed).
#
# The initramfs (busybox-static, the virtio/9p modules in the load order that modules.dep
# gives, uncompressed, and scripts/guest-init.sh as /init) is built on first use and cached in
# $KPROBECOV_CACHE/initramfs/, keyed by kernel release and a hash of what goes into it.
#
# KPROBECOV_QEMU_ACCEL=kvm boots with KVM (-cpu host) where it works. The default is TCG:
# under some nested KVMs QEMU aborts on MSR 0x10a with -cpu host or -cpu max, and the
# guest hangs with -cpu host,-arch-capabilities. TCG runs both vCPUs in one thread
# (tcg-single, the default): with a thread per vCPU (tcg), QEMU 7.2 can keep executing the
# int3 of a site the kernel has just patched back while the other vCPU runs that code, and
# the kernel's int3 handler, finding no breakpoint there, retries forever: both vCPUs
# soft-locked at the probed function's entry, 1 run in 6 to 10 of stress_test (probes
# planted and removed under fire), none in 35 with one thread. One thread costs time where
# both vCPUs are busy: kmod/tests/run-in-guest.sh took 515 s instead of 409 s.
#
# Measured on 2 cores, TCG, stock Debian 6.1 kernel, `scripts/guest-run.sh -- true` from
# start to exit: 4.0-5.5 s (8.5 s while other builds load the machine). What it took to get
# there: qboot instead of SeaBIOS (-3 s, and no terminal-resetting escapes on the console),
# the uncompressed vmlinux through its PVH entry instead of the bzImage (-2.5 s: no xz
# decompression under TCG). `node -e` adds ≈ 1.3 s; cache=loose on the 9p mounts (see
# guest-init.sh) halves what Node costs over 9p.
set -euo pipefail
trap 'printf "%s: error: line %s: %s\n" "${0##*/}" "$LINENO" "$BASH_COMMAND" >&2' ERR

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
prog=guest-run

die() { printf '%s: %s\n' "$prog" "$*" >&2; exit 2; }
fail() { printf '%s: %s\n' "$prog" "$*" >&2; exit 1; }
usage() { sed -n '5,6p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,2\}//' >&2; exit 2; }

[ -f "$ROOT/build/setup.env" ] || die "build/setup.env is missing: run scripts/setup.sh (or make setup) first"
# shellcheck source=/dev/null
. "$ROOT/build/setup.env"

kernel='' modules='' timeout=600 out=$ROOT/build/guest mem=2048
while [ $# -gt 0 ]; do
	case $1 in
	--kernel) kernel=${2:?}; shift 2 ;;
	--modules) modules=${2:?}; shift 2 ;;
	--timeout) timeout=${2:?}; shift 2 ;;
	--out) out=${2:?}; shift 2 ;;
	--mem) mem=${2:?}; shift 2 ;;
	--) shift; break ;;
	*) usage ;;
	esac
done
[ $# -gt 0 ] || usage
[[ $timeout =~ ^[1-9][0-9]*$ ]] || die "--timeout wants whole seconds, not '$timeout'"
[[ $mem =~ ^[1-9][0-9]*$ ]] || die "--mem wants megabytes, not '$mem'"
# Passed on to CMD with the other KPROBECOV_* variables: reports say what they ran under.
export KPROBECOV_QEMU_ACCEL=${KPROBECOV_QEMU_ACCEL:-tcg-single}
case $KPROBECOV_QEMU_ACCEL in
tcg) accel=(-accel 'tcg,thread=multi' -cpu max) ;;
tcg-single) accel=(-accel 'tcg,thread=single' -cpu max) ;;
kvm) accel=(-accel kvm -cpu host) ;;
*) die "KPROBECOV_QEMU_ACCEL must be tcg, tcg-single or kvm" ;;
esac
if [ -z "$kernel" ]; then
	kernel=$KERNEL_IMAGE
	modules=${modules:-$KERNEL_MODULES}
fi
[ -f "$kernel" ] || die "no kernel image at $kernel"
mkdir -p "$out"
out=$(cd "$out" && pwd)
kernel=$(cd "$(dirname "$kernel")" && pwd)/$(basename "$kernel")

# The release string of a kernel image. A bzImage has it NUL-terminated at 0x200 + the
# 16-bit little-endian offset stored at 0x20e (Documentation/x86/boot.rst, kernel_version);
# an uncompressed vmlinux (booted through its PVH entry) has it in its linux_banner.
kernel_release() {
	local off
	if [ "$(head -c 4 "$1")" = $'\x7fELF' ]; then
		grep -a -o -m1 'Linux version [^ ]*' "$1" | head -n 1 | cut -d' ' -f3
		return
	fi
	off=$(od -An -tu2 -j $((0x20e)) -N2 "$1" | tr -d ' ')
	dd if="$1" bs=1 skip=$((0x200 + off)) count=256 status=none | tr '\0' '\n' |
		head -n 1 | cut -d' ' -f1
}
kver=$(kernel_release "$kernel")
[ -n "$kver" ] || die "cannot read the kernel release from $kernel"

moddir=
if [ -n "$modules" ]; then
	modules=$(cd "$modules" && pwd)
	moddir=$modules/lib/modules/$kver
	[ -d "$moddir" ] || die "$modules holds no lib/modules/$kver for kernel $kernel"
fi

# QEMU options take commas doubled, the kernel command line splits at spaces and kpc.keep
# at colons: refuse them rather than quote them.
for p in "$ROOT" "$out" "$modules" "$PWD" "${NODE_BIN:-}"; do
	case $p in *[[:space:],:]*) die "paths with spaces, commas or colons are not supported: '$p'" ;; esac
done

# --- the initramfs ----------------------------------------------------------------------

# The modules to insmod before the 9p root can be mounted, in load order: each module's
# dependencies from modules.dep (its list is in unload order, so it is walked backwards),
# then the module itself. Built-in modules are skipped.
NEEDED_MODULES=(virtio_pci 9pnet_virtio 9p)
declare -A dep_of=() path_of=() builtin=() loaded=()
load_order=()
visit() { # module path relative to $moddir
	local m=$1 deps i
	[ -n "${loaded[$m]:-}" ] && return
	loaded[$m]=1
	read -r -a deps <<<"${dep_of[$m]}"
	for ((i = ${#deps[@]} - 1; i >= 0; i--)); do visit "${deps[i]}"; done
	load_order+=("$m")
}
if [ -n "$moddir" ]; then
	[ -f "$moddir/modules.dep" ] || die "$moddir/modules.dep is missing (run depmod -b $modules $kver)"
	while IFS=: read -r m deps; do
		dep_of[$m]=$deps
		name=${m##*/}
		path_of[${name%%.ko*}]=$m
	done <"$moddir/modules.dep"
	if [ -f "$moddir/modules.builtin" ]; then
		while read -r m; do
			name=${m##*/}
			builtin[${name%%.ko*}]=1
		done <"$moddir/modules.builtin"
	fi
fi
for name in "${NEEDED_MODULES[@]}"; do
	if [ -n "${path_of[$name]:-}" ]; then
		visit "${path_of[$name]}"
	elif [ -n "$moddir" ] && [ -z "${builtin[$name]:-}" ]; then
		die "kernel $kver has neither a module nor a built-in $name"
	fi
done
# Without a module tree, the kernel must have virtio-pci and 9p built in: the guest says so
# if it has not.

cache=${KPROBECOV_CACHE:-$HOME/.cache/kprobecov}/initramfs
key=$( {
	cat "$ROOT/scripts/guest-init.sh"
	for m in "${load_order[@]}"; do printf '%s ' "$m"; cksum <"$moddir/$m"; done
} | sha256sum | cut -c1-16)
initramfs=$cache/$kver-$key.cpio
if [ ! -f "$initramfs" ]; then
	# busybox-static's /bin/busybox: the initramfs holds no libraries.
	[ -x /bin/busybox ] || die "/bin/busybox is missing: run scripts/setup.sh"
	mkdir -p "$cache"
	tmp=$(mktemp -d "$cache/build.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	mkdir -p "$tmp"/root/{bin,dev,proc,sys,newroot,modules}
	cp /bin/busybox "$tmp/root/bin/busybox"
	cp "$ROOT/scripts/guest-init.sh" "$tmp/root/init"
	chmod 755 "$tmp/root/init"
	# Uncompressed: busybox's insmod passes the file to the kernel as it is, and not every
	# kernel decompresses modules itself (Debian's 6.12 ships them as .ko.xz).
	for m in "${load_order[@]}"; do
		name=${m##*/}
		name=${name%%.ko*}
		case $m in
		*.ko) cp "$moddir/$m" "$tmp/root/modules/$name.ko" ;;
		*.ko.xz) xz -dc "$moddir/$m" >"$tmp/root/modules/$name.ko" ;;
		*.ko.zst) zstd -qdc "$moddir/$m" >"$tmp/root/modules/$name.ko" ;;
		*.ko.gz) gzip -dc "$moddir/$m" >"$tmp/root/modules/$name.ko" ;;
		*) die "cannot unpack module $m for the initramfs" ;;
		esac
		printf '%s\n' "$name" >>"$tmp/root/modules/list"
	done
	touch "$tmp/root/modules/list"
	(cd "$tmp/root" && find . | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) >"$tmp/initramfs.cpio"
	rm -f "$cache/$kver"-*.cpio # built from an older init script; QEMU reads it at start
	mv "$tmp/initramfs.cpio" "$initramfs"
	rm -rf "$tmp"
	trap - EXIT
fi

# --- what the guest runs ----------------------------------------------------------------

sq() { printf "'%s'" "${1//\'/\'\\\'\'}"; } # one word, quoted for sh

node_dir=$(dirname "${NODE_BIN:-/usr/bin/node}")
{
	echo '# Written by scripts/guest-run.sh; run by the guest in its chroot.'
	echo "export PATH=$(sq "$node_dir:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")"
	echo 'export HOME=/tmp/home TERM=dumb'
	echo 'mkdir -p "$HOME"'
	while IFS= read -r name; do
		echo "export $name=$(sq "${!name}")"
	done < <(compgen -e | grep -E '^(CI|NO_COLOR|FORCE_COLOR|KPROBECOV_[A-Z0-9_]+)$' || true)
	echo "cd $(sq "$PWD") || { echo 'guest-run: the working directory is missing in the guest' >&2; exit 125; }"
	printf 'exec'
	for a in "$@"; do printf ' %s' "$(sq "$a")"; done
	echo
} >"$out/guest-cmd.sh"
rm -f "$out/guest-exit-status" "$out/guest-dmesg.log" "$out/guest-console.log"

# --- QEMU -------------------------------------------------------------------------------

stdin=null
if [ -t 0 ]; then stdin='tty'; fi
# Host directories the command needs, kept visible if they are under the guest's tmpfs
# /tmp or /run: Node's installation and the working directory.
keep=$(dirname "$node_dir"):$PWD
# no5lvl: 4-level paging, as nearly every machine runs (-cpu max offers LA57); the debug
# kernel's KASAN once reported a wild access in rcu_is_watching at boot, at a 5-level
# direct-map address, before any module.
append="console=ttyS0 quiet panic=-1 log_buf_len=16M no5lvl kpc.project=$ROOT kpc.out=$out kpc.keep=$keep kpc.stdin=$stdin"
[ -n "$modules" ] && append+=" kpc.modules=$modules"
share() { # tag host-dir [readonly]
	printf -- '-fsdev\0local,id=%s,path=%s,security_model=none,multidevs=remap%s\0' "$1" "$2" "${3:+,readonly=on}"
	printf -- '-device\0virtio-9p-pci,fsdev=%s,mount_tag=%s\0' "$1" "$1"
}
mapfile -d '' shares < <(share hostroot / ro; share project "$ROOT"; share out "$out")

# One guest at a time on this machine: two TCG guests on 2 cores each take more than twice
# as long, and timeouts sized for one would fire. A second run waits here for the first.
lock=${KPROBECOV_CACHE:-$HOME/.cache/kprobecov}/guest.lock
exec 9>>"$lock"
if ! flock -n 9; then
	printf '%s: waiting for another guest of this machine to end (lock: %s)\n' "$prog" "$lock" >&2
	flock 9
fi

status=0
timeout --foreground --kill-after=10 "$timeout" \
	qemu-system-x86_64 "${accel[@]}" -smp 2 -m "$mem" \
	-nodefaults -nographic -no-reboot -monitor none -bios qboot.rom \
	-chardev "stdio,id=console,logfile=$out/guest-console.log" -serial chardev:console \
	-kernel "$kernel" -initrd "$initramfs" -append "$append" \
	"${shares[@]}" || status=$?

if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
	if [ -t 0 ]; then stty sane; fi # QEMU, killed, could not restore the terminal
	printf '%s: guest timed out after %s s (log: %s)\n' "$prog" "$timeout" "$out/guest-console.log" >&2
	exit 124
fi
[ "$status" -eq 0 ] || fail "qemu-system-x86_64 failed with status $status"

dmesg_log=$out/guest-dmesg.log
if [ ! -f "$out/guest-exit-status" ]; then
	fail "the guest reported no exit status (log: $out/guest-console.log)"
fi
[ -s "$dmesg_log" ] || fail "the guest saved no kernel log (log: $out/guest-console.log)"
if first=$("$ROOT/scripts/kernel-reports.sh" "$dmesg_log"); then
	printf '%s: the guest kernel log has a warning or error report: %s:%s\n' "$prog" "$dmesg_log" "$first" >&2
	line=${first%%:*}
	tail -n +"$line" "$dmesg_log" | head -n 40 | sed 's/^/  /' >&2
	exit 1
fi
exit "$(cat "$out/guest-exit-status")"
