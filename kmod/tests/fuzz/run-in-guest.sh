#!/bin/sh
# Fuzzes /dev/kprobecov for a bounded time in a throw-away guest of the debug kernel, as
# root (kmod/tests/run-in-debug-guest.sh runs it in `make test`, `make fuzz` for longer):
#
#   kmod/tests/fuzz/run-in-guest.sh RESULT_DIR NAME
#
# Loads build/debug/kmod-fuzz/kprobecov.ko (kprobecov built with KCOV: make build-debug)
# and kpc_target.ko, runs kpc_fuzz from the committed corpus (kmod/tests/fuzz/corpus/)
# with failure injection, then unloads both. Writes RESULT_DIR/NAME.result, `passed N
# failed M` over three checks: the fuzzer's verdict (no kernel report, no hang, enough
# calls), the kernel log of the run (scripts/kernel-reports.sh), kprobecov unloading
# after it; RESULT_DIR/NAME.log (the output) and RESULT_DIR/NAME.stats (the figures,
# NAME=value). Programs that reached new sites, failing programs and the kernel log go
# to build/fuzz/NAME/.
#
# KPROBECOV_FUZZ_SECONDS  time limit (default 150)
# KPROBECOV_FUZZ_IOCTLS   ioctl calls to make; fewer when the time runs out fails (default
#                         100000; 0: run for the whole time)
# KPROBECOV_FUZZ_SEED     seed of the generated programs (default 1)
# KPROBECOV_FUZZ_KO       the kprobecov.ko to fuzz (default: the KCOV build above)
set -u

[ $# -eq 2 ] || { echo "usage: $0 RESULT_DIR NAME" >&2; exit 2; }
results=$(mkdir -p "$1" && cd "$1" && pwd) || exit 2
name=$2
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
ko=${KPROBECOV_FUZZ_KO:-$root/build/debug/kmod-fuzz/kprobecov.ko}
target_ko=$root/build/debug/kmod/tests/target/kpc_target.ko
out=$root/build/fuzz/$name
log=$results/$name.log
seconds=${KPROBECOV_FUZZ_SECONDS:-150}
ioctls=${KPROBECOV_FUZZ_IOCTLS:-100000}
seed=${KPROBECOV_FUZZ_SEED:-1}
passed=0 failed=0

check() { # ok what
	if [ "$1" = 0 ]; then
		passed=$((passed + 1)); echo "ok - $2" | tee -a "$log"
	else
		failed=$((failed + 1)); echo "not ok - $2" | tee -a "$log"
	fi
}

: >"$log"
rm -rf "$out" && mkdir -p "$out"
[ -e /sys/module/kprobecov ] && rmmod kprobecov
[ -e /sys/module/kpc_target ] && rmmod kpc_target
before=$(dmesg | wc -l)
# Budgets that fit the guest's 2 GiB (KASAN's shadow included): an INIT at the limits
# fails with E2BIG or EDQUOT instead of waking the OOM killer.
if insmod "$ko" max_area_mb=64 max_user_mb=160 max_total_mb=256 && insmod "$target_ko"; then
	{
		"$here/kpc_fuzz" --ko "$ko" --target-ko "$target_ko" --seed "$seed" \
			--seconds "$seconds" --ioctls "$ioctls" --corpus "$here/corpus" --out "$out" \
			--stats "$results/$name.stats"
		echo $? >"$out/status"
	} 2>&1 | tee -a "$log"
	check "$(cat "$out/status")" "kpc_fuzz --seed $seed: no kernel report, no hang, enough calls"
	{
		echo "kernel=$(uname -r)"
		echo "accel=${KPROBECOV_QEMU_ACCEL:-tcg}"
		echo "cpus=$(nproc)"
		echo "date=$(date -u '+%Y-%m-%d %H:%M')"
	} >>"$results/$name.stats"
else
	check 1 "load $ko and $target_ko"
fi
# After a report a task may hold kprobecov's locks for ever, and an unload that waits on
# them never ends (nor can it be killed): after 60 s the check fails and the run goes on.
unload() { # module
	rmmod "$1" &
	pid=$! n=0
	while kill -0 "$pid" 2>/dev/null && [ "$n" -lt 60 ]; do sleep 1; n=$((n + 1)); done
	kill -0 "$pid" 2>/dev/null && { echo "rmmod $1: still waiting after 60 s" | tee -a "$log"; return 1; }
	wait "$pid"
}
[ -e /sys/module/kpc_target ] && unload kpc_target
unload kprobecov
check $? "kprobecov unloads after the run"
dmesg | tail -n +"$((before + 1))" >"$out/dmesg.log"
if first=$("$root/scripts/kernel-reports.sh" "$out/dmesg.log"); then
	check 1 "kernel log of the run: $first (all: $out/dmesg.log)"
else
	check 0 "kernel log of the run: no report"
fi
echo "passed $passed failed $failed" >"$results/$name.result"
[ "$failed" -eq 0 ]
