#!/usr/bin/env bash
# Packs every published package into DIR, as `pnpm publish` would (prepack builds dist/,
# the native binaries and the module's sources; workspace:* becomes the version):
#
#   scripts/pack.sh DIR
#
# Prints the tarballs' paths, one a line. Needs build/setup.env (make setup).
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mkdir -p "$1"
dest=$(cd "$1" && pwd)
# shellcheck source=/dev/null
. "$ROOT/build/setup.env"
export PATH="$(dirname "$NODE_BIN"):$PATH"
# The list is scripts/version.ts's: the packages that are published.
mapfile -t dirs < <(cd "$ROOT" && node -e 'import("./scripts/version.ts").then(m => { for (const p of m.PACKAGES) console.log(p.dir) })')
for d in "${dirs[@]}"; do
	(cd "$ROOT/$d" && "$PNPM" pack --pack-destination "$dest" --json >/dev/null)
done
ls "$dest"/*.tgz
