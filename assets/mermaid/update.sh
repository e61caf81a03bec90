#!/usr/bin/env bash
# Re-vendors (or with --check, verifies) mermaid.min.js.gz from the locked npm package.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here/package.json" "$here/package-lock.json" "$work/"
(cd "$work" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
js="$work/node_modules/mermaid/dist/mermaid.min.js"
want=$(grep -o 'unpacked script: `[0-9a-f]*`' "$here/README.md" | grep -o '[0-9a-f]\{64\}')
have=$(sha256sum "$js" | cut -d' ' -f1)
if [ "${1:-}" = --check ]; then
  gunzip -c "$here/mermaid.min.js.gz" | sha256sum | grep -q "^$want " \
    || { echo "mermaid.min.js.gz does not unpack to the sha256 in README.md" >&2; exit 1; }
  [ "$have" = "$want" ] || { echo "the locked package's script is $have, README.md says $want" >&2; exit 1; }
  echo "mermaid: vendored script matches the locked package ($want)"
  exit 0
fi
gzip -9nc "$js" > "$here/mermaid.min.js.gz"
cp "$work/node_modules/mermaid/LICENSE" "$here/LICENSE"
echo "vendored mermaid $(node -p "require('$work/node_modules/mermaid/package.json').version"): sha256 $have (update README.md if it changed)"
