#!/usr/bin/env bash
# Finds the first kernel report in a kernel log: a warning, BUG, oops, lockdep, KASAN or
# UBSAN report, or a call trace.
#
#   scripts/kernel-reports.sh LOG      (LOG: dmesg output; - for stdin)
#
# Prints `LINE:text` of the first report and exits 0; exits 1 when there is none.
# One exception: the call trace that an allocation failure prints (warn_alloc's "page
# allocation failure" and "vmalloc error", percpu's "allocation failed"), up to its
# "</TASK>", is the kernel reporting an allocation that failed, not a bug: the fuzzer
# (kmod/tests/fuzz) makes allocations fail on purpose. A warning inside it still counts.
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 LOG" >&2; exit 2; }
splat='WARNING:|BUG:|Oops|general protection|possible circular locking|inconsistent lock state'
splat+='|possible recursive locking|suspicious RCU usage|sleeping function called from invalid context'
splat+='|KASAN:|UBSAN:|kernel BUG|Call Trace:'
alloc='page allocation failure:|vmalloc error:|percpu: allocation failed'
awk -v splat="$splat" -v alloc="$alloc" '
	$0 ~ alloc { dump = 1; next }
	dump && /<\/TASK>/ { dump = 0 }
	dump && /Call Trace:/ { next }
	$0 ~ splat { print NR ":" $0; found = 1; exit }
	END { exit !found }' "$1"
