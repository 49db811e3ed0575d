#!/bin/sh
# The guest half of `make demo` (scripts/demo.sh boots the guest and runs it as root):
# loads kprobecov.ko and kvstore.ko, runs the example's Vitest suite with kernel coverage,
# unloads both modules, and exits with the suite's status.
set -u
example=$(cd "$(dirname "$0")/.." && pwd)
root=$(cd "$example/../.." && pwd)

[ -e /sys/module/kprobecov ] || insmod "$root/kmod/kprobecov.ko" || exit 1
[ -e /sys/module/kvstore ] || insmod "$example/driver/kvstore.ko" || exit 1
cd "$example" || exit 1
# The guest runs under TCG: Node's optimising wasm tier crashes there now and then, hence
# --liftoff-only. On a real machine this is `pnpm test:vitest`.
node --liftoff-only node_modules/vitest/vitest.mjs run --coverage.provider=kprobe
status=$?
rmmod kvstore || status=1
rmmod kprobecov || status=1
exit $status
