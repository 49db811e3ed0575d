#!/usr/bin/env bash
# The packages as a user gets them: packed, installed into a fresh project outside this
# repository (test/install/project: a driver of its own, with Vitest and Jest suites), once
# with npm and Node 24 and once with pnpm and Node 22; a TypeScript Jest config of each
# typechecked against the installed types (project/types); then in a guest of the stock kernel:
# `kprobecov module load`, both suites with kernel coverage, and `kprobecov run`. The
# checks (check.test.ts) read what the guest left and the packed native library.
#
#   test/install/run.sh RESULT_FILE
#
# RESULT_FILE gets `passed N failed M`. Nothing of this repository's build/ or node_modules
# is used by the projects: they live in a temporary directory, get the tarballs and the
# registry's packages, and the module is built from @kprobecov/kmod's sources by the CLI.
set -uo pipefail

[ $# -eq 1 ] || { echo "usage: $0 RESULT_FILE" >&2; exit 2; }
result=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=/dev/null
. "$ROOT/build/setup.env"
work=$(mktemp -d /tmp/kprobecov-install.XXXXXX)
logs=$work/logs
mkdir -p "$logs"
fail() { echo "install: $*" >&2; echo "passed 0 failed 1" >"$result"; exit 0; }
step() { echo "# ---- install: $*"; }

node24=$(dirname "$NODE_BIN")
node22=$(dirname "$NODE22_BIN")
export PATH="$node24:$PATH"

step "pack"
"$ROOT/scripts/pack.sh" "$work/packs" >"$logs/pack.log" 2>&1 || { cat "$logs/pack.log"; fail "packing failed"; }
# What publishing would do, without the git checks (a work tree with changes may run this).
(cd "$ROOT" && "$PNPM" publish --dry-run -r --no-git-checks) >"$logs/publish-dry-run.log" 2>&1
echo $? >"$logs/publish-dry-run.rc"
tgz() { ls "$work/packs/kprobecov-$1-"*.tgz; }
tarballs=("$(tgz core)" "$(tgz kmod)" "$(tgz native-linux-x64-gnu)" "$(tgz vitest)" "$(tgz jest)")
# What a user adds besides ours (TypeScript: project/types/ is checked against our types).
REGISTRY=(vitest@^5.1 jest@^30 jest-environment-node@^30 typescript@^5 @types/node@^22)

# A fresh project: the template, and its driver built against the guest kernel's headers
# with its own Makefile.
project() { # dir
	cp -R "$ROOT/test/install/project" "$1"
	make -s -C "$1/driver" KDIR="$KDIR" >"$logs/driver-$(basename "$1").log" 2>&1 ||
		{ cat "$logs/driver-$(basename "$1").log"; fail "the project's driver did not build"; }
}

step "npm install (Node 24)"
project "$work/npm"
(cd "$work/npm" && npm install --no-audit --no-fund --save-dev "${tarballs[@]}" "${REGISTRY[@]}") \
	>"$logs/npm-install.log" 2>&1 || { tail -n 30 "$logs/npm-install.log"; fail "npm install failed"; }

step "pnpm install (Node 22)"
project "$work/pnpm"
# The tarballs name each other by version, which no registry has yet: overrides point
# those names at the tarballs, as a private registry would serve them.
# Jest 30 brings @parcel/watcher, whose install script pnpm 11 refuses to ignore silently:
# what any pnpm user of Jest writes, nothing of ours (our packages have no install scripts).
{
	echo 'allowBuilds:'
	echo "  '@parcel/watcher': false"
	echo 'overrides:'
	for p in core kmod native-linux-x64-gnu vitest jest; do
		echo "  '@kprobecov/$p': 'file:$(tgz "$p")'"
	done
} >"$work/pnpm/pnpm-workspace.yaml"
(cd "$work/pnpm" && PATH="$node22:$PATH" "$PNPM" add --save-dev "${tarballs[@]/#/file:}" "${REGISTRY[@]}") \
	>"$logs/pnpm-install.log" 2>&1 || { tail -n 30 "$logs/pnpm-install.log"; fail "pnpm install failed"; }

step "types (host)"
# A TypeScript user's Jest config against the installed types (skipLibCheck off).
for p in npm pnpm; do
	(cd "$work/$p" && ./node_modules/.bin/tsc -p types) >"$logs/$p-types.log" 2>&1
	echo $? >"$logs/$p-types.rc"
done

step "kprobecov vm (npm project)"
# The README's way to test against a kernel: the driver (a copy, the guest step below loads
# the one built above) built for the guest's kernel by `kprobecov vm --build` and loaded
# after kprobecov.ko, from the installed tarball; on the host, not in the guest.
cp -R "$work/npm/driver" "$work/npm/vmdriver"
(cd "$work/npm" && npx kprobecov vm --timeout 900 --build vmdriver -- \
	sh -c 'cat /sys/module/kpcdemo/initstate /sys/module/kprobecov/version; node --version') \
	>"$logs/npm-vm.log" 2>&1
echo $? >"$logs/npm-vm.rc"
tail -n 5 "$logs/npm-vm.log"

step "in the guest"
(cd "$work" && "$ROOT/scripts/guest-run.sh" --timeout 1500 --out "$work" -- "$ROOT/test/install/guest.sh" "$work" "$node22") \
	>"$logs/guest.log" 2>&1
echo $? >"$logs/guest.rc"
cat "$logs/guest.log"

step "checks"
INSTALL_DIR=$work KPROBECOV_ROOT=$ROOT "$ROOT/scripts/node-suite.sh" "$result" "$ROOT/test/install/check.test.ts"
# Kept for a look when something failed; removed when all passed.
if grep -q ' failed 0$' "$result"; then rm -rf "$work"; else echo "install: kept $work"; fi
