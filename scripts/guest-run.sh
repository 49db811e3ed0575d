#!/usr/bin/env bash
# Runs one command as root inside a QEMU guest and exits with its exit status: the
# repository's suites' way to call `kprobecov vm` (packages/core/src/vm/, run from its
# sources), which loads no kprobecov.ko for them: they load their own builds.
#
#   scripts/guest-run.sh [--kernel IMAGE] [--modules DIR] [--timeout SECONDS] [--out DIR]
#                        [--mem MB] -- CMD [ARGS...]
#
#   --kernel IMAGE    bzImage or vmlinux to boot (default: KERNEL_IMAGE of build/setup.env,
#                     the stock Debian kernel, with KERNEL_MODULES as --modules)
#   --modules DIR     DIR/lib/modules/<release of IMAGE> is the guest's module tree
#   --timeout SECONDS whole run, boot included, the wait for another guest not (default 600)
#   --out DIR         the guest's console.log, dmesg.log and exit-status (default build/guest)
#   --mem MB          guest memory (default 2048)
#
# What `kprobecov vm --no-kprobecov --rw <project>` gives (see its --help), and besides:
# CMD's environment is what the suites were written for, not the caller's: PATH starting
# with Node 24's directory, HOME=/tmp/home (created), TERM=dumb, and the caller's CI,
# NO_COLOR, FORCE_COLOR and KPROBECOV_* variables; KPROBECOV_QEMU_ACCEL defaults to
# tcg-single, not to KVM where /dev/kvm opens (under some nested KVMs QEMU aborts on MSR
# 0x10a with -cpu host or -cpu max, and the guest hangs with -cpu host,-arch-capabilities).
#
# Exit status: CMD's, except 1 when the guest's kernel log has a report (scripts/
# kernel-reports.sh) or the guest crashed, 2 on bad usage or missing setup, 124 on timeout.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
die() { printf 'guest-run: %s\n' "$*" >&2; exit 2; }
usage() { sed -n '6,7p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,2\}//' >&2; exit 2; }

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
if [ -z "$kernel" ]; then
	kernel=$KERNEL_IMAGE
	modules=${modules:-$KERNEL_MODULES}
fi
export KPROBECOV_QEMU_ACCEL=${KPROBECOV_QEMU_ACCEL:-tcg-single}

node_dir=$(dirname "$NODE_BIN")
guest_env=(PATH="$node_dir:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" HOME=/tmp/home TERM=dumb)
while IFS= read -r name; do
	guest_env+=("$name=${!name}")
done < <(compgen -e | grep -E '^(CI|NO_COLOR|FORCE_COLOR|KPROBECOV_[A-Z0-9_]+)$' || true)

exec "$NODE_BIN" "$ROOT/packages/core/bin/kprobecov.ts" vm --no-kprobecov --kernel "$kernel" \
	${modules:+--modules "$modules"} --rw "$ROOT" --out "$out" --timeout "$timeout" --mem "$mem" -- \
	/usr/bin/env -i "${guest_env[@]}" /bin/sh -c 'mkdir -p "$HOME" && exec "$@"' guest-run "$@"
