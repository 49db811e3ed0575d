#!/bin/sh
# The fidelity corpus in the debug kernel's guest (kmod/tests/run-in-debug-guest.sh calls
# it), as root:
#
#   test/fidelity/run-in-guest.sh RESULT_DIR
#
# 1. The truth: the gcov build of the corpus is loaded; for each case its inputs
#    (cases/<case>.txt) are written to /dev/kpc_fidelity between a reset of gcov's counters
#    and a copy of the module's .gcda files, one per object (RESULT_DIR/fidelity/gcov/<case>/);
#    then all the cases in one go (gcov/merged/).
# 2. The measured: the build a user has is loaded, and the cases' Vitest suite (one test
#    file per case) runs with kernel coverage under the kprobe backend, then under KCOV
#    (RESULT_DIR/fidelity/<backend>/).
# 3. check.test.ts compares them -> RESULT_DIR/fidelity.result.
# Needs the debug build of kprobecov.ko ($KPROBECOV_KO) and leaves no module loaded.
set -u
[ $# -eq 1 ] || { echo "usage: $0 RESULT_DIR" >&2; exit 2; }
results=$(mkdir -p "$1" && cd "$1" && pwd) || exit 2
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=$results/fidelity
plain=$root/build/debug/test/fidelity/corpus/kpc_fidelity.ko
gcov_ko=$root/build/debug/test/fidelity/corpus-gcov/kpc_fidelity.ko
gcovfs=/sys/kernel/debug/gcov
rm -rf "$out" && mkdir -p "$out/gcov"

fail() { echo "fidelity: $*" >&2; echo "passed 0 failed 1" >"$results/fidelity.result"; rmmod kpc_fidelity 2>/dev/null; exit 1; }
feed() { while IFS= read -r line; do [ -n "$line" ] && printf '%s' "$line" >/dev/kpc_fidelity; done <"$1"; }

insmod "$gcov_ko" || fail "cannot load $gcov_ko"
gcdas=$(find "$gcovfs" -name 'fidelity*.gcda')
[ -n "$gcdas" ] || fail "no .gcda of the corpus under $gcovfs (CONFIG_GCOV_KERNEL?)"
keep() { mkdir -p "$out/gcov/$1" && for g in $gcdas; do cp "$g" "$out/gcov/$1/"; done; }
for f in "$here"/cases/*.txt; do
	echo 1 >"$gcovfs/reset"
	feed "$f"
	keep "$(basename "$f" .txt)"
done
echo 1 >"$gcovfs/reset"
for f in "$here"/cases/*.txt; do feed "$f"; done
keep merged
rmmod kpc_fidelity || fail "the gcov build does not unload"

insmod "$plain" || fail "cannot load $plain"
insmod "$KPROBECOV_KO" || fail "cannot load $KPROBECOV_KO"
for backend in kprobe kcov; do
	echo "# ---- fidelity: Vitest under $backend"
	(cd "$here" && FIDELITY_KO=$plain FIDELITY_OUT=$out/$backend KPROBECOV_BACKEND=$backend \
		node ${KPROBECOV_NODE_FLAGS:-} node_modules/vitest/vitest.mjs run --coverage.provider=kprobe) \
		>"$out/$backend.log" 2>&1
	echo "# exit $?"
	tail -n 5 "$out/$backend.log"
done
rmmod kprobecov
rmmod kpc_fidelity

FIDELITY_DIR=$out FIDELITY_GCNO=$root/build/debug/test/fidelity/corpus-gcov \
	"$root/scripts/node-suite.sh" "$results/fidelity.result" "$here/check.test.ts"
