#!/bin/bash
# Run every cargo-fuzz target one after another (not in parallel: the CI box has 2 cores),
# then minimize each corpus in place. Usage: scripts/fuzz-all.sh [seconds-per-target]
# Needs nightly and cargo-fuzz (`cargo install cargo-fuzz`). See docs/fuzzing.md.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs=${1:-300}
for t in client_frame mexc_frame config; do
  echo "=== $t: ${secs}s"
  cargo +nightly fuzz run "$t" "corpus/$t" -- -max_total_time="$secs" -dict="$t.dict" \
    -max_len=4096 -print_final_stats=1 2>&1 | tee "/tmp/fuzz-$t.log" | grep -E "^(#[0-9]+ +DONE|stat::|==|SUMMARY|Done)" || true
  cargo +nightly fuzz cmin "$t" "corpus/$t" 2>&1 | tail -1
done
