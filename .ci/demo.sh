#!/usr/bin/env bash
# The demo is the first thing a newcomer runs: it must finish in under 30 s, and
# on CI (namespaces + nft available) it must show every measurement, not the
# degraded view. Needs a built dist/ and lab-dist/ (npm test or npm run build first).
set -euo pipefail
cd "$(dirname "$0")/.."
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
started=$SECONDS
status=0
timeout 60 npm run --silent demo >"$out" 2>&1 || status=$?
elapsed=$(( SECONDS - started ))
cat "$out"
fail() { echo "ci/demo: $*" >&2; exit 1; }
[ "$status" -eq 0 ] || fail "npm run demo exited $status"
[ "$elapsed" -lt 30 ] || fail "npm run demo took ${elapsed} s (the promise is under 30 s)"
grep -q 'unavailable' "$out" && fail "the demo ran degraded: $(grep -m1 unavailable "$out")"
# The planned column must detect both vanishings, and the control must be the zombie.
[ "$(grep -o '✔ ETIMEDOUT' "$out" | wc -l)" -ge 3 ] || fail "expected ETIMEDOUT for Node (idle) and the plan (idle, in flight)"
grep -q '✘ lost, and no error' "$out" || fail "the no-keepalive control did not reproduce the zombie"
echo "ci/demo: ok in ${elapsed} s"
