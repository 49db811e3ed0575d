#!/usr/bin/env bash
# A screenshot of an HTML coverage report's page, scrolled to a line, as headless Chromium
# (Debian's chromium package) renders it; how docs/kernel-coverage-report.png was made:
#
#   scripts/report-screenshot.sh examples/kvstore/coverage/vitest/kvstore.c.html 190 \
#       docs/kernel-coverage-report.png
#
# Chromium's --screenshot ignores a URL's #fragment, so the page is shown in an iframe,
# which honours it.
set -euo pipefail

[ $# -eq 3 ] || { echo "usage: $0 REPORT_PAGE LINE OUT.png" >&2; exit 2; }
page=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
line=$2 png=$3
[ -f "$page" ] || { echo "report-screenshot: no $1: run make demo first" >&2; exit 1; }
command -v chromium >/dev/null || { echo "report-screenshot: chromium is missing: apt-get install chromium" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
width=1100 height=900
printf '<html><body style="margin:0"><iframe src="file://%s#L%s" style="border:0;width:%spx;height:%spx"></iframe></body></html>\n' \
	"$page" "$line" "$width" "$height" >"$tmp/shot.html"
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size="$width,$height" \
	--screenshot="$tmp/shot.png" "file://$tmp/shot.html" 2>/dev/null
mv "$tmp/shot.png" "$png"
echo "report-screenshot: wrote $png"
