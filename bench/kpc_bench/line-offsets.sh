#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Find two line-probe sites in each probed function of a built module, both
# instruction boundaries after the fentry call (offset 0):
#   A: the first instruction after the fentry call that is at least 5 bytes
#      long, so that the jump of an optimized kprobe replaces it alone (right
#      after the call on a stock kernel; in a KCOV build, after the saves and
#      the call of __sanitizer_cov_trace_pc that come first);
#   B: the next instruction, a mid-function site.
# (With the functions of kpc_bench/kpc_sites, kprobes can optimize A into a
# jump, while B's 5-byte window takes in a shift by an immediate, which x86
# kprobes cannot boost: B stays an int3. kpcbench checks what it gets.)
# Prints "module symbol A_hex B_hex A_mnemonic B_mnemonic" per function whose
# name starts with PREFIX, in address order (module: MODULE.ko's base name).
# Fails if a function does not have the expected shape, so that a compiler
# change cannot move a probe off an instruction boundary unnoticed.
# Usage: line-offsets.sh MODULE.ko PREFIX > offsets.txt
set -eu
ko=${1:?usage: line-offsets.sh MODULE.ko PREFIX}
prefix=${2:?usage: line-offsets.sh MODULE.ko PREFIX}
objdump=${OBJDUMP:-objdump}

module=$(basename "$ko" .ko)
"$objdump" -d -w -j .text "$ko" | awk -F '\t' -v prefix="$prefix" -v module="$module" '
function hexval(s,    i, c, v) {
	v = 0
	s = tolower(s)
	for (i = 1; i <= length(s); i++) {
		c = index("0123456789abcdef", substr(s, i, 1))
		if (c == 0) return -1
		v = v * 16 + c - 1
	}
	return v
}
function plain(k) {
	return insn_b0[k] != "e8" && insn_b0[k] != "e9" && insn_b0[k] != "cc" &&
	       insn_mn[k] !~ /^(call|jmp|ret|int3|j|loop)/
}
function finish() {
	if (name == "") return
	site = 1
	if (n < 4 || insn_off[0] != 0 || insn_len[0] != 5 || insn_mn[0] != "call") {
		printf "line-offsets.sh: %s: unexpected code shape (no fentry call first)\n", name > "/dev/stderr"
		bad = 1
	} else {
		# Past calls and short instructions, not past a jump or a return.
		while (site < n - 1 && (!plain(site) || insn_len[site] < 5) &&
		       insn_b0[site] != "cc" && insn_mn[site] !~ /^(jmp|ret|int3|j|loop)/)
			site++
		if (!plain(site) || insn_len[site] < 5 || !plain(site + 1) ||
		    insn_off[n - 1] - insn_off[site + 1] < 5) {
			printf "line-offsets.sh: %s: unexpected code shape (%s, %s)\n", name, insn_mn[1], insn_mn[2] > "/dev/stderr"
			bad = 1
		}
	}
	printf "%s %s 0x%x 0x%x %s %s\n", module, name, insn_off[site], insn_off[site + 1], insn_mn[site], insn_mn[site + 1]
	count++
	name = ""
}
/^[0-9a-f]+ <[^>]+>:$/ {
	finish()
	sym = $0; sub(/^[0-9a-f]+ </, "", sym); sub(/>:$/, "", sym)
	if (index(sym, prefix) == 1) {
		name = sym
		start = hexval(substr($0, 1, index($0, " ") - 1))
		n = 0
	}
	next
}
name != "" && NF >= 3 && $1 ~ /^ *[0-9a-f]+:$/ {
	a = $1; gsub(/[ :]/, "", a)
	bytes = $2; gsub(/^ +| +$/, "", bytes)
	mn = $3; sub(/ .*/, "", mn)
	insn_off[n] = hexval(a) - start
	insn_len[n] = split(bytes, parts, " ")
	insn_b0[n] = parts[1]
	insn_mn[n] = mn
	n++
	next
}
END {
	finish()
	if (count == 0) {
		printf "line-offsets.sh: no function named %s* in the module\n", prefix > "/dev/stderr"
		bad = 1
	}
	exit bad
}'
