#!/usr/bin/env bash
# Proves that ka_jest (.ci/lib/native.sh) can fail: a Jest run whose only test passes but leaves a
# server listening must end in under a minute, with status 124, naming the listening socket.
set -uo pipefail
cd "$(dirname "$0")/.."
source .ci/lib/native.sh
log="$(mktemp)"
start=$SECONDS
KA_JEST_EXIT_GRACE=3 ka_jest 120 "$log" . "$(command -v node)" --config .ci/jest-canary/jest.config.js --ci >/dev/null 2>&1
status=$?
took=$((SECONDS - start))
port="$(grep -ao 'canary listening on [0-9]*' "$log" | grep -o '[0-9]*$')"
[ "$status" -eq 124 ] || ka_die "ka_jest canary: status $status, wanted 124 (log: $log)"
[ "$took" -lt 60 ] || ka_die "ka_jest canary: took $took s"
grep -aq "^  tcp .*\"port\":$port} -> null" "$log" || ka_die "ka_jest canary: the listening socket on $port is not named (log: $log)"
ka_log "ka_jest canary: a run that cannot exit failed in $took s, naming the server it left listening on :$port"
