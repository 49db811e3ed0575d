#!/bin/sh
# The guest's part of test/install/run.sh, as root: in each installed project, what the
# README tells a user to do. Leaves each step's output in WORK/logs/<project>-<step>.log and
# its exit status in .rc beside it; check.test.ts judges them.
#
#   test/install/guest.sh WORK NODE22_DIR
#
# WORK/npm runs under Node 24 (the guest's default), WORK/pnpm under Node 22. The module is
# built by `kprobecov module load` in the guest, into WORK/cache (the first project builds
# it, the second finds it there).
set -u
[ $# -eq 2 ] || { echo "usage: $0 WORK NODE22_DIR" >&2; exit 2; }
work=$1
node22=$2
logs=$work/logs
export KPROBECOV_CACHE=$work/cache

step() { # project name command...
	p=$1 n=$2
	shift 2
	echo "# ---- $p: $n: $*"
	"$@" >"$logs/$p-$n.log" 2>&1
	echo $? >"$logs/$p-$n.rc"
	tail -n 5 "$logs/$p-$n.log"
}

for p in npm pnpm; do
	cd "$work/$p" || exit 1
	if [ "$p" = pnpm ]; then PATH=$node22:$PATH; export PATH; fi
	node --version >"$logs/$p-node.version"
	step "$p" load npx kprobecov module load
	step "$p" status npx kprobecov module status
	insmod driver/kpcdemo.ko
	step "$p" vitest npx vitest run --coverage.provider=kprobe
	step "$p" jest npx jest
	step "$p" run npx kprobecov run --module kpcdemo=driver/kpcdemo.ko --out coverage/run -- sh test/smoke.sh
	rmmod kpcdemo
	step "$p" unload npx kprobecov module unload
done
exit 0
