#!/usr/bin/env bash
# make demo: the example driver's Vitest suite with kernel coverage, end to end.
#
#   scripts/demo.sh        (after make setup and make build, as `make demo` does)
#
# Boots the stock Debian kernel in a QEMU guest, loads kprobecov.ko and the example driver
# examples/kvstore/driver/kvstore.ko, runs the example's Vitest suite with
# `vitest run --coverage.provider=kprobe` (its text report is the summary), unloads both
# modules, then says where the reports are. Exit status: the suite's, or that of
# scripts/guest-run.sh when the guest fails; 1 when a report the demo promises is missing.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
[ -f build/setup.env ] || { echo "demo: build/setup.env is missing: run make demo (it runs make setup first)" >&2; exit 2; }
# shellcheck source=/dev/null
. build/setup.env

reports=examples/kvstore/coverage/vitest
echo "demo: booting Debian's stock kernel $KVER in QEMU, loading kprobecov.ko and the example"
echo "demo: driver kvstore.ko, and running the driver's Vitest suite with kernel coverage"
rm -rf "$reports"
status=0
scripts/guest-run.sh --out build/demo-guest --timeout 600 -- examples/kvstore/demo/run-in-guest.sh || status=$?
echo
for f in index.html kvstore.c.html lcov.info; do
	if [ ! -s "$reports/$f" ]; then
		echo "demo: the run wrote no $reports/$f (guest log: build/demo-guest/console.log)" >&2
		exit $((status == 0 ? 1 : status))
	fi
done
echo "demo: kernel coverage of examples/kvstore/driver/kvstore.c, as the suite left it:"
echo "demo:   HTML report     $reports/index.html (open it in a browser)"
echo "demo:   lcov            $reports/lcov.info (what CI uploads to Codecov)"
echo "demo:   per test file   $reports/per-test/"
echo "demo:   tests by line   $reports/tests-by-line.json"
exit "$status"
