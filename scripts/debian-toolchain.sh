#!/usr/bin/env bash
# A Debian root of another suite holding what a kernel's kbuild tree runs, for kernels whose
# compiler (or whose kbuild tools' libc) the host lacks, e.g. unstable's headers on Debian 12:
#
#   scripts/debian-toolchain.sh SUITE PACKAGE...      makes it once; prints its directory
#   scripts/debian-toolchain.sh --run DIR COMMAND...  runs COMMAND in it
#
# Make   debootstrap --variant=minbase SUITE with make and PACKAGE... (e.g. gcc-16-for-host,
#        pahole, the libraries of linux-kbuild-R), from the Debian mirror the host's apt uses
#        (scripts/apt-suite.sh); debootstrap is installed when missing. Root only (chroot).
# Entry  $CACHE/toolchain/<suite>-<hash of the sorted PACKAGEs>/: rebuilt only when the
#        packages asked for change (a kernel naming gcc-17 gets a new one); made in a
#        temporary directory and renamed into place once `make --version` runs in it. Old
#        entries are not removed.
# Run    COMMAND runs chrooted in DIR, in a private mount namespace where the repository,
#        the cache (the kernels' trees), /dev and /proc are bind-mounted at their own paths,
#        from the current directory: paths mean inside what they mean outside.
#
# Measured on 2 cores for unstable with gcc-16-for-host and pahole: 58 s cold (1 min 56 s
# while a kernel compiled), 275 MB; the modules of build-for-kernel.sh build in it in 24 s.
set -euo pipefail
trap 'printf "%s: error: line %s: %s\n" "${0##*/}" "$LINENO" "$BASH_COMMAND" >&2' ERR

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${KPROBECOV_CACHE:-$HOME/.cache/kprobecov}
mkdir -p "$CACHE/toolchain"
CACHE=$(cd "$CACHE" && pwd)

log() { printf 'debian-toolchain: %s\n' "$*" >&2; }
die() { printf 'debian-toolchain: error: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '5,6p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,2\}/usage: /' >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || die "making and entering a chroot needs root: run as root (sudo)"

if [ "${1:-}" = --run ]; then
	[ $# -ge 3 ] || usage
	dir=$2
	shift 2
	[ -x "$dir/usr/bin/make" ] || die "$dir is no toolchain root: make it with ${0##*/} SUITE PACKAGE..."
	unshare --mount --propagation private true 2>/dev/null ||
		die "cannot make a mount namespace (in a container: run it with --privileged, or --cap-add SYS_ADMIN)"
	# Shorter paths first, so that one inside another is mounted over it.
	mapfile -t shared < <(printf '%s\n' "$ROOT" "$CACHE" "$(pwd)" | awk '{ print length, $0 }' | sort -n -u | cut -d' ' -f2-)
	exec unshare --mount --propagation private -- bash -euc '
		dir=$1; shift
		n=$1; shift
		for p in "${@:1:n}"; do
			mkdir -p "$dir$p"
			mount --bind "$p" "$dir$p"
		done
		shift "$n"
		mount --rbind /dev "$dir/dev"
		mount -t proc proc "$dir/proc"
		cwd=$(pwd)
		exec chroot "$dir" /bin/sh -c "cd \"\$1\" && shift && exec \"\$@\"" sh "$cwd" "$@"
	' sh "$dir" "${#shared[@]}" "${shared[@]}" "$@"
fi

[ $# -ge 2 ] || usage
suite=$1
shift
mapfile -t packages < <(printf '%s\n' make "$@" | sort -u)
key=$(printf '%s\n' "$suite" "${packages[@]}" | sha256sum | cut -c1-12)
entry=$CACHE/toolchain/$suite-$key

exec 9>>"$CACHE/toolchain/lock"
flock 9
if [ ! -x "$entry/usr/bin/make" ]; then
	# shellcheck source=scripts/apt.sh
	. "$ROOT/scripts/apt.sh"
	# shellcheck source=scripts/apt-suite.sh
	. "$ROOT/scripts/apt-suite.sh"
	apt_install debootstrap
	mirror=$(apt_mirror)
	[ -n "$mirror" ] || die "the host's apt has no Debian archive (apt-cache policy names none)"
	tmp=$(mktemp -d "$CACHE/toolchain/make.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	log "debootstrap $suite with ${packages[*]} into $entry (minutes; log: $tmp/debootstrap.log)"
	include=$(IFS=,; echo "${packages[*]}")
	if ! debootstrap --variant=minbase --include="$include" \
		--keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
		"$suite" "$tmp/root" "$mirror" >"$tmp/debootstrap.log" 2>&1; then
		tail -n 20 "$tmp/debootstrap.log" >&2
		die "debootstrap $suite failed (above); is $suite a suite of $mirror?"
	fi
	# What builds never read: the downloads, apt's lists (nothing is installed in it
	# later), documentation and translations (-125 MB).
	rm -rf "$tmp/root/var/cache/apt/archives/"*.deb "$tmp/root/var/lib/apt/lists/"* \
		"$tmp/root/usr/share/"{doc,man,locale,info}
	chroot "$tmp/root" make --version >/dev/null || die "make does not run in the $suite root"
	rm -rf "$entry"
	mv "$tmp/root" "$entry"
	rm -rf "$tmp"
	trap - EXIT
	log "ready: $entry ($(du -sh "$entry" | cut -f1))"
fi
echo "$entry"
