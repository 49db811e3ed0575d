#!/usr/bin/env bash
# Runs TypeScript test files with Node's own test runner (Node 24 strips types itself)
# and writes the suite's result for scripts/totals.sh:
#
#   scripts/node-suite.sh RESULT_FILE FILE...
#
# Shows the spec report; RESULT_FILE gets `passed N failed M` (skipped tests are neither).
# A run that crashes before reporting counts as one failure. Exits 0 either way, so
# that every suite of `make test` runs; the totals decide. $KPROBECOV_NODE_FLAGS (if set)
# go to node before --test (the QEMU guest sets --liftoff-only: see test/guest/run.sh).
set -uo pipefail

[ $# -ge 2 ] || { echo "usage: $0 RESULT_FILE FILE..." >&2; exit 2; }
result=$1
shift
tap=$(mktemp)
trap 'rm -f "$tap"' EXIT

# shellcheck disable=SC2086 # the flags are words
node ${KPROBECOV_NODE_FLAGS:-} --test --test-concurrency=1 \
	--test-reporter=spec --test-reporter-destination=stdout \
	--test-reporter=tap --test-reporter-destination="$tap" "$@"

pass=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$tap" | tail -n1)
fail=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$tap" | tail -n1)
if [ -z "$pass" ] || [ -z "$fail" ]; then
	echo "node-suite: no totals from the test runner for $*" >&2
	pass=0 fail=1
fi
echo "passed $pass failed $fail" >"$result"
