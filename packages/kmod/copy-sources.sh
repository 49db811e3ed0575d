#!/bin/sh
# prepack: the module's sources (kmod/ of the repository, without its tests and build
# outputs) into src/, which is what this package ships.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
kmod=$here/../../kmod
rm -rf "$here/src"
mkdir -p "$here/src"
cd "$kmod"
cp -R Kbuild Makefile dkms.conf include "$here/src/"
for f in ./*.c ./*.h; do
	case $f in *.mod.c) ;; *) cp "$f" "$here/src/" ;; esac
done
