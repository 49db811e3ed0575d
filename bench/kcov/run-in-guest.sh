#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# KCOV against kprobecov on the same in-kernel loop, in the debug kernel (make debug-kernel,
# make build-debug), as root in its guest; writes its section of OUTPUT_MD (between the
# BEGIN/END bench/kcov/run-in-guest.sh markers; the rest of the file is kept):
#
#   scripts/guest-run.sh --kernel "$DEBUG_KERNEL_IMAGE" --out build/kcov-bench-guest -- \
#       bench/kcov/run-in-guest.sh BENCHMARKS.md
#
# Needs: bench/kcov/kcovbench (make -C bench, on the host), and the debug builds of
# kprobecov.ko and kpc_bench.ko ($KPROBECOV_KO, $KPROBECOV_BENCH_DIR; default
# build/debug/kmod/kprobecov.ko and build/debug/bench). Loads the modules that are not
# loaded and unloads those it loaded. KPROBECOV_KCOV_BENCH_ARGS adds options for kcovbench
# (e.g. "-t 500 -r 21": ms per measurement, rounds). Exit status: 0; 3 the run finished but kprobecov's counts were
# off (the file is written); other: failed, file untouched.
set -eu

prog=kcov/run-in-guest.sh
die() { printf '%s: %s\n' "$prog" "$*" >&2; exit 1; }

[ $# -eq 1 ] || { echo "usage: $prog OUTPUT_MD" >&2; exit 2; }
out_md=$1
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bench_dir=${KPROBECOV_BENCH_DIR:-$root/build/debug/bench}
kprobecov_ko=${KPROBECOV_KO:-$root/build/debug/kmod/kprobecov.ko}

[ "$(id -u)" -eq 0 ] || die "must run as root (in the debug kernel's guest)"
[ -e /sys/kernel/debug/kcov ] || die "this kernel ($(uname -r)) has no KCOV: boot the debug kernel"
for f in "$kprobecov_ko" "$bench_dir/kpc_bench/kpc_bench.ko" "$here/kcovbench"; do
	[ -e "$f" ] || die "$f is missing: build first (make build-debug; make -C bench)"
done

loaded=
section=
cleanup() {
	for m in $loaded; do
		rmmod "$m" || printf '%s: rmmod %s failed\n' "$prog" "$m" >&2
	done
	rm -f "$section"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

load() { # name ko
	grep -q "^$1 " /proc/modules && return 0
	insmod "$2" || die "insmod $2 failed (built for $(uname -r)?)"
	loaded="$1 $loaded"
}
load kprobecov "$kprobecov_ko"
load kpc_bench "$bench_dir/kpc_bench/kpc_bench.ko"

if dmesg 2>/dev/null | grep -q 'Hypervisor detected: KVM'; then
	accel=KVM
elif grep -qw hypervisor /proc/cpuinfo; then
	accel="TCG (QEMU, no KVM)"
else
	accel="none (bare metal)"
fi

section=$(mktemp)
status=0
# shellcheck disable=SC2086 # KPROBECOV_KCOV_BENCH_ARGS is a list of options
"$here/kcovbench" -d "$bench_dir" -a "$accel" ${KPROBECOV_KCOV_BENCH_ARGS:-} >"$section" || status=$?
[ $status -eq 0 ] || [ $status -eq 3 ] || die "kcovbench failed (status $status); $out_md untouched"

{
	echo "## KCOV and kprobecov (\`make bench\`, debug kernel)"
	echo
	cat "$section"
} | "$root/scripts/bench-section.sh" bench/kcov/run-in-guest.sh "$out_md"
cat "$section"
printf '%s: wrote %s\n' "$prog" "$out_md" >&2
exit $status
