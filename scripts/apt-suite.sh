# shellcheck shell=bash
# apt for another Debian suite than the host's (e.g. unstable), without touching the host's
# apt: a private configuration (its own sources.list, lists and cache) that APT_CONFIG
# points every apt command of the sourcing script at. Source scripts/apt.sh first.
#
#   apt_suite SUITE   from now on apt-get and apt-cache read SUITE's lists; apt_update
#                     refreshes those, not the host's; apt_install still installs on the
#                     host from the host's apt
#
# The archive is the Debian mirror the host's apt already uses (read from `apt-cache
# policy` at run time, so nothing here names a host), signed by the host's
# debian-archive-keyring. Entry: $CACHE/apt/<suite>/ ($CACHE as the sourcing script's).
# Installing is not for this configuration: what SUITE's packages run comes from
# scripts/debian-toolchain.sh.

# The URI of the host's main Debian archive (not its security archive).
apt_mirror() {
	apt-cache policy 2>/dev/null |
		awk '/ Packages$/ { uri = $2 } /^ *release / && /o=Debian,/ && /l=Debian,/ { print uri; exit }'
}

apt_suite() { # suite
	local dir=$CACHE/apt/$1 mirror
	mirror=$(apt_mirror)
	[ -n "$mirror" ] || die "the host's apt has no Debian archive (apt-cache policy names none): add one to its sources"
	mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
	[ -f "$dir/status" ] || : >"$dir/status"
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $1 main" >"$dir/sources.list.new"
	cat >"$dir/apt.conf.new" <<EOF
Dir::Etc::SourceList "$dir/sources.list";
Dir::Etc::SourceParts "/nonexistent";
Dir::State::Lists "$dir/lists";
Dir::State::status "$dir/status";
Dir::Cache "$dir/cache";
APT::Architectures { "amd64"; };
Acquire::Languages "none";
EOF
	# The lists live in the user's cache, where apt's sandbox user cannot write.
	echo 'APT::Sandbox::User "root";' >>"$dir/apt.conf.new"
	# A changed mirror drops lists of the old one.
	cmp -s "$dir/sources.list.new" "$dir/sources.list" || rm -f "$dir"/lists/*_Packages* "$dir"/lists/*Release*
	mv "$dir/sources.list.new" "$dir/sources.list"
	mv "$dir/apt.conf.new" "$dir/apt.conf"
	export APT_CONFIG=$dir/apt.conf
	apt_update() {
		[ -n "$apt_updated" ] && return
		log "apt-get update ($APT_SUITE)"
		apt-get update -qq
		apt_updated=1
	}
	# What the host runs still comes from the host's apt.
	apt_install() {
		local p missing=()
		for p in "$@"; do installed "$p" || missing+=("$p"); done
		[ ${#missing[@]} -eq 0 ] && return
		log "apt-get update; apt-get install ${missing[*]} (the host's apt)"
		"${SUDO[@]}" env -u APT_CONFIG apt-get update -qq
		"${SUDO[@]}" env -u APT_CONFIG apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	}
	APT_SUITE=$1
}
