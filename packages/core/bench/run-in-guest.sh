#!/usr/bin/env bash
# In the guest, as root: the per-test-file cost of @kprobecov/core with kprobecov.ko
# loaded, written as a section of OUTPUT_MD (scripts/bench-section.sh).
#
#   packages/core/bench/run-in-guest.sh OUTPUT_MD
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)
out_md=$1
loaded=
if [ ! -e /sys/module/kprobecov ]; then
	insmod "$root/kmod/kprobecov.ko"
	loaded=1
fi
section=$(mktemp)
# --liftoff-only: Node 24 under TCG sometimes crashes in V8 optimising the type-stripping wasm.
node --liftoff-only "$here/per-file-cost.ts" >"$section"
"$root/scripts/bench-section.sh" packages/core/bench/per-file-cost.ts "$out_md" <"$section"
cat "$section"
rm -f "$section"
[ -z "$loaded" ] || rmmod kprobecov
