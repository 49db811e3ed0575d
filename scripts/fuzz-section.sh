#!/usr/bin/env bash
# Writes the figures of a fuzzing run (kmod/tests/fuzz/run-in-guest.sh's NAME.stats, NAME=value
# lines) as the generated section of FUZZING.md (scripts/bench-section.sh), and shows it.
#
#   scripts/fuzz-section.sh STATS FUZZING.md
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 STATS FILE.md" >&2; exit 2; }
stats=$1 md=$2
get() { sed -n "s/^$1=//p" "$stats" | head -n 1; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b ? 100 * a / b : 0 }'; }
section=$(mktemp)
trap 'rm -f "$section"' EXIT
reports=$(get reports)
{
	echo '## Figures of the last `make fuzz`'
	echo
	echo "Measured $(get date) UTC in one guest boot of the debug kernel $(get kernel)" \
		"(KASAN, lockdep, KCOV), accel $(get accel), $(get cpus) CPUs; seed $(get seed)," \
		"$(get seconds) s, starting from the committed corpus of $(get seeds) programs."
	echo
	echo '| Figure | Value |'
	echo '|---|---:|'
	echo "| programs run | $(get programs) |"
	echo "| ioctl calls | $(get ioctls) |"
	echo "| calls on the device (ioctl, open, close, mmap, munmap, poll) | $(get calls) |"
	echo "| calls per second | $(awk -v c="$(get calls)" -v s="$(get seconds)" 'BEGIN { printf "%.0f", s ? c / s : 0 }') |"
	echo "| allocations failed by injection (fail-nth) | $(get faults) |"
	echo "| executor restarts (SIGKILL in a program) | $(get restarts) |"
	echo "| kprobecov.ko KCOV sites reached | $(get reached) of $(get sites) ($(pct "$(get reached)" "$(get sites)") %) |"
	echo "| of them outside .init/.exit text (reachable from user space) | $(get sites_text) |"
	echo "| sites that are tail calls (jmp), not counted: KCOV records their caller's return | $(get sites_tail) |"
	echo "| PCs in the module's text that are no site (those returns) | $(get stray) |"
	echo "| corpus at the end (seeds + programs that reached new sites) | $(get corpus) |"
	echo "| kernel reports | $reports |"
	if [ "$reports" != 0 ]; then
		echo
		echo "First report: \`$(get report)\`"
	fi
} >"$section"
scripts/bench-section.sh kmod/tests/fuzz "$md" <"$section"
cat "$section"
