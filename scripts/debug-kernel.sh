#!/usr/bin/env bash
# Builds the debug kernel (KCOV, lockdep, KASAN, kprobes, modules) once, caches it outside
# the repository, and writes build/debug-kernel.env.
#
#   scripts/debug-kernel.sh
#
# Source   Debian's linux-source-<major>.<minor>, the package that the metapackage
#          linux-source depends on (resolved with apt, never written down here), installed
#          when missing, with what building needs (flex bison bc libelf-dev).
# Config   make tinyconfig, then kernel/debug.config merged in, then make olddefconfig.
#          olddefconfig drops an option whose dependencies are missing without a word: every
#          line of the fragment is checked in the final .config, and the build stops listing
#          those that are not there as written.
# Build    make -j2 bzImage modules, in a temporary directory of the cache, which becomes the
#          entry by one rename; under a lock ($CACHE/debug-kernel/lock), so that two
#          worktrees of one machine build once and never at the same time.
# Entry    $CACHE/debug-kernel/<source version>-<key>/, key: a hash of kernel/debug.config,
#          this script and the compiler's version (a change of any of them builds anew;
#          nothing else does):
#            bzImage    the kernel to boot (LZ4; not the vmlinux's PVH entry: see the
#                       fragment)
#            vmlinux    the same kernel as ELF with DWARF, to symbolise addresses
#            kbuild/    the kbuild tree for out-of-tree modules (KDIR): the build tree
#                       without what `make -C kbuild M=DIR modules` never reads (the sources
#                       and objects of the kernel itself); checked by building a module
#            config     the final .config
#            build.log  the output of the build
# $CACHE is ${KPROBECOV_CACHE:-$HOME/.cache/kprobecov}, as for scripts/setup.sh. Entries
# of other versions or keys are left alone (another worktree may use them).
#
# build/debug-kernel.env, NAME=value lines as build/setup.env (sh and make read it):
#   DEBUG_KERNEL_IMAGE  the bzImage to boot: scripts/guest-run.sh --kernel "$DEBUG_KERNEL_IMAGE"
#   DEBUG_KDIR          kbuild tree for out-of-tree modules (make build-debug uses it)
#   DEBUG_KVER          the kernel release, e.g. 6.1.192-kprobecov-debug
#
# Building takes ≈ 11 min on 2 cores (figures in the README); with the entry cached, the
# script takes a second.
set -euo pipefail
trap 'printf "%s: error: line %s: %s\n" "${0##*/}" "$LINENO" "$BASH_COMMAND" >&2' ERR

BUILD_PACKAGES=(flex bison bc libelf-dev gcc make xz-utils)

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FRAGMENT=$ROOT/kernel/debug.config
CACHE=${KPROBECOV_CACHE:-$HOME/.cache/kprobecov}
mkdir -p "$CACHE/debug-kernel" "$ROOT/build"
CACHE=$(cd "$CACHE" && pwd)

log() { printf 'debug-kernel: %s\n' "$*" >&2; }
die() { printf 'debug-kernel: error: %s\n' "$*" >&2; exit 1; }

# --- Debian packages (installed as scripts/setup.sh does: only what is missing) -------

export DEBIAN_FRONTEND=noninteractive
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || die "not root and no sudo: cannot install Debian packages"
	SUDO=(sudo)
fi
apt_updated=
apt_update() {
	[ -n "$apt_updated" ] && return
	log "apt-get update"
	"${SUDO[@]}" apt-get update -qq
	apt_updated=1
}
installed() { dpkg-query -W -f='${db:Status-Status}\n' "$1" 2>/dev/null | grep -qx installed; }
apt_install() {
	local p missing=()
	for p in "$@"; do installed "$p" || missing+=("$p"); done
	[ ${#missing[@]} -eq 0 ] && return
	apt_update
	log "apt-get install ${missing[*]}"
	"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
# The versioned source package that the metapackage linux-source depends on.
source_package() {
	apt-cache depends linux-source 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-source-[0-9][0-9.]*\)$/\1/p' | head -n 1
}

apt_install "${BUILD_PACKAGES[@]}"
SRC_PKG=$(source_package)
if [ -z "$SRC_PKG" ]; then
	apt_update
	SRC_PKG=$(source_package)
fi
[ -n "$SRC_PKG" ] || die "cannot resolve the kernel source: apt-cache depends linux-source names no linux-source-<version>"
apt_install "$SRC_PKG"
SRC_VERSION=$(dpkg-query -W -f='${Version}' "$SRC_PKG")
TARBALL=/usr/src/$SRC_PKG.tar.xz
[ -f "$TARBALL" ] || die "$TARBALL is missing although $SRC_PKG $SRC_VERSION is installed"

# --- the cache entry --------------------------------------------------------------------

key=$( { cat "$FRAGMENT" "${BASH_SOURCE[0]}"; gcc --version | head -n 1; } | sha256sum | cut -c1-16)
ENTRY=$CACHE/debug-kernel/$SRC_VERSION-$key

write_env() {
	local env_file=$ROOT/build/debug-kernel.env kver
	kver=$(cat "$ENTRY/kbuild/include/config/kernel.release")
	cat >"$env_file.tmp" <<EOF
# Written by scripts/debug-kernel.sh; sh and make syntax. Do not edit.
DEBUG_KERNEL_IMAGE=$ENTRY/bzImage
DEBUG_KDIR=$ENTRY/kbuild
DEBUG_KVER=$kver
EOF
	if cmp -s "$env_file.tmp" "$env_file"; then
		rm "$env_file.tmp" # keep its mtime
	else
		mv "$env_file.tmp" "$env_file"
	fi
	log "ready: $kver (build/debug-kernel.env)"
}

if [ -d "$ENTRY" ]; then
	write_env
	exit 0
fi

exec 9>>"$CACHE/debug-kernel/lock"
if ! flock -n 9; then
	log "waiting for another build of the debug kernel to end (lock: $CACHE/debug-kernel/lock)"
	flock 9
fi
if [ -d "$ENTRY" ]; then # built while we waited
	write_env
	exit 0
fi
# Whatever a killed build left behind: nobody else builds while we hold the lock.
rm -rf "$CACHE"/debug-kernel/build.*
tmp=$(mktemp -d "$CACHE/debug-kernel/build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

start=$SECONDS
log "building $SRC_PKG $SRC_VERSION with kernel/debug.config into $ENTRY (≈ 11 min on 2 cores; log: $tmp/entry/build.log)"
mkdir -p "$tmp/entry" "$tmp/src"
tar -xf "$TARBALL" -C "$tmp/src"
src=$tmp/src/$SRC_PKG
[ -f "$src/Makefile" ] || die "$TARBALL holds no $SRC_PKG/Makefile"

kmake() { make -C "$src" -j2 "$@" >>"$tmp/entry/build.log" 2>&1 || {
	tail -n 40 "$tmp/entry/build.log" >&2
	die "make $* failed (the log above ends $tmp/entry/build.log, removed on exit)"
}; }

kmake tinyconfig
"$src/scripts/kconfig/merge_config.sh" -m -O "$src" "$src/.config" "$FRAGMENT" >>"$tmp/entry/build.log" 2>&1
kmake olddefconfig
# "CONFIG_X=v" must be in .config as written; "# CONFIG_X is not set" holds unless .config
# sets CONFIG_X (an option whose dependencies are off is absent: off too).
dropped=()
while IFS= read -r line; do
	case $line in
	CONFIG_*=*) grep -qxF -- "$line" "$src/.config" || dropped+=("$line") ;;
	'# CONFIG_'*' is not set')
		name=${line#\# }
		! grep -q "^${name%% *}=" "$src/.config" || dropped+=("$line")
		;;
	esac
done <"$FRAGMENT"
if [ ${#dropped[@]} -gt 0 ]; then
	for line in "${dropped[@]}"; do
		name=${line#\# }
		name=${name%%[= ]*}
		got=$(grep -E "^(# )?$name[= ]" "$src/.config" || echo "absent")
		printf 'debug-kernel:   %s  (.config: %s)\n' "$line" "$got" >&2
	done
	die "${#dropped[@]} option(s) of kernel/debug.config did not end up in .config as asked (missing dependencies?)"
fi
cp "$src/.config" "$tmp/entry/config"

kmake bzImage modules
log "kernel built in $((SECONDS - start)) s"

# The kbuild tree: what `make M=DIR modules` reads. The top and arch Makefiles, the .config,
# Module.symvers, the headers (source and generated), scripts/ (kbuild's makefiles and its
# host programs: fixdep, modpost) and objtool, which checks every module object.
mkdir "$tmp/entry/kbuild"
(cd "$src" && tar -cf - Makefile .config Module.symvers include scripts arch/x86/Makefile \
	arch/x86/include tools/objtool/objtool) | tar -xf - -C "$tmp/entry/kbuild"
mv "$src/arch/x86/boot/bzImage" "$src/vmlinux" "$tmp/entry/"
rm -rf "$tmp/src"

# The kbuild tree must build a module as make build-debug will (warnings are errors).
mkdir -p "$tmp/check"
printf '%s\n' '#include <linux/module.h>' 'static int __init check_init(void) { return 0; }' \
	'module_init(check_init);' 'MODULE_LICENSE("GPL");' >"$tmp/check/check.c"
echo 'obj-m := check.o' >"$tmp/check/Kbuild"
if ! make -C "$tmp/entry/kbuild" M="$tmp/check" KCFLAGS=-Werror modules >>"$tmp/entry/build.log" 2>&1 ||
	[ ! -f "$tmp/check/check.ko" ]; then
	tail -n 20 "$tmp/entry/build.log" >&2
	die "the kbuild tree does not build a module"
fi
rm -rf "$tmp/check"

mv "$tmp/entry" "$ENTRY"
rm -rf "$tmp"
trap - EXIT
log "built and cached in $((SECONDS - start)) s: $(du -sh "$ENTRY" | cut -f1) in $ENTRY"
write_env
