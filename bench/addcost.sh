#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Where time-to-armed goes: ADD_PROBES / ARM / close of one collector for sets of
# probe sites that differ in one respect each (module size, function size, offset
# in the function), then the same ADDs again with the function_graph tracer on
# register_kprobe and the kernel functions it calls, to split its time. Run in the
# test guest, as root, with kprobecov loaded and bench built:
#
#   scripts/guest-run.sh -- bench/addcost.sh MODULE OUT
#
# MODULE: a stock module to probe (modprobe'd; e.g. xfs); also kpc_sites_0 of
# bench/kpc_bench (1,000 small functions) as the small-module reference. Sets of
# PROBES (env, default 300) sites, one per function, on its second instruction
# (the first line after the fentry call) or its last one; the stock module's
# smallest and largest functions. Writes the figures to OUT (text).
set -eu

prog=addcost.sh
[ $# -eq 2 ] || { echo "usage: $prog MODULE OUT" >&2; exit 2; }
module=$1
out=$2
here=$(cd "$(dirname "$0")" && pwd)
nprobes=${PROBES:-300}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

die() { printf '%s: %s\n' "$prog" "$*" >&2; exit 1; }
[ -x "$here/kpc_addcost" ] || die "$here/kpc_addcost is not built (make -C bench)"
[ -c /dev/kprobecov ] || die "kprobecov is not loaded"
modprobe "$module" || die "modprobe $module failed"
ko=$(modinfo -n "$module")
case $ko in *.ko) ;; *) die "$module: $ko is not a plain .ko" ;; esac
[ -e /sys/module/kpc_sites_0 ] || {
	insmod "$here/kpc_bench/kpc_sites.ko" 2>/dev/null || true
	insmod "$here/kpc_bench/kpc_sites_0.ko" || die "cannot load kpc_sites_0.ko"
}

# Per function of a .ko's .text: "name size off2 offlast ninsn" (offsets of the second
# and of the last instruction that is not padding).
functions() { # ko
	objdump -d -w --no-show-raw-insn -j .text "$1" | awk '
	function hexval(h,    i, v) {
		v = 0
		for (i = 1; i <= length(h); i++)
			v = v * 16 + index("0123456789abcdef", substr(h, i, 1)) - 1
		return v
	}
	function flush() {
		if (name != "" && n >= 3)
			print name, last_end - start, o2, olast, n
	}
	/^[0-9a-f]+ <[^>]+>:$/ {
		flush()
		name = $2; gsub(/[<>:]/, "", name)
		start = hexval($1); n = 0; o2 = -1; olast = -1; last_end = start
		next
	}
	/^ +[0-9a-f]+:\t/ {
		a = $1; sub(/:$/, "", a); gsub(/ /, "", a); a = hexval(a)
		mn = $2
		if (mn ~ /^(int3|nop|xchg)/) next
		n++
		if (n == 2) o2 = a - start
		olast = a - start
		last_end = a + 1
	}
	END { flush() }'
}

functions "$ko" | grep -v '\.cold' >"$tmp/funcs"
functions "$here/kpc_bench/kpc_sites_0.ko" >"$tmp/sfuncs"
nfuncs=$(wc -l <"$tmp/funcs")
nsyms=$(grep -c "\[$module\]" /proc/kallsyms)
nsmall=$(grep -c '\[kpc_sites_0\]' /proc/kallsyms)
jl=$(readelf -S -W "$ko" | sed 's/^ *\[ *[0-9]*\]//' | awk '$1 == "__jump_table" { print $5 }')
jl=$(( 0x${jl:-0} / 16 ))

sort -k2,2n "$tmp/funcs" | head -n "$nprobes" >"$tmp/small"
sort -k2,2nr "$tmp/funcs" | head -n "$nprobes" >"$tmp/large"
awk -v m="$module" '{ printf "%s %s %x\n", m, $1, $3 }' "$tmp/small" >"$tmp/set.small-first"
awk -v m="$module" '{ printf "%s %s %x\n", m, $1, $3 }' "$tmp/large" >"$tmp/set.large-first"
awk -v m="$module" '{ printf "%s %s %x\n", m, $1, $4 }' "$tmp/large" >"$tmp/set.large-last"
awk '$1 == "kpc_sites_0" { print $1, $2, $3 }' "$here/kpc_bench/sites.offsets" | head -n "$nprobes" \
	| sed 's/0x//' >"$tmp/set.sites-first"
avg() { awk '{ s += $2 } END { printf "%.0f", s / NR }' "$1"; }

T=/sys/kernel/tracing
[ -e $T/trace ] || mount -t tracefs nodev $T 2>/dev/null || T=/sys/kernel/debug/tracing
want="register_kprobe check_kprobe_address_safe jump_label_text_reserved static_call_text_reserved
within_kprobe_blacklist __within_kprobe_blacklist arch_within_kprobe_blacklist
kallsyms_lookup_size_offset lookup_symbol_name kallsyms_lookup_name kprobe_lookup_name
module_address_lookup find_kallsyms_symbol __module_text_address ftrace_location
prepare_kprobe arch_prepare_kprobe can_probe __copy_instruction __get_insn_slot
alloc_aggr_kprobe arch_prepare_optimized_kprobe __arch_prepare_optimized_kprobe
try_to_optimize_kprobe text_poke text_poke_sync kprobe_insn_slot get_optimized_kprobe
register_aggr_kprobe"
: >"$tmp/filter"
for f in $want; do
	grep -q -x "$f" "$T/available_filter_functions" 2>/dev/null && echo "$f" >>"$tmp/filter"
done

trace_on() {
	echo 0 >$T/tracing_on
	echo nop >$T/current_tracer
	cat "$tmp/filter" >$T/set_ftrace_filter
	echo 16384 >$T/buffer_size_kb
	echo function_graph >$T/current_tracer
	echo 1 >$T/options/funcgraph-tail 2>/dev/null || true
	echo >$T/trace
	echo 1 >$T/tracing_on
}
# Sum and count of each traced function's durations (µs), per probe of the set. Not
# insn_decode (thousands of calls a registration): with it the buffer overflows and keeps
# only the last registrations; "entries lost" in the trace's header says when that happens.
trace_off() { # n
	echo 0 >$T/tracing_on
	awk -v n="$1" -F'|' '
	NF >= 2 {
		d = $1; c = $2
		if (d !~ /us/) next
		gsub(/[^0-9.]/, " ", d); split(d, f, " "); v = f[length(f)]
		if (c ~ /\} \/\* /) { sub(/.*\/\* /, "", c); sub(/ \*\/.*/, "", c) }
		else { sub(/^ */, "", c); sub(/\(\);.*/, "", c) }
		s[c] += v; k[c]++
	}
	END { for (c in s) printf "%-34s %8.0f us/probe  %6.1f calls/probe\n", c, s[c] / n, k[c] / n }' \
		$T/trace | sort -k2,2nr
	echo nop >$T/current_tracer
	echo >$T/set_ftrace_filter
}

{
	echo "kernel $(uname -r); $(nproc) CPUs; $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "$module: $ko; $nfuncs functions in .text, $nsyms kallsyms symbols, $jl jump-label entries"
	echo "kpc_sites_0: $nsmall kallsyms symbols"
	echo "sets of $nprobes sites, one per function (mean function size in bytes):"
	echo "  sites-first  kpc_sites_0, second instruction (jump site), size $(avg "$tmp/sfuncs")"
	echo "  small-first  $module smallest functions, second instruction, size $(avg "$tmp/small")"
	echo "  large-first  $module largest functions, second instruction, size $(avg "$tmp/large")"
	echo "  large-last   $module largest functions, last instruction, size $(avg "$tmp/large")"
	echo
	echo "untraced: ADD_PROBES, ARM, close (s) and ms per probe of ADD"
	for s in sites-first small-first large-first large-last; do
		r=$("$here/kpc_addcost" <"$tmp/set.$s")
		echo "  $s: $r" | awk '{ print $0, sprintf("add_ms_per_probe %.2f", 1000 * $7 / $3) }'
	done
	echo
	for s in sites-first small-first large-first large-last; do
		echo "traced ADD_PROBES only, $s (function_graph on the functions listed; times inclusive):"
		trace_on
		r=$("$here/kpc_addcost" -n <"$tmp/set.$s")
		echo "  $r"
		trace_off "$nprobes" | sed 's/^/  /'
	done
} >"$out" 2>&1
cat "$out"
