#!/usr/bin/env bash
# Static validity of a generated system (issue 7, "Must work" 7):
#   - deployment/docker-compose.yml against the Compose specification JSON schema
#     (check-jsonschema's vendored copy: --builtin-schema vendor.compose-spec);
#   - deployment/k8s/*.yaml with kubernetes-validate (the Kubernetes OpenAPI schemas,
#     strict: unknown fields are errors); kustomization.yaml is kustomize's, not a resource;
#   - architecture/api-specs.yaml with openapi-spec-validator (OpenAPI 3.0/3.1);
#   - every Dockerfile under deployment/ with tally (hadolint's rules + BuildKit's checks),
#     failing on warnings and errors, slow (registry) checks off.
# The tools are pip packages installed into a private venv ($PRFLOW_TOOLS or
# ~/.cache/prflow-verify). Usage: scripts/verify-static.sh GENERATED_DIR
set -uo pipefail

DIR=${1:?usage: scripts/verify-static.sh GENERATED_DIR}
DIR=$(cd "$DIR" && pwd) || { echo "verify-static: $1 is not a directory" >&2; exit 2; }
TOOLS=${PRFLOW_TOOLS:-$HOME/.cache/prflow-verify}
VENV="$TOOLS/venv"

install_tools() {
  if [ -x "$VENV/bin/tally" ] && [ -x "$VENV/bin/kubernetes-validate" ] \
    && [ -x "$VENV/bin/check-jsonschema" ] && [ -x "$VENV/bin/openapi-spec-validator" ]; then
    return 0
  fi
  echo "verify-static: installing validators into $VENV"
  mkdir -p "$TOOLS"
  python3 -m venv "$VENV" || { echo "verify-static: python3 -m venv failed (apt-get install python3-venv)" >&2; exit 2; }
  "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    'check-jsonschema>=0.29' 'kubernetes-validate>=1.30' 'openapi-spec-validator>=0.7' 'tally-cli>=0.40' \
    || { echo "verify-static: pip install of the validators failed" >&2; exit 2; }
}
install_tools

passed=0
failed=0
skipped=0
check() { # NAME CMD...
  local name=$1; shift
  local out
  if out=$("$@" 2>&1); then
    echo "ok   $name"
    passed=$((passed + 1))
  else
    echo "FAIL $name"
    printf '%s\n' "$out" | sed 's/^/     /' | head -60
    failed=$((failed + 1))
  fi
}
missing() { # NAME WHY
  echo "FAIL $1: $2"
  failed=$((failed + 1))
}

cd "$DIR"

# Compose
if [ -f deployment/docker-compose.yml ]; then
  check "compose: deployment/docker-compose.yml (compose-spec schema)" \
    "$VENV/bin/check-jsonschema" --builtin-schema vendor.compose-spec deployment/docker-compose.yml
else
  missing "compose" "deployment/docker-compose.yml not found in $DIR"
fi

# Kubernetes
shopt -s nullglob
manifests=()
for f in deployment/k8s/*.yaml deployment/k8s/*.yml; do
  case "$(basename "$f")" in kustomization.yaml|kustomization.yml) continue ;; esac
  manifests+=("$f")
done
if [ ${#manifests[@]} -gt 0 ]; then
  for f in "${manifests[@]}"; do
    check "k8s: $f (kubernetes-validate --strict)" "$VENV/bin/kubernetes-validate" --strict --quiet "$f"
  done
else
  missing "k8s" "no manifests in $DIR/deployment/k8s"
fi

# OpenAPI
if [ -f architecture/api-specs.yaml ]; then
  check "openapi: architecture/api-specs.yaml" "$VENV/bin/openapi-spec-validator" architecture/api-specs.yaml
else
  echo "skip openapi: architecture/api-specs.yaml not found (phase 1 not rendered into $DIR)"
  skipped=$((skipped + 1))
fi

# Dockerfiles
dockerfiles=()
while IFS= read -r f; do dockerfiles+=("$f"); done < <(find deployment services frontend -name node_modules -prune -o \( -name Dockerfile -o -name '*.Dockerfile' \) -type f -print 2>/dev/null | sort)
if [ ${#dockerfiles[@]} -gt 0 ]; then
  for f in "${dockerfiles[@]}"; do
    check "dockerfile: $f (tally, hadolint rules)" \
      "$VENV/bin/tally" lint --no-color --slow-checks off --fail-level warning "$f"
  done
else
  missing "dockerfile" "no Dockerfile under deployment/, services/ or frontend/"
fi

echo "verify-static: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
