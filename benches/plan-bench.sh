#!/usr/bin/env bash
# Times `prflow plan` on a generated 1,000-task workflow (target: under 50 ms).
#
#   benches/plan-bench.sh [TASKS]        # default 1000
#
# The workflow has 10 agents, 1-3 dependencies per task (chains, skips and fan-in),
# mixed priorities, a `${task.output.key}` reference every 50 tasks, and a checkpoint
# every 100 tasks, so parsing, validation (cycles, references, checkpoint order) and
# phase planning all do real work. Uses hyperfine when installed
# (`apt-get install hyperfine`), else a timed loop of 20 runs.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-1000}"
OUT="${TMPDIR:-/tmp}/prflow-plan-bench-$N.json"

awk -v n="$N" 'BEGIN {
  printf "{\n  \"name\": \"generated %d-task workflow\",\n  \"agents\": [\n", n
  for (a = 0; a < 10; a++) printf "    {\"id\": \"agent-%d\", \"type\": \"developer\", \"capabilities\": [\"backend\"]}%s\n", a, (a < 9 ? "," : "")
  printf "  ],\n  \"tasks\": [\n"
  for (i = 0; i < n; i++) {
    deps = ""
    if (i > 0) deps = "\"task-" (i - 1) "\""
    if (i >= 7 && i % 3 == 0) deps = deps ", \"task-" (i - 7) "\""
    if (i >= 2 && i % 5 == 0) deps = deps ", \"task-" int(i / 2) "\""
    input = "{\"framework\": \"express\", \"n\": " i "}"
    if (i >= 50 && i % 50 == 0) input = "{\"previous\": \"${task-" (i - 1) ".output.files}\"}"
    printf "    {\"id\": \"task-%d\", \"name\": \"Task %d\", \"agentId\": \"agent-%d\", \"priority\": %d, \"dependencies\": [%s], \"input\": %s, \"output\": {\"files\": \"array\"}}%s\n", \
      i, i, i % 10, (i * 37) % 100, deps, input, (i < n - 1 ? "," : "")
  }
  printf "  ],\n  \"execution\": {\"mode\": \"smart\", \"parallelism\": {\"max\": 8}, \"checkpoints\": ["
  first = 1
  for (i = 99; i < n; i += 100) { printf "%s\"task-%d\"", (first ? "" : ", "), i; first = 0 }
  printf "]}\n}\n"
}' > "$OUT"
echo "generated $OUT ($(wc -c < "$OUT") bytes, $N tasks)"

if [ ! -x target/release/prflow ] || [ -n "${REBUILD:-}" ]; then
  cargo build --release --bin prflow
fi
BIN=target/release/prflow
"$BIN" plan "$OUT" --format json > /dev/null   # must succeed before timing

if command -v hyperfine > /dev/null; then
  hyperfine --warmup 3 --runs 30 -N "$BIN plan $OUT --format json"
else
  runs=20
  start=$(date +%s%N)
  for _ in $(seq "$runs"); do "$BIN" plan "$OUT" --format json > /dev/null; done
  end=$(date +%s%N)
  echo "prflow plan ($N tasks): mean $(( (end - start) / runs / 1000 )) µs over $runs runs"
fi
