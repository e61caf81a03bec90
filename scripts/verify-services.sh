#!/usr/bin/env bash
# Issue 15: every backend service the template packs generate for the example workflows
# runs its own tests. For each example (default: payment-service ecommerce social iot):
#   1. render: a scratch git repository with examples/<name>-workflow.json, `prflow run`
#      and `prflow approve` until the services' phase exists (phase 2)
#   2. for each services/* of that phase rendered by the backend-service pack:
#      `npm install` (one npm cache for all), `npm test` (node:test, c8 lines >= 80%)
#   3. `npm run test:integration`: the store contract against the real database, started
#      here from Debian packages on 127.0.0.1 (PostgreSQL, MariaDB, Redis); MongoDB has
#      no Debian package: reported "not measured" (its unit tests use a driver fake).
# Prints one line per check and ends with `N passed, N failed`; exit 1 when one failed.
# usage: scripts/verify-services.sh [WORK_DIR]
# env:   PRFLOW_BIN (default: cargo build --release), VERIFY_EXAMPLES, npm_config_cache
set -uo pipefail

main() {
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=${1:-$(mktemp -d /tmp/prflow-verify-services.XXXXXX)}
mkdir -p "$WORK" && WORK=$(cd "$WORK" && pwd)
export npm_config_cache=${npm_config_cache:-$WORK/npm-cache}
PRFLOW=${PRFLOW_BIN:-}
if [ -z "$PRFLOW" ]; then
  (cd "$ROOT" && cargo build --release -q) || { echo "verify-services: cargo build failed" >&2; exit 1; }
  PRFLOW="$ROOT/target/release/prflow"
fi
# Absolute: the renders run in their own scratch repositories.
[ -x "$PRFLOW" ] || { echo "verify-services: PRFLOW_BIN=$PRFLOW is not an executable" >&2; exit 1; }
PRFLOW=$(cd "$(dirname "$PRFLOW")" && pwd)/$(basename "$PRFLOW")
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok    $*"; }
bad() { failed=$((failed + 1)); echo "FAIL  $*"; }
START=$(date +%s)

# Databases, each only when its server is installed; stopped on exit.
. "$ROOT/scripts/verify-databases.sh"
trap stop_databases EXIT
start_databases "$WORK"
PG_URL=$VERIFY_PG_URL MYSQL_URL=$VERIFY_MYSQL_URL REDIS_URL=$VERIFY_REDIS_URL

for name in ${VERIFY_EXAMPLES:-payment-service ecommerce social iot}; do
  repo="$WORK/$name/repo" tree="$WORK/$name/tree"
  mkdir -p "$repo"
  git -C "$repo" init -q -b main && git -C "$repo" config user.email verify@prflow.local && git -C "$repo" config user.name verify
  cp "$ROOT/examples/$name-workflow.json" "$repo/workflow.json"
  git -C "$repo" add -A && git -C "$repo" commit -qm workflow
  if ! (cd "$repo" && "$PRFLOW" run -q workflow.json && "$PRFLOW" approve -q --repo .) >"$WORK/$name/render.log" 2>&1; then
    bad "$name: render (see $WORK/$name/render.log)"; continue
  fi
  branch=$(git -C "$repo" for-each-ref --format='%(refname:short)' 'refs/heads/prflow/*/02-*' | head -1)
  git -C "$repo" worktree add -q "$tree" "$branch" || { bad "$name: no phase 2 branch"; continue; }
  ok "$name: rendered $branch"
  for dir in "$tree"/services/*/; do
    svc=$(basename "$dir")
    grep -q '"test:integration"' "$dir/package.json" 2>/dev/null && [ -f "$dir/src/model.js" ] || continue
    log="$WORK/$name/$svc.log"
    if (cd "$dir" && npm install --no-audit --no-fund --loglevel=error && npm test) >"$log" 2>&1; then
      ok "$name/$svc: npm test ($(grep -E '^All files' "$log" | awk -F'|' '{gsub(/ /,"",$5); print $5"% lines"}'))"
    else
      bad "$name/$svc: npm test (see $log)"
    fi
    db=$(store_of "$dir")
    case "$db" in
      postgresql) url=$PG_URL var=DATABASE_URL ;;
      mysql) url=$MYSQL_URL var=MYSQL_URL ;;
      redis) url=$REDIS_URL var=REDIS_URL ;;
      mongodb) echo "skip  $name/$svc: MongoDB store against a real server: not measured (no Debian package)"; continue ;;
      *) continue ;;
    esac
    if [ -z "$url" ]; then
      # CI installs every packaged server: there a missing one is a broken setup, not a skip.
      if [ "${CI:-}" = true ]; then bad "$name/$svc: no $db server started (CI installs it)"; else echo "skip  $name/$svc: no $db server here: not measured"; fi
      continue
    fi
    if (cd "$dir" && env "$var=$url" npm run test:integration) >"$log.integration" 2>&1; then
      ok "$name/$svc: store contract on a real $db"
    else
      bad "$name/$svc: integration on $db (see $log.integration)"
    fi
  done
done
echo "took $(( $(date +%s) - START )) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
}
main "$@"
