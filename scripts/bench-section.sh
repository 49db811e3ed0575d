#!/usr/bin/env bash
# Puts one generated section into a Markdown file of benchmarks, keeping the others:
#
#   scripts/bench-section.sh OWNER FILE.md < SECTION
#
# The section sits between <!-- BEGIN OWNER: generated, do not edit by hand --> and
# <!-- END OWNER -->; it replaces the section of that owner, or is appended. The file
# is replaced atomically.
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 OWNER FILE.md < SECTION" >&2; exit 2; }
owner=$1 out_md=$2
begin="<!-- BEGIN $owner: generated, do not edit by hand -->"
end="<!-- END $owner -->"
body=$(mktemp)
trap 'rm -f "$body"' EXIT
{ echo "$begin"; cat; echo "$end"; } >"$body"

if [ -f "$out_md" ] && grep -qxF "$begin" "$out_md" && grep -qxF "$end" "$out_md"; then
	awk -v begin="$begin" -v end="$end" -v body="$body" '
		$0 == begin { while ((getline line < body) > 0) print line; skip = 1; next }
		$0 == end { skip = 0; next }
		!skip' "$out_md" >"$out_md.tmp"
elif [ -f "$out_md" ]; then
	{ cat "$out_md"; echo; cat "$body"; } >"$out_md.tmp"
else
	{ echo "# Benchmarks"; echo; cat "$body"; } >"$out_md.tmp"
fi
mv "$out_md.tmp" "$out_md"
