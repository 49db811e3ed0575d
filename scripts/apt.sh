# shellcheck shell=bash
# Debian packages for the scripts that source this: installed only when missing, apt's
# lists refreshed at most once per run, with sudo when not root. The sourcing script
# defines log and die first.
#
#   apt_install PACKAGE...   installs those that are not installed
#   apt_update               apt-get update, once
#   installed PACKAGE        whether it is installed

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
