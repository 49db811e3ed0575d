#!/usr/bin/env bash
# Fetches a Debian kernel once into the cache, unpacked without installing it, and prints
# where its parts are: the image to boot, its module tree, its kbuild tree.
#
#   scripts/debian-kernel.sh [--env FILE] [--suite SUITE] VERSION
#
# VERSION   a series, e.g. 6.12: the newest release of it that apt's lists name (the
#           metapackage linux-image-<series>-amd64, or linux-image-amd64 when it depends
#           on that series); `newest`: the release linux-image-amd64 depends on (with
#           --suite unstable, the newest kernel Debian ships); or a release, e.g.
#           6.12.118+deb12-amd64. Nothing here names a release: apt resolves it at run time.
# --env FILE  also write the lines printed to FILE (kept as it is when they did not change)
# --suite SUITE  a kernel of another Debian suite than the host's (e.g. unstable): apt reads
#           that suite's lists through a private configuration (scripts/apt-suite.sh), and
#           what its kbuild tree runs comes from a root of that suite
#           (scripts/debian-toolchain.sh) instead of the host: builds for it run there
#           (TOOLCHAIN below)
#
# Packages  linux-image-<release>-unsigned (vmlinuz and the modules; from 7.x Debian splits
#           it into linux-binary-unsigned-, linux-modules- and linux-base-<release>), linux-headers-<release>,
#           and the headers' -common and linux-kbuild packages, with `apt-get download`,
#           unpacked with `dpkg-deb -x`. What the kbuild tree runs on the host (the compiler
#           the headers name, pahole, the libraries of kbuild's tools) is installed with apt
#           when missing, as scripts/setup.sh does; the kernel itself is not installed.
# Entry     $CACHE/debian-kernel/<release>/ ($CACHE: ${KPROBECOV_CACHE:-$HOME/.cache/kprobecov}),
#           made in a temporary directory and renamed into place once checked:
#             boot/vmlinuz-R    the package's bzImage
#             boot/vmlinux-R    the uncompressed ELF kernel it holds, booted through its PVH
#                               entry (QEMU under TCG then skips the decompressor)
#             lib/modules/R/    the modules (as the package ships them, e.g. .ko.xz), with
#                               depmod's indexes; build -> the kbuild tree
#             usr/src/linux-headers-R/   the kbuild tree (KDIR); its Makefile names the
#                               trees of this entry instead of /usr/src's
#             kernel.env        the lines below
#           Checked before it is kept: a module built against KDIR whose vermagic names R.
#           Later runs read the entry and need no network (a series is resolved from apt's
#           local lists; they are refreshed only when they name no release of it).
#
# Prints, as NAME=value lines (sh and make syntax, as build/setup.env):
#   KVER            the release, e.g. 6.12.118+deb12-amd64
#   KERNEL_IMAGE    boot/vmlinux-R: scripts/guest-run.sh --kernel "$KERNEL_IMAGE"
#   KERNEL_MODULES  the entry: scripts/guest-run.sh --modules "$KERNEL_MODULES"
#   KDIR            usr/src/linux-headers-R: make -C "$KDIR" M=DIR modules
#   TOOLCHAIN       with --suite: the root to build in (scripts/debian-toolchain.sh --run
#                   "$TOOLCHAIN" make -C "$KDIR" ...); empty: the host builds
#
# Measured on 2 cores for 6.12: 124 MB downloaded (≈ 5 s from a nearby mirror), 269 MB in
# the cache, 61 s in all with depmod and the check while a guest ran; 2 s once cached.
# For unstable's 7.2.13: 289 MB in the cache, 55 s (its lists: 11 MB, 3 s), besides the
# root of unstable (scripts/debian-toolchain.sh).
set -euo pipefail
trap 'printf "%s: error: line %s: %s\n" "${0##*/}" "$LINENO" "$BASH_COMMAND" >&2' ERR

HOST_PACKAGES=(make xz-utils zstd kmod)

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${KPROBECOV_CACHE:-$HOME/.cache/kprobecov}
mkdir -p "$CACHE/debian-kernel"
CACHE=$(cd "$CACHE" && pwd)

log() { printf 'debian-kernel: %s\n' "$*" >&2; }
die() { printf 'debian-kernel: error: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '5p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,2\}/usage: /' >&2; exit 2; }

env_file= suite=
while [ $# -gt 0 ]; do
	case $1 in
	--env) env_file=${2:?}; shift 2 ;;
	--suite) suite=${2:?}; shift 2 ;;
	-*) usage ;;
	*) break ;;
	esac
done
[ $# -eq 1 ] || usage
version=$1
[[ $version =~ ^([0-9]+\.[0-9]+([.-][0-9A-Za-z.+~-]*)?|newest)$ ]] ||
	die "'$version' is no kernel version: give a series (6.12), newest, or a Debian release (6.12.118+deb12-amd64)"

# shellcheck source=scripts/apt.sh
. "$ROOT/scripts/apt.sh"
if [ -n "$suite" ]; then
	# shellcheck source=scripts/apt-suite.sh
	. "$ROOT/scripts/apt-suite.sh"
	apt_suite "$suite"
fi
# The packages $1 depends on (first of each alternative), one per line.
depends() {
	apt-cache depends --no-recommends --no-suggests "$1" 2>/dev/null |
		sed -n 's/^ *|\{0,1\}Depends: \([^ <>]*\)$/\1/p'
}
# The release a series (or `newest`) resolves to, from apt's local lists (empty when they
# name none).
series_release() { # series
	local meta r
	for meta in "linux-image-$1-amd64" linux-image-amd64; do
		r=$(depends "$meta" | sed -n 's/^linux-image-\(.*-amd64\)$/\1/p' | head -n 1)
		case $1:$r in newest:?* | *:"$1".*) echo "$r"; return ;; esac
	done
}

# --- the release --------------------------------------------------------------------------

if [[ $version =~ ^([0-9]+\.[0-9]+|newest)$ ]]; then
	kver=$(series_release "$version")
	if [ -z "$kver" ]; then
		apt_update
		kver=$(series_release "$version")
	fi
	if [ -z "$kver" ]; then
		have=$(apt-cache pkgnames linux- 2>/dev/null |
			sed -n -e 's/^linux-image-\([0-9]*\.[0-9]*\)[.-].*-amd64-unsigned$/\1/p' \
				-e 's/^linux-binary-unsigned-\([0-9]*\.[0-9]*\)[.-].*-amd64$/\1/p' | sort -uV | tr '\n' ' ')
		die "${APT_SUITE:+$APT_SUITE: }apt's sources name no Debian kernel $version (they have: ${have:-none}); add a source that has it, or give a release"
	fi
else
	kver=$version
fi
entry=$CACHE/debian-kernel/$kver

print_env() {
	cat <<EOF
KVER=$kver
KERNEL_IMAGE=$entry/boot/vmlinux-$kver
KERNEL_MODULES=$entry
KDIR=$entry/usr/src/linux-headers-$kver
TOOLCHAIN=$(cat "$entry/toolchain" 2>/dev/null || true)
EOF
}

# --- fetch, unpack, check -----------------------------------------------------------------

# One fetch at a time on this machine (worktrees share the cache).
exec 9>>"$CACHE/debian-kernel/lock"
flock 9
if [ ! -f "$entry/kernel.env" ]; then
	apt_install "${HOST_PACKAGES[@]}"
	image=linux-image-$kver-unsigned headers=linux-headers-$kver
	# (apt-cache show succeeds when it finds any of the packages named.)
	known() { apt-cache show "$1" >/dev/null 2>&1 && apt-cache show "$headers" >/dev/null 2>&1; }
	if ! known "$image"; then
		apt_update
		known "$image" || image=linux-binary-unsigned-$kver
		known "$image" ||
			die "apt's sources have no $image and $headers: give a release they have (apt-cache search --names-only '^linux-image-.*-unsigned\$')"
	fi
	images=("$image")
	[[ $image == linux-binary-* ]] && images+=("linux-modules-$kver" "linux-base-$kver")
	# The headers' -common tree and kbuild, and what the kbuild tree runs on the host.
	mapfile -t parts < <(depends "$headers" | grep -E '^linux-(headers|kbuild)-')
	kbuild=$(printf '%s\n' "${parts[@]}" | grep '^linux-kbuild-' | head -n 1)
	[ -n "$kbuild" ] || die "$headers depends on no linux-kbuild package"
	mapfile -t host < <({ depends "$headers"; depends "$kbuild"; } | grep -v -E '^linux-' | sort -u)
	toolchain=
	if [ -n "$suite" ]; then
		toolchain=$("$ROOT/scripts/debian-toolchain.sh" "$suite" "${host[@]}")
	else
		apt_install "${host[@]}"
	fi

	log "fetching ${images[*]}, $headers, ${parts[*]} into $entry"
	tmp=$(mktemp -d "$CACHE/debian-kernel/fetch.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	# apt-get download writes into the current directory (as root where _apt cannot).
	(cd "$tmp" && apt-get download -qq "${images[@]}" "$headers" "${parts[@]}" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2 || true)
	for p in "${images[@]}" "$headers" "${parts[@]}"; do
		debs=("$tmp/${p}_"*.deb)
		if [ ! -f "${debs[0]}" ] && [ -z "${KPC_APT_REFRESHED:-}" ]; then
			# Lists older than the archive (a security update replaced the release they
			# name): refresh them once and resolve again.
			rm -rf "$tmp"
			apt_update
			exec 9>&-
			KPC_APT_REFRESHED=1 exec "$0" ${env_file:+--env "$env_file"} ${suite:+--suite "$suite"} "$version"
		fi
		[ -f "${debs[0]}" ] || die "apt-get download $p failed"
		dpkg-deb -x "${debs[0]}" "$tmp/tree"
	done
	tree=$tmp/tree
	# From 7.x the packages are merged-/usr (usr/lib/modules/R) and the image is
	# usr/lib/modules/R/vmlinuz.unsigned: the entry keeps the layout above.
	if [ -d "$tree/usr/lib/modules" ] && [ ! -e "$tree/lib/modules" ]; then
		mkdir -p "$tree/lib" "$tree/boot"
		mv "$tree/usr/lib/modules" "$tree/lib/modules"
		for z in vmlinuz.unsigned vmlinuz; do
			[ -f "$tree/lib/modules/$kver/$z" ] && [ ! -f "$tree/boot/vmlinuz-$kver" ] &&
				mv "$tree/lib/modules/$kver/$z" "$tree/boot/vmlinuz-$kver"
		done
	fi
	[ -f "$tree/boot/vmlinuz-$kver" ] || die "$image holds no boot/vmlinuz-$kver"
	kdir=usr/src/linux-headers-$kver
	# Its Makefile names trees under /usr/src (the -common tree; from 6.16 or so also
	# KBUILD_OUTPUT, itself): those of the entry instead.
	common=$(sed -n 's|^include /usr/src/\([^/]*\)/Makefile$|\1|p' "$tree/$kdir/Makefile")
	[ -n "$common" ] && [ -f "$tree/usr/src/$common/Makefile" ] ||
		die "$kdir/Makefile includes no -common tree of the packages fetched"
	sed -i "s|/usr/src/|$entry/usr/src/|g" "$tree/$kdir/Makefile"

	# The uncompressed kernel: the bzImage's payload (boot protocol: at (setup_sects + 1) *
	# 512 + payload_offset, payload_length bytes, whose last 4 are the uncompressed size
	# the kernel's build appends) is one compressed stream.
	bz=$tree/boot/vmlinuz-$kver
	sects=$(od -An -tu1 -j $((0x1f1)) -N1 "$bz" | tr -d ' ')
	read -r off len < <(od -An -tu4 -j $((0x248)) -N8 "$bz")
	[ "$sects" -ne 0 ] || sects=4
	start=$(((sects + 1) * 512 + off))
	magic=$(od -An -tx1 -j "$start" -N4 "$bz" | tr -d ' ')
	case $magic in
	fd377a58) unpack=(xz -dc) ;;
	28b52ffd) unpack=(zstd -qdc) ;;
	*) die "vmlinuz-$kver: a payload this script cannot unpack (magic $magic); boot the bzImage instead" ;;
	esac
	dd if="$bz" iflag=skip_bytes,count_bytes skip="$start" count=$((len - 4)) bs=1M status=none |
		"${unpack[@]}" >"$tree/boot/vmlinux-$kver"
	[ "$(head -c 4 "$tree/boot/vmlinux-$kver")" = $'\x7fELF' ] || die "vmlinuz-$kver holds no ELF kernel"

	# The package's postinst would run depmod; modprobe in the guest needs its indexes.
	depmod -b "$tree" "$kver"
	ln -sfn "$entry/$kdir" "$tree/lib/modules/$kver/build"

	# The check: a module built against the tree (objects in the temporary directory).
	mkdir "$tmp/check"
	printf '%s\n' '#include <linux/module.h>' 'MODULE_LICENSE("GPL");' >"$tmp/check/kpc_check.c"
	echo 'obj-m := kpc_check.o' >"$tmp/check/Kbuild"
	[ -z "$toolchain" ] || echo "$toolchain" >"$tree/toolchain"
	mv "$tree" "$tmp/entry"
	rm -rf "$entry" # what a run that failed left
	mv "$tmp/entry" "$entry"
	in_toolchain=()
	[ -z "$toolchain" ] || in_toolchain=("$ROOT/scripts/debian-toolchain.sh" --run "$toolchain")
	if ! "${in_toolchain[@]}" make -s -C "$entry/$kdir" M="$tmp/check" modules >"$tmp/check.log" 2>&1; then
		rm -rf "$entry"
		cat "$tmp/check.log" >&2
		die "a module does not build against $kdir (above)"
	fi
	magic=$(modinfo -F vermagic "$tmp/check/kpc_check.ko" | cut -d' ' -f1)
	if [ "$magic" != "$kver" ]; then
		rm -rf "$entry"
		die "a module built against $kdir says it is for $magic, not $kver"
	fi
	print_env >"$entry/kernel.env"
	rm -rf "$tmp"
	trap - EXIT
	log "ready: $entry ($(du -sh "$entry" | cut -f1))"
fi
exec 9>&-

print_env
if [ -n "$env_file" ]; then
	mkdir -p "$(dirname "$env_file")"
	{ echo "# Written by scripts/debian-kernel.sh ${suite:+--suite $suite }$version; sh and make syntax. Do not edit."; print_env; } >"$env_file.tmp"
	if cmp -s "$env_file.tmp" "$env_file"; then rm "$env_file.tmp"; else mv "$env_file.tmp" "$env_file"; fi
fi
