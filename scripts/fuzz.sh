#!/usr/bin/env bash
# Run every cargo-fuzz target of the probes crate for a bounded time (not part of CI).
#   scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 60)
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). Prints each
# target's executions and whether it found a crash; crashes land in
# probes/fuzz/artifacts/TARGET/ and make the script exit 1.
set -euo pipefail
cd "$(dirname "$0")/../probes/fuzz"
secs="${1:-60}"
status=0
for target in agent_config librespeed_server_list dns_response remote_write_encoder; do
  mkdir -p "corpus/$target"
  log="$(mktemp)"
  if cargo +nightly fuzz run "$target" "corpus/$target" -- \
      -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
    result="no crash"
  else
    result="CRASH (see probes/fuzz/artifacts/$target/)"
    status=1
  fi
  execs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)"
  printf '%-24s %12s executions in %ss: %s\n' "$target" "${execs:-?}" "$secs" "$result"
  if [ "$result" != "no crash" ]; then tail -40 "$log"; fi
  rm -f "$log"
done
exit "$status"
