#!/usr/bin/env bash
# Adds up the suite results of one test run and prints the totals as the last line:
#
#   scripts/totals.sh DIR [SUITE...]
#
# Every DIR/*.result is one suite, named after its file, and holds a line
# `passed N failed M` (other lines are ignored). Each SUITE named on the command line must
# have its DIR/SUITE.result. A required suite without its file, or a file without that
# line, counts as one failure. Prints one line per suite, then exactly `N passed, M failed`;
# exits 1 if anything failed or no suite ran.
set -euo pipefail

[ $# -ge 1 ] || { echo "usage: $0 DIR [SUITE...]" >&2; exit 2; }
dir=$1
shift

passed=0 failed=0 suites=0
for suite in "$@"; do
	if [ ! -f "$dir/$suite.result" ]; then
		printf '%-24s missing (%s)\n' "$suite" "$dir/$suite.result"
		failed=$((failed + 1))
	fi
done
for f in "$dir"/*.result; do
	[ -f "$f" ] || continue
	suite=$(basename "$f" .result)
	suites=$((suites + 1))
	line=$(grep -E -m1 '^passed [0-9]+ failed [0-9]+$' "$f" || true)
	if [ -z "$line" ]; then
		printf '%-24s no "passed N failed M" line in %s\n' "$suite" "$f"
		failed=$((failed + 1))
		continue
	fi
	read -r _ p _ m <<<"$line"
	printf '%-24s %d passed, %d failed\n' "$suite" "$p" "$m"
	passed=$((passed + p))
	failed=$((failed + m))
done
[ "$suites" -gt 0 ] || echo "no suite results in $dir"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$suites" -gt 0 ]
