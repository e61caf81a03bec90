#!/usr/bin/env bash
# Issue 2's engine numbers, on the release binary:
#   1. runner-independent overhead per task: 500 trivial template tasks in one phase;
#   2. committing is O(files changed): the same phase on a 1,000-file and a 100,000-file repo;
#   3. parallelism: 8 `command` tasks that each sleep 1 s, concurrency 8.
#
#   benches/engine-bench.sh            # builds target/release/prflow if missing
#
# Every run happens in fresh scratch repositories under $TMPDIR; nothing else is touched.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${PRFLOW_BIN:-target/release/prflow}"
[ -x "$BIN" ] || cargo build --release --quiet
BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"
T="$(mktemp -d "${TMPDIR:-/tmp}/prflow-engine-bench.XXXXXX")"
trap 'rm -rf "$T"' EXIT

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

new_repo() { # DIR FILES
  local dir="$1" files="$2"
  git init -q -b main "$dir"
  # fast-import writes N files in one pass (100,000 files in a few seconds).
  {
    echo "commit refs/heads/main"
    echo "committer Bench <b@example.com> 0 +0000"
    echo "data 4"; echo "base"
    awk -v n="$files" 'BEGIN { for (i = 0; i < n; i++) {
      printf "M 100644 inline src/d%03d/f%06d.txt\ndata %d\nfile %d\n\n", i % 1000, i, length("file " i) + 1, i } }'
  } | git -C "$dir" fast-import --quiet
  git -C "$dir" symbolic-ref HEAD refs/heads/main
}

# 1. 500 trivial template tasks (the example pack renders one small doc each).
N=500
python3 - "$T/wf500.json" "$N" <<'EOF'
import json, sys
path, n = sys.argv[1], int(sys.argv[2])
wf = {
    "name": "500 trivial tasks",
    "agents": [{"id": "writer", "type": "documenter"}],
    "tasks": [{"id": f"doc-{i}", "name": f"Doc {i}", "type": "documentation", "agentId": "writer"} for i in range(n)],
    "execution": {"parallelism": {"max": 2}},
}
json.dump(wf, open(path, "w"))
EOF
new_repo "$T/r500" 10
s=$(now); "$BIN" run "$T/wf500.json" --repo "$T/r500" --quiet >/dev/null; e=$(now)
total=$(elapsed "$s" "$e")
per=$(awk -v t="$total" -v n="$N" 'BEGIN { printf "%.2f", t * 1000 / n }')
commits=$(git -C "$T/r500" rev-list --count "$(git -C "$T/r500" for-each-ref --format='%(refname)' refs/heads/prflow)" ^main)
echo "500 trivial template tasks: ${total} s wall, ${per} ms per task (${commits} commits)"

# 2. The same 20-task phase on 1,000 and 100,000 files.
python3 - "$T/wf20.json" <<'EOF'
import json, sys
wf = {
    "name": "20 tasks",
    "agents": [{"id": "writer", "type": "documenter"}],
    "tasks": [{"id": f"doc-{i}", "name": f"Doc {i}", "type": "documentation", "agentId": "writer"} for i in range(20)],
}
json.dump(wf, open(sys.argv[1], "w"))
EOF
for files in 1000 100000; do
  new_repo "$T/big$files" "$files"
  best=""
  for i in 1 2 3; do
    git -C "$T/big$files" for-each-ref --format='%(refname)' refs/heads/prflow refs/prflow | xargs -r -n1 git -C "$T/big$files" update-ref -d
    s=$(now); "$BIN" run "$T/wf20.json" --repo "$T/big$files" --quiet >/dev/null; e=$(now)
    t=$(elapsed "$s" "$e")
    best=$(awk -v a="${best:-999}" -v b="$t" 'BEGIN { print (b < a ? b : a) }')
  done
  echo "20-task phase on $files files: best of 3 ${best} s"
  eval "phase_$files=$best"
done
awk -v a="$phase_1000" -v b="$phase_100000" 'BEGIN { printf "ratio 100,000 / 1,000 files: %.2fx (target: within 2x)\n", b / a }'

# 3. 8 parallel sleeps.
python3 - "$T/wf8.json" <<'EOF'
import json, sys
wf = {
    "name": "8 sleeps",
    "agents": [{"id": "sleeper", "type": "developer", "runner": {"command": "sleep 1; echo done > $PRFLOW_TASK_ID.txt"}}],
    "tasks": [{"id": f"s{i}", "agentId": "sleeper"} for i in range(8)],
    "execution": {"parallelism": {"max": 8}},
}
json.dump(wf, open(sys.argv[1], "w"))
EOF
new_repo "$T/r8" 10
s=$(now); "$BIN" run "$T/wf8.json" --repo "$T/r8" --quiet >/dev/null; e=$(now)
echo "8 parallel command tasks sleeping 1 s: $(elapsed "$s" "$e") s wall (target: under 1.5 s)"
