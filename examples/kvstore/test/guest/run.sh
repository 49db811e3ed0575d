#!/bin/sh
# The front ends against the real driver, in a throw-away guest as root
# (kmod/tests/run-in-guest.sh calls it after the core's tests):
#
#   examples/kvstore/test/guest/run.sh RESULT_DIR
#
# Runs the example's Vitest and Jest suites with kernel coverage, and the same
# cases under Vitest 4 and Jest 29, and checks what a user would: the exact
# functions and lines each test file covers, that Vitest and Jest agree, the
# setup errors' one line (device missing, module not loaded, threads pool),
# failing thresholds, that sharded runs merged equal unsharded ones (Vitest's
# --merge-reports, Jest's shards through kprobecov merge), several Vitest
# projects, and that watch mode reports each rerun afresh. Writes RESULT_DIR/frontends.result ("passed N failed M") and
# RESULT_DIR/frontends/ (each runner's output). Needs kprobecov loaded; loads
# and unloads kvstore; leaves kprobecov loaded. Node runs with --liftoff-only
# (see packages/core/test/guest/run.sh).
set -u

[ $# -eq 1 ] || { echo "usage: $0 RESULT_DIR" >&2; exit 2; }
results=$(mkdir -p "$1" && cd "$1" && pwd) || exit 2
here=$(cd "$(dirname "$0")" && pwd)
example=$(cd "$here/../.." && pwd)
root=$(cd "$example/../.." && pwd)
logs=$results/frontends
rm -rf "$logs" && mkdir -p "$logs"
ko=$example/driver/kvstore.ko
kprobecov_ko=${KPROBECOV_KO:-$root/kmod/kprobecov.ko}
node="node --liftoff-only"
passed=0 failed=0

check() { # name, then a command that succeeds when the check holds
	name=$1
	shift
	if "$@"; then
		passed=$((passed + 1))
		echo "ok - $name"
	else
		failed=$((failed + 1))
		echo "not ok - $name"
	fi
}

# Runs a runner in DIR with output to $logs/NAME.log; its exit status in $logs/NAME.rc.
run() { # name dir command...
	n=$1 d=$2
	shift 2
	echo "# ---- $n: $*"
	(cd "$d" && "$@") >"$logs/$n.log" 2>&1
	echo $? >"$logs/$n.rc"
}
vitest() { # name, then vitest's arguments
	n=$1
	shift
	run "$n" "$example" $node node_modules/vitest/vitest.mjs run --coverage.provider=kprobe "$@"
}
rc_is() { [ "$(cat "$logs/$1.rc")" = "$2" ]; }
has() { grep -a -q -F -- "$2" "$logs/$1.log"; }
has_not() { ! grep -a -q -F -- "$2" "$logs/$1.log"; }
# The functions with hits in an lcov file, sorted, one line.
fns() { sed -n 's/^FNDA:[1-9][0-9]*,//p' "$1" | sort | tr '\n' ' '; }
# The covered lines of an lcov file, sorted.
lines() { sed -n 's/^DA:\([0-9]*\),[1-9][0-9]*$/\1/p' "$1" | sort -n | tr '\n' ' '; }
# The lines and functions of an lcov file, each as hit (1) or not (0). Branch arms are
# left out: which arms of kvstore_find's loop run depends on what the store holds, and
# test files running at the same time fill it in another order in each run.
binary() { sed -n -e 's/^\(DA:[0-9]*\),[1-9][0-9]*$/\1,1/p' -e 's/^\(DA:[0-9]*,0\)$/\1/p' \
	-e 's/^FNDA:[1-9][0-9]*,/FNDA:1,/p' -e 's/^FNDA:0,/FNDA:0,/p' "$1" | md5sum; }
same() { [ "$1" = "$2" ] || { echo "# expected: $2"; echo "# got:      $1"; return 1; }; }
line_of() { grep -n -F -- "$1" "$example/driver/kvstore.c" | head -n 1 | cut -d: -f1; }

STORE_FNS='kvstore_find kvstore_ioctl kvstore_ioctl_get kvstore_read kvstore_valid_key kvstore_valid_value kvstore_write '
ERRORS_FNS='kvstore_find kvstore_valid_key kvstore_write '
STATS_FNS='kvstore_find kvstore_ioctl kvstore_ioctl_get kvstore_valid_key '

rmmod kvstore 2>/dev/null
# --- setup errors stop the run before any test, with one line
rmmod kprobecov
vitest no-device
check "vitest: no device: exit 1" rc_is no-device 1
check "vitest: no device: the line naming the fix" has no-device 'kprobecov: /dev/kprobecov is missing: load the module: sudo npx kprobecov module load'
check "vitest: no device: no test ran" has_not no-device 'Test Files'
insmod "$kprobecov_ko" || exit 1
vitest not-loaded
check "vitest: module not loaded: exit 1" rc_is not-loaded 1
check "vitest: module not loaded: the line naming the fix" has not-loaded 'kprobecov: kvstore is not loaded: load it before the tests (sudo insmod driver/kvstore.ko), or give it loadedByTests: true if the tests load it'
run jest-not-loaded "$example" $node node_modules/jest/bin/jest.js --ci
check "jest: module not loaded: exit 1" rc_is jest-not-loaded 1
check "jest: module not loaded: the line naming the fix" has jest-not-loaded 'kprobecov: kvstore is not loaded: load it before the tests (sudo insmod driver/kvstore.ko)'
check "jest: module not loaded: no test ran" has_not jest-not-loaded 'Test Suites:'
insmod "$ko" || exit 1
vitest threads --pool=threads --maxWorkers=2
check "vitest: --pool=threads with parallel files is refused with its reason" has threads "kprobecov: pool 'threads' runs test files as threads of one process, whose kernel work cannot be told apart per file: use pool 'forks' (the default), or --no-file-parallelism"

# --- Vitest 5: the bare CLI flag
vitest vitest5
out=$example/coverage/vitest
check "vitest: exit 0" rc_is vitest5 0
check "vitest: the text report shows" has vitest5 '% Coverage report from kprobe'
check "vitest: store.test.ts covers its functions" same "$(fns "$out/per-test/test/vitest/store.test.ts/lcov.info")" "$STORE_FNS"
check "vitest: errors.test.ts covers its functions" same "$(fns "$out/per-test/test/vitest/errors.test.ts/lcov.info")" "$ERRORS_FNS"
check "vitest: stats.test.ts covers its functions" same "$(fns "$out/per-test/test/vitest/stats.test.ts/lcov.info")" "$STATS_FNS"
enospc=$(line_of 'return -ENOSPC;')
emsgsize=$(line_of 'return -EMSGSIZE;')
check "vitest: ENOSPC (line $enospc) is reported missed" grep -q "^DA:$enospc,0\$" "$out/lcov.info"
check "vitest: EMSGSIZE (line $emsgsize) is reported missed" grep -q "^DA:$emsgsize,0\$" "$out/lcov.info"
read_line=$(line_of 'simple_read_from_buffer')
check "vitest: tests-by-line: only store.test.ts reads (line $read_line)" \
	sh -c "tr -d ' \n' <$out/tests-by-line.json | grep -q -F '\"driver/kvstore.c:$read_line\":[\"test/vitest/store.test.ts\"]'"
check "vitest: lcov SF is relative to the root" grep -q -x 'SF:driver/kvstore.c' "$out/lcov.info"
check "vitest: html report of the driver" test -s "$out/kvstore.c.html"
cp "$out/lcov.info" "$logs/vitest5.lcov.info"

# Threads one file at a time: each worker thread attaches the whole process.
vitest threads-serial --pool=threads --no-file-parallelism
check "vitest: --pool=threads one file at a time: exit 0" rc_is threads-serial 0
check "vitest: --pool=threads one file at a time: store.test.ts covers its functions" \
	same "$(fns "$out/per-test/test/vitest/store.test.ts/lcov.info")" "$STORE_FNS"

# --- thresholds fail the run
vitest thresholds --coverage.thresholds.lines=95
check "vitest: unmet lines threshold: exit 1" rc_is thresholds 1
check "vitest: unmet lines threshold: Vitest's message" sh -c "grep -a -q -E 'ERROR: Coverage for lines \\([0-9.]+%\\) does not meet global threshold \\(95%\\)' $logs/thresholds.log"
vitest per-file --coverage.thresholds.perFile --coverage.thresholds.functions=90
check "vitest: unmet perFile threshold names the file" sh -c "grep -a -q -E 'ERROR: Coverage for functions \\([0-9.]+%\\) does not meet global threshold \\(90%\\) for driver/kvstore.c' $logs/per-file.log"

# --- sharded, then merged: equal to the unsharded run
rm -rf "$example/.vitest"
vitest shard1 --shard=1/2 --reporter=blob
vitest shard2 --shard=2/2 --reporter=blob
run merged "$example" $node node_modules/vitest/vitest.mjs run --merge-reports --coverage.provider=kprobe
check "vitest: shards and merge exit 0" sh -c "[ \"\$(cat $logs/shard1.rc)\$(cat $logs/shard2.rc)\$(cat $logs/merged.rc)\" = 000 ]"
# Hit counts depend on what the store holds (earlier runs leave keys): compare hit or not.
check "vitest: merged lcov equals the unsharded run's (lines and functions hit or not)" \
	same "$(binary "$out/lcov.info")" "$(binary "$logs/vitest5.lcov.info")"
check "vitest: merged run has every test file's report" same "$(ls "$out/per-test/test/vitest" | tr '\n' ' ')" 'errors.test.ts stats.test.ts store.test.ts '
rm -rf "$example/.vitest"

# --- Jest 30: the same cases, the same kernel lines
run jest30 "$example" $node node_modules/jest/bin/jest.js --ci
jout=$example/coverage/jest
check "jest: exit 0" rc_is jest30 0
for t in store errors stats; do
	check "jest and vitest: $t.test.ts covers the same lines" same \
		"$(lines "$jout/per-test/test/jest/$t.test.ts/lcov.info")" "$(lines "$out/per-test/test/vitest/$t.test.ts/lcov.info")"
done
run jest-thresholds "$example" $node node_modules/jest/bin/jest.js --ci --config test/guest/thresholds.jest.config.cjs
check "jest: unmet threshold: exit 1" rc_is jest-thresholds 1
check "jest: unmet threshold: Jest's message" sh -c "grep -a -q -E 'Jest: \"global\" coverage threshold for lines \\(95%\\) not met: [0-9.]+%' $logs/jest-thresholds.log"

# --- Vitest without isolation (one worker runs the files one after the other) and Jest
# with two workers: each file still gets its own functions. (Not its exact lines: the
# lookup loop's body runs or not depending on the keys earlier files left in the store.)
vitest no-isolate --no-isolate --maxWorkers=1
check "vitest --no-isolate: exit 0" rc_is no-isolate 0
check "vitest --no-isolate: store.test.ts covers its functions" same "$(fns "$out/per-test/test/vitest/store.test.ts/lcov.info")" "$STORE_FNS"
check "vitest --no-isolate: errors.test.ts covers its functions" same "$(fns "$out/per-test/test/vitest/errors.test.ts/lcov.info")" "$ERRORS_FNS"
check "vitest --no-isolate: stats.test.ts covers its functions" same "$(fns "$out/per-test/test/vitest/stats.test.ts/lcov.info")" "$STATS_FNS"
run jest-workers "$example" $node node_modules/jest/bin/jest.js --ci --maxWorkers=2
check "jest --maxWorkers=2: exit 0" rc_is jest-workers 0
check "jest --maxWorkers=2: store.test.ts covers its functions" same "$(fns "$jout/per-test/test/jest/store.test.ts/lcov.info")" "$STORE_FNS"
check "jest --maxWorkers=2: errors.test.ts covers its functions" same "$(fns "$jout/per-test/test/jest/errors.test.ts/lcov.info")" "$ERRORS_FNS"
check "jest --maxWorkers=2: stats.test.ts covers its functions" same "$(fns "$jout/per-test/test/jest/stats.test.ts/lcov.info")" "$STATS_FNS"

# --- Jest --shard: each shard's reports, merged with kprobecov merge, equal the unsharded run's
run jest-shard1 "$example" env KVSTORE_SHARD=1 $node node_modules/jest/bin/jest.js --ci --config test/guest/shard.jest.config.cjs --shard=1/2
run jest-shard2 "$example" env KVSTORE_SHARD=2 $node node_modules/jest/bin/jest.js --ci --config test/guest/shard.jest.config.cjs --shard=2/2
run jest-merge "$example" $node "$root/packages/core/dist/bin/kprobecov.js" merge \
	coverage/jest-shard-1/lcov.info coverage/jest-shard-2/lcov.info --out coverage/jest-merged
check "jest: shards and merge exit 0" sh -c "[ \"\$(cat $logs/jest-shard1.rc)\$(cat $logs/jest-shard2.rc)\$(cat $logs/jest-merge.rc)\" = 000 ]"
check "jest: each shard ran some of the files" sh -c "[ \$(ls $example/coverage/jest-shard-1/per-test/test/jest | wc -l) -ge 1 ] && [ \$(ls $example/coverage/jest-shard-2/per-test/test/jest | wc -l) -ge 1 ]"
check "jest: merged shards equal the unsharded run (lines and functions hit or not)" \
	same "$(binary "$example/coverage/jest-merged/lcov.info")" "$(binary "$jout/lcov.info")"

# --- Vitest with several projects: one report over both
vitest projects --config test/guest/projects.vitest.config.ts
pout=$example/coverage/vitest-projects
check "vitest projects: exit 0" rc_is projects 0
check "vitest projects: store.test.ts (project store) covers its functions" same "$(fns "$pout/per-test/test/vitest/store.test.ts/lcov.info")" "$STORE_FNS"
check "vitest projects: stats.test.ts (the other project) covers its functions" same "$(fns "$pout/per-test/test/vitest/stats.test.ts/lcov.info")" "$STATS_FNS"

# --- watch mode: a rerun reports afresh. Rewriting a test file (same content) reruns it.
wait_for() { # seconds, then a command that succeeds when what is awaited is there
	t=$1
	shift
	while [ "$t" -gt 0 ]; do
		"$@" && return 0
		sleep 1
		t=$((t - 1))
	done
	return 1
}
rewrite() { cat "$1" >"$1.rewrite" && cat "$1.rewrite" >"$1" && rm -f "$1.rewrite"; }
only_errors() { [ "$(ls "$out/per-test/test/vitest" 2>/dev/null | tr '\n' ' ')" = 'errors.test.ts ' ]; }
rm -rf "$out"
(cd "$example" && exec $node node_modules/vitest/vitest.mjs watch --coverage.provider=kprobe) >"$logs/vitest-watch.log" 2>&1 &
watcher=$!
check "vitest watch: the first run reports every file" wait_for 240 test -d "$out/per-test/test/vitest/stats.test.ts"
wait_for 30 test -s "$out/lcov.info"
rewrite "$example/test/vitest/errors.test.ts"
check "vitest watch: the rerun of errors.test.ts reports that file alone" wait_for 180 only_errors
# The rewrite may reach the watcher as two changes (truncate, write): a second rerun can
# be removing the merged report when the first one's per-file report is read; wait for
# the merged report to settle on errors.test.ts's functions.
errors_merged() { [ "$(fns "$out/lcov.info")" = "$ERRORS_FNS" ]; }
errors_merged_settles() { wait_for 60 errors_merged || same "$(fns "$out/lcov.info")" "$ERRORS_FNS"; }
check "vitest watch: the rerun's merged coverage is errors.test.ts's functions" errors_merged_settles
kill "$watcher" 2>/dev/null
wait "$watcher" 2>/dev/null

# Jest --watchAll reruns every file: counts must not add up over runs.
ioctl_calls() { sed -n 's/^FNDA:\([0-9]*\),kvstore_ioctl$/\1/p' "$jout/lcov.info" 2>/dev/null; }
report_id() { stat -c '%i %Y' "$jout/lcov.info" 2>/dev/null; }
rm -rf "$jout"
(cd "$example" && exec $node node_modules/jest/bin/jest.js --watchAll) >"$logs/jest-watch.log" 2>&1 &
watcher=$!
check "jest watch: the first run writes its report" wait_for 240 test -s "$jout/lcov.info"
first_calls=$(ioctl_calls) first_id=$(report_id)
rewrite "$example/test/jest/stats.test.ts"
check "jest watch: the rerun writes a new report" wait_for 180 sh -c "[ -s $jout/lcov.info ] && [ \"\$(stat -c '%i %Y' $jout/lcov.info)\" != '$first_id' ]"
check "jest watch: the rerun counts afresh (kvstore_ioctl calls: $first_calls)" same "$(ioctl_calls)" "$first_calls"
kill "$watcher" 2>/dev/null
wait "$watcher" 2>/dev/null

# --- the oldest supported majors
v4=$root/packages/vitest-plugin/compat/vitest4
run vitest4 "$v4" $node node_modules/vitest/vitest.mjs run --coverage.provider=kprobe
check "vitest 4: exit 0" rc_is vitest4 0
check "vitest 4: store.test.ts covers its functions" same "$(fns "$v4/coverage/per-test/test/store.test.ts/lcov.info")" "$STORE_FNS"
check "vitest 4: errors.test.ts covers its functions" same "$(fns "$v4/coverage/per-test/test/errors.test.ts/lcov.info")" "$ERRORS_FNS"
j29=$root/packages/jest-reporter/compat/jest29
run jest29 "$j29" $node node_modules/jest/bin/jest.js --ci
check "jest 29: exit 0" rc_is jest29 0
check "jest 29: stats.test.ts covers its functions" same "$(fns "$j29/coverage/kernel/per-test/test/stats.test.ts/lcov.info")" "$STATS_FNS"
check "jest 29: store.test.ts covers its functions" same "$(fns "$j29/coverage/kernel/per-test/test/store.test.ts/lcov.info")" "$STORE_FNS"

rmmod kvstore || failed=$((failed + 1))
echo "passed $passed failed $failed" >"$results/frontends.result"
echo "# frontends: passed $passed failed $failed"
[ "$failed" -eq 0 ]
