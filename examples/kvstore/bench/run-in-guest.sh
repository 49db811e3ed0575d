#!/usr/bin/env bash
# In the guest, as root: the example suite's wall time with and without kernel coverage,
# under Vitest and under Jest, written as a section of OUTPUT_MD (scripts/bench-section.sh).
#
#   examples/kvstore/bench/run-in-guest.sh OUTPUT_MD
#
# Each round runs the four commands once, in this order: Vitest without coverage,
# Vitest with --coverage.provider=kprobe, Jest without kprobecov (plain.jest.config.cjs),
# Jest with the example's config (kprobecov's environment and reporter). A run's time is
# the whole command's, Node's start and the reports included. Ratios are taken within each
# round, so that the machine's drift over the run cancels. KPROBECOV_SUITE_BENCH_ROUNDS
# sets the number of rounds (default 5). Loads kprobecov and kvstore if they are not
# loaded, and unloads what it loaded.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
example=$(cd "$here/.." && pwd)
root=$(cd "$example/../.." && pwd)
out_md=$(realpath -m "${1:?usage: $0 OUTPUT_MD}")
rounds=${KPROBECOV_SUITE_BENCH_ROUNDS:-5}
logs=$root/build/suite-bench
rm -rf "$logs" && mkdir -p "$logs"

loaded=()
for m in kprobecov:"$root/kmod/kprobecov.ko" kvstore:"$example/driver/kvstore.ko"; do
	if [ ! -e "/sys/module/${m%%:*}" ]; then
		insmod "${m#*:}"
		loaded=("${m%%:*}" "${loaded[@]}")
	fi
done

# --liftoff-only: Node 24 under TCG sometimes crashes in V8 (see packages/core/test/guest/run.sh).
node='node --liftoff-only'
declare -A cmd=(
	[vitest-plain]="$node node_modules/vitest/vitest.mjs run"
	[vitest-kprobe]="$node node_modules/vitest/vitest.mjs run --coverage.provider=kprobe"
	[jest-plain]="$node node_modules/jest/bin/jest.js --ci --config bench/plain.jest.config.cjs"
	[jest-kprobe]="$node node_modules/jest/bin/jest.js --ci"
)
order=(vitest-plain vitest-kprobe jest-plain jest-kprobe)
declare -A times=()
cd "$example"
for ((r = 1; r <= rounds; r++)); do
	for c in "${order[@]}"; do
		start=$(date +%s%N)
		if ! ${cmd[$c]} >"$logs/$c.$r.log" 2>&1; then
			echo "suite-bench: $c failed in round $r (log: $logs/$c.$r.log)" >&2
			exit 1
		fi
		ms=$((($(date +%s%N) - start) / 1000000))
		times[$c]+="$ms "
		echo "# round $r: $c $ms ms"
	done
done

# median / min / max of whitespace-separated numbers
stats() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END {
	m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
	printf "%s %s %s", m, v[1], v[NR] }'; }
ratios() { # plain measured: the per-round ratios measured/plain
	awk -v p="${times[$1]}" -v k="${times[$2]}" 'BEGIN {
		n = split(p, a); split(k, b)
		for (i = 1; i <= n; i++) printf "%.3f ", b[i] / a[i] }'
}
section=$(mktemp)
{
	echo "## The example suite with and without kernel coverage (\`make bench\`, guest)"
	echo
	echo "Measured $(date -u '+%Y-%m-%d %H:%M') UTC in the QEMU guest (TCG, 2 vCPUs, stock kernel $(uname -r)), Node $(node --version), in one run of $rounds rounds. examples/kvstore: 3 test files, 11 tests, driving kvstore.ko through /dev/kvstore; with coverage: kvstore.c's 9 functions, 188 lines and 106 branch arms planned (granularity branch) and planted, each file's worker attached, per-file and merged reports written (Vitest: text, text-summary, html, lcovonly, json; Jest: clover, json, lcov, text). A run is the whole command, Node's start included. Ratios are taken within each round; goal: under 1.25."
	echo
	echo "| Runner | Without coverage, s (median, min–max) | With kernel coverage, s | Ratio (median, min–max) |"
	echo "|---|---:|---:|---:|"
	for runner in vitest jest; do
		# (no process substitution: the guest has no /dev/fd)
		read -r pm pmin pmax <<<"$(stats <<<"${times[$runner-plain]}")"
		read -r km kmin kmax <<<"$(stats <<<"${times[$runner-kprobe]}")"
		read -r rm rmin rmax <<<"$(ratios "$runner-plain" "$runner-kprobe" | stats)"
		awk -v r="${runner^}" -v p="$pm $pmin $pmax" -v k="$km $kmin $kmax" -v q="$rm $rmin $rmax" 'BEGIN {
			split(p, a); split(k, b); split(q, c)
			printf "| %s | %.2f (%.2f–%.2f) | %.2f (%.2f–%.2f) | %.3f (%.3f–%.3f) |\n", r,
				a[1] / 1000, a[2] / 1000, a[3] / 1000, b[1] / 1000, b[2] / 1000, b[3] / 1000, c[1], c[2], c[3] }'
	done
} >"$section"
"$root/scripts/bench-section.sh" examples/kvstore/bench/run-in-guest.sh "$out_md" <"$section"
cat "$section"
rm -f "$section"
for m in "${loaded[@]}"; do rmmod "$m"; done
