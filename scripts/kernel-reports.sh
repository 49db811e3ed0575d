#!/usr/bin/env bash
# Finds the first kernel report in a kernel log: a warning, BUG, oops, lockdep, KASAN or
# UBSAN report, or a call trace (not the call trace of an allocation failure: the fuzzer
# makes allocations fail on purpose). The rules are `kprobecov vm`'s, in
# packages/core/src/vm/reports.ts; this is a thin caller of it.
#
#   scripts/kernel-reports.sh LOG      (LOG: dmesg output; - for stdin)
#
# Prints `LINE:text` of the first report and exits 0; exits 1 when there is none.
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 LOG" >&2; exit 2; }
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
node=node
if [ -f "$ROOT/build/setup.env" ]; then
	# shellcheck source=/dev/null
	node=$(. "$ROOT/build/setup.env" && echo "${NODE_BIN:-node}")
fi
exec "$node" --input-type=module -e '
const { readFileSync } = await import("node:fs")
const { firstReport } = await import(process.argv[1])
const r = firstReport(readFileSync(process.argv[2] === "-" ? 0 : process.argv[2], "latin1"), 1)
if (r === undefined) process.exit(1)
console.log(`${r.line}:${r.text[0]}`)
' "$ROOT/packages/core/src/vm/reports.ts" "$1"
