#!/usr/bin/env bash
# Builds the modules the kernel suites load against another Debian kernel, fetched once
# into the cache by scripts/debian-kernel.sh:
#
#   scripts/build-for-kernel.sh SERIES [SUITE]    e.g. 6.12, or newest unstable
#
# SUITE: the Debian suite the kernel comes from when the host's apt does not have it
# (scripts/debian-kernel.sh --suite); the modules are then built in that suite's root
# (scripts/debian-toolchain.sh), with the compiler the kernel's headers name.
# into build/k<SERIES>/: kernel.env (KVER, KERNEL_IMAGE, KERNEL_MODULES, KDIR of the
# kernel), kmod/kprobecov.ko, kmod/tests/target/{kpc_target,kpc_entry}.ko and
# examples/kvstore/driver/kvstore.ko, all with -Werror (the Kbuild files say so).
# kbuild writes an external module's objects next to its sources: the sources are copied
# there (every copy replaced, -u: cpio otherwise keeps a copy that is not older than its
# source; mtimes kept, so unchanged files are not rebuilt), and their debug info names the
# sources of the repository (-ffile-prefix-map), so reports show the same paths as those
# of the stock kernel's builds. kmod/tests/run-in-kernel-guest.sh runs the suites with them.
set -euo pipefail
trap 'printf "%s: error: line %s: %s\n" "${0##*/}" "$LINENO" "$BASH_COMMAND" >&2' ERR

[ $# -ge 1 ] && [ $# -le 2 ] || { echo "usage: ${0##*/} SERIES [SUITE]" >&2; exit 2; }
series=$1 suite=${2:-}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=build/k$series
cd "$ROOT"

scripts/debian-kernel.sh --env "$out/kernel.env" ${suite:+--suite "$suite"} "$series" >/dev/null
# shellcheck source=/dev/null
. "$out/kernel.env"

find kmod examples/kvstore/driver -type f \( -name '*.[ch]' -o -name Makefile -o -name Kbuild \) \
	! -name '*.mod.c' | cpio --quiet -pdmu "$out"
in_toolchain=()
[ -z "${TOOLCHAIN:-}" ] || in_toolchain=(scripts/debian-toolchain.sh --run "$TOOLCHAIN")
set -- KDIR="$KDIR" KCFLAGS=-ffile-prefix-map="$ROOT/$out/=$ROOT/"
"${in_toolchain[@]}" make -C "$out/kmod" "$@"
"${in_toolchain[@]}" make -C "$out/kmod/tests/target" module "$@" # not kpc_target_ctl: user space, the repository's
"${in_toolchain[@]}" make -C "$out/examples/kvstore/driver" "$@"
