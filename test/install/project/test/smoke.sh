#!/bin/sh
# A shell script's test of the driver, for kprobecov run: add, then read.
set -e
echo reset > /dev/kpcdemo
echo 'add 4' > /dev/kpcdemo
test "$(cat /dev/kpcdemo)" = 4
