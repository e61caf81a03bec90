#!/usr/bin/env bash
# Load numbers of a generated system, for BENCHMARKS.md: starts it with `npm run dev`
# (rate limit lifted, LOG_LEVEL=warn) in a private network namespace and runs its
# tests/performance/load.js, which prints p95 and req/s and exits non-zero below the
# workflow's performanceThreshold. LOAD_DURATION / LOAD_CONNECTIONS / LOAD_PATH pass
# through. Usage: scripts/load-gateway.sh GENERATED_DIR
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VERIFY_STEPS=load exec "$here/verify-frontend.sh" "$@"
