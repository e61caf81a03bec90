#!/usr/bin/env bash
# Issue 18 in a real browser: playwright-core (tests/web, locked) drives Debian's
# chromium through the simulator's pages (`prflow demo --browse`), and the Mermaid
# script embedded in prflow is checked against its locked npm package.
#
# usage: scripts/check-web.sh      env: PRFLOW_BIN (default target/debug/prflow),
#        CHROMIUM_PATH (default /usr/bin/chromium), SCREENSHOTS=DIR (save pr.png, checks.png)
set -euo pipefail
cd "$(dirname "$0")/.."
export PRFLOW_BIN=${PRFLOW_BIN:-$PWD/target/debug/prflow}
export CHROMIUM_PATH=${CHROMIUM_PATH:-/usr/bin/chromium}
[ -x "$PRFLOW_BIN" ] || { echo "check-web: $PRFLOW_BIN is not built (cargo build first)" >&2; exit 2; }
missing=()
[ -x "$CHROMIUM_PATH" ] || missing+=(chromium)
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "check-web: installing ${missing[*]} (apt)"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } >/tmp/prflow-check-web-apt.log 2>&1 \
    || { echo "check-web: apt-get install ${missing[*]} failed, see /tmp/prflow-check-web-apt.log" >&2; exit 2; }
fi
bash assets/mermaid/update.sh --check
(cd tests/web && nice -n 10 npm ci --no-audit --no-fund --loglevel=error >/dev/null)
(cd tests/web && nice -n 10 npm test)
