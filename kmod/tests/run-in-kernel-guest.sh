#!/bin/sh
# The kernel suites in a throw-away guest of another Debian kernel, with the modules
# scripts/build-for-kernel.sh built against it in BUILD_DIR (build/k<series>/):
#
#   . BUILD_DIR/kernel.env
#   scripts/guest-run.sh --kernel "$KERNEL_IMAGE" --modules "$KERNEL_MODULES" -- \
#       kmod/tests/run-in-kernel-guest.sh BUILD_DIR RESULT_DIR
#
# Runs kmod/tests/run-in-guest.sh RESULT_DIR (the C selftests, then the TypeScript suites
# that $KPROBECOV_GUEST_SUITES names, unset: "frontends") with BUILD_DIR's kprobecov.ko,
# kpc_target.ko and kpc_entry.ko; the front ends, whose configurations name
# examples/kvstore/driver/kvstore.ko, see BUILD_DIR's build there (bind-mounted, in the
# guest only). Exits 1 when a suite's result counts a failure (a skip is not one: on
# 6.12 kprobes declines to optimise some probes the selftests would like optimised, and
# those cases skip), 2 on bad usage or when the guest runs another kernel than
# BUILD_DIR's modules are for.
set -u

[ $# -eq 2 ] || { echo "usage: $0 BUILD_DIR RESULT_DIR" >&2; exit 2; }
build=$(cd "$1" && pwd) || exit 2
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

KPROBECOV_KO=$build/kmod/kprobecov.ko
KPROBECOV_TARGET_KO=$build/kmod/tests/target/kpc_target.ko
KPROBECOV_ENTRY_KO=$build/kmod/tests/target/kpc_entry.ko
KPROBECOV_UNWATCHED_KO=$build/kmod/tests/target/kpc_unwatched.ko
KPROBECOV_FAIL_KO=$build/kmod/tests/target/kpc_fail.ko
KPROBECOV_TAIL_KO=$build/kmod/tests/target/kpc_tail.ko
KPROBECOV_KVSTORE_KO=$build/examples/kvstore/driver/kvstore.ko
KPROBECOV_GUEST_SUITES=${KPROBECOV_GUEST_SUITES-frontends}
export KPROBECOV_KO KPROBECOV_TARGET_KO KPROBECOV_ENTRY_KO KPROBECOV_UNWATCHED_KO KPROBECOV_FAIL_KO KPROBECOV_TAIL_KO KPROBECOV_KVSTORE_KO KPROBECOV_GUEST_SUITES

built_for=$(modinfo -F vermagic "$KPROBECOV_KO" 2>/dev/null | cut -d' ' -f1)
if [ "$built_for" != "$(uname -r)" ]; then
	echo "run-in-kernel-guest: $KPROBECOV_KO is for '$built_for', the guest runs $(uname -r): boot BUILD_DIR's kernel.env" >&2
	exit 2
fi
mount --bind "$KPROBECOV_KVSTORE_KO" "$root/examples/kvstore/driver/kvstore.ko" || {
	echo "run-in-kernel-guest: cannot put $KPROBECOV_KVSTORE_KO in place of the example's build (make build first)" >&2
	exit 2
}
echo "# ==== kernel $(uname -r), suites: selftests $KPROBECOV_GUEST_SUITES"
# teardown_test plants bench's generated modules, built for the stock kernel only; what
# it guards (the optimizer's pass over a big close) is kprobes' own, the same on each.
KPROBECOV_SKIP_SELFTESTS="${KPROBECOV_SKIP_SELFTESTS-} teardown_test" "$here/run-in-guest.sh" "$2"
[ $? -eq 2 ] && status=2 || status=0
umount "$root/examples/kvstore/driver/kvstore.ko"
# The results decide (run-in-guest.sh's own status also counts skips).
[ "$status" -eq 0 ] && grep -q '^passed [0-9]* failed [1-9]' "$2"/*.result && status=1
exit "$status"
