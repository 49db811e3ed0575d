#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Run the kprobecov benchmark inside the test guest, as root, and write its
# section of OUTPUT_MD (between the BEGIN/END markers below; the rest of the
# file is kept; the section is appended if the markers are missing).
#
#   scripts/guest-run.sh -- bench/run-in-guest.sh BENCHMARKS.md
#
# Needs, built on the host beforehand: kmod/kprobecov.ko and `make -C bench
# KDIR=...` (kpc_bench.ko, kpc_sites.ko, the *.offsets files, kpcbench).
# Loads the modules that are not loaded yet and unloads those it loaded.
# KPROBECOV_BENCH_ARGS adds options for kpcbench (e.g. "-n 20000 -r 5 -t 60").
# Exit status: 0; 3 the run finished but saw module issues (listed in the
# section and on stderr; the file is written); other: failed, file untouched.
set -eu

prog=run-in-guest.sh
die() { printf '%s: %s\n' "$prog" "$*" >&2; exit 1; }

[ $# -eq 1 ] || { echo "usage: $prog OUTPUT_MD" >&2; exit 2; }
out_md=$1
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")

[ "$(id -u)" -eq 0 ] || die "must run as root (in the guest: scripts/guest-run.sh -- $0 $out_md)"
for f in "$root/kmod/kprobecov.ko" "$here/kpc_bench/kpc_bench.ko" "$here/kpc_bench/kpc_sites.ko" \
	"$here/kpc_bench/targets.offsets" "$here/kpc_bench/sites.offsets" "$here/kpcbench"; do
	[ -e "$f" ] || die "$f is missing: build first (make -C kmod KDIR=...; make -C bench KDIR=...)"
done

loaded=
cleanup() {
	for m in $loaded; do
		rmmod "$m" || printf '%s: rmmod %s failed\n' "$prog" "$m" >&2
	done
	rm -f "${section:-}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# load NAME KO [DEVICE]: insmod unless loaded; wait for /dev/DEVICE (make it
# if devtmpfs does not).
load() {
	if grep -q "^$1 " /proc/modules; then
		printf '%s: %s already loaded, using it\n' "$prog" "$1" >&2
	else
		insmod "$2" || die "insmod $2 failed (built for $(uname -r)?)"
		loaded="$1 $loaded"
	fi
	[ $# -eq 3 ] || return 0
	i=0
	while [ ! -c "/dev/$3" ] && [ $i -lt 20 ]; do sleep 0.1; i=$((i + 1)); done
	if [ ! -c "/dev/$3" ]; then
		[ -r "/sys/class/misc/$3/dev" ] || die "$1 made no misc device $3"
		mknod "/dev/$3" c "$(cut -d: -f1 "/sys/class/misc/$3/dev")" \
			"$(cut -d: -f2 "/sys/class/misc/$3/dev")"
	fi
}
load kprobecov "$root/kmod/kprobecov.ko" kprobecov
load kpc_bench "$here/kpc_bench/kpc_bench.ko" kpc_bench
load kpc_sites "$here/kpc_bench/kpc_sites.ko" kpc_sites
for part in $(awk '{ print $1 }' "$here/kpc_bench/sites.offsets" | uniq); do
	load "$part" "$here/kpc_bench/$part.ko"
done

if dmesg 2>/dev/null | grep -q 'Hypervisor detected: KVM'; then
	accel=KVM
elif grep -qw hypervisor /proc/cpuinfo; then
	case ${KPROBECOV_QEMU_ACCEL:-} in	# scripts/guest-run.sh says which
	tcg) accel="TCG (QEMU, no KVM; a thread per vCPU)" ;;
	tcg-single) accel="TCG (QEMU, no KVM; one thread for both vCPUs)" ;;
	*) accel="TCG (QEMU, no KVM)" ;;
	esac
else
	accel="none (bare metal)"
fi

section=$(mktemp)
status=0
# shellcheck disable=SC2086 # KPROBECOV_BENCH_ARGS is a list of options
"$here/kpcbench" -d "$here" -a "$accel" ${KPROBECOV_BENCH_ARGS:-} >"$section" || status=$?
[ $status -eq 0 ] || [ $status -eq 3 ] || die "kpcbench failed (status $status); $out_md untouched"

{
	echo "## Probe cost (\`make bench\`)"
	echo
	cat "$section"
} | "$root/scripts/bench-section.sh" bench/run-in-guest.sh "$out_md"
cat "$section"
printf '%s: wrote %s\n' "$prog" "$out_md" >&2
exit $status
