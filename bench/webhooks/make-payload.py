#!/usr/bin/env python3
"""Build the benchmark payload: GitHub's own `pull_request_review` `submitted`
example (octokit/webhooks, MIT) turned into an approval, with a realistic
review body, ~30 KB. Writes payload.json next to this script."""
import json, os, sys

here = os.path.dirname(os.path.abspath(__file__))
src = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/github/webhooks/pull_request_review/submitted.payload.json"
d = json.load(open(src))
d["review"]["state"] = "approved"
d["review"]["body"] = (
    "Checked the phase: the services build, the contract tests pass and the gateway routes match the "
    "architecture document. Two follow-ups for the next phase: the product service should page its list "
    "endpoint, and the auth service's token lifetime belongs in configuration. Approving this checkpoint."
)
out = json.dumps(d, indent=2).encode()
open(os.path.join(here, "payload.json"), "wb").write(out)
print(f"payload.json: {len(out)} bytes")
