#!/usr/bin/env bash
# Run the cargo-fuzz targets of the probes crate for a bounded time each (not part of CI).
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]   (default 60 s, every target)
# Targets: agent_config librespeed_server_list dns_response remote_write_encoder.
# Needs the nightly toolchain and cargo-fuzz; says how to install them when they are missing.
# One target at a time, one libFuzzer worker. The corpus grows in probes/fuzz/corpus/TARGET/
# (git-ignored), seeded from probes/fuzz/seeds/TARGET/ (committed); a target with a dictionary
# probes/fuzz/dicts/TARGET.dict gets it. Prints each target's seconds run (less than asked
# when it stops at a crash), executions, exec/s and whether it found a crash; crashes land in probes/fuzz/artifacts/TARGET/ and make the script exit 1.
# Reproduce one: cargo +nightly fuzz run TARGET probes/fuzz/artifacts/TARGET/crash-…
# Minimise it:   cargo +nightly fuzz tmin TARGET probes/fuzz/artifacts/TARGET/crash-…
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
all_targets=(agent_config librespeed_server_list dns_response remote_write_encoder)

secs="${1:-60}"
case "$secs" in
  '' | *[!0-9]*) echo "usage: $0 [SECONDS_PER_TARGET] [TARGET...]" >&2; exit 2 ;;
esac
shift || true
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then targets=("${all_targets[@]}"); fi
for t in "${targets[@]}"; do
  if [ ! -f "$here/probes/fuzz/fuzz_targets/$t.rs" ]; then
    echo "fuzz.sh: no target \"$t\"; the targets are: ${all_targets[*]}" >&2
    exit 2
  fi
done

# What is needed, checked up front with the fix for each.
missing=0
if ! command -v rustup >/dev/null 2>&1; then
  echo "fuzz.sh: rustup is missing: cargo-fuzz runs on the nightly toolchain, selected with" >&2
  echo "  \`cargo +nightly\`; install rustup (https://rustup.rs), then: rustup toolchain install nightly" >&2
  exit 2
fi
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "fuzz.sh: the nightly toolchain is missing (libFuzzer needs -Zsanitizer): install it with" >&2
  echo "  rustup toolchain install nightly --profile minimal" >&2
  missing=1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz.sh: cargo-fuzz is missing: install it (builds with the default toolchain) with" >&2
  echo "  cargo install cargo-fuzz --locked" >&2
  missing=1
fi
if [ "$missing" -ne 0 ]; then exit 2; fi

cd "$here/probes/fuzz"
printf '%-24s %8s %12s %10s  %s\n' target seconds executions exec/s result
status=0
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target"
  dirs=("corpus/$target")
  if [ -d "seeds/$target" ]; then dirs+=("seeds/$target"); fi
  dict=()
  if [ -f "dicts/$target.dict" ]; then dict=("-dict=dicts/$target.dict"); fi
  log="$(mktemp)"
  # Build first, so a compile error is reported as one and the fuzzing time is all fuzzing.
  if ! cargo +nightly fuzz build "$target" >"$log" 2>&1; then
    printf '%-24s build failed:\n' "$target"
    tail -40 "$log"
    rm -f "$log"
    status=1
    continue
  fi
  # libFuzzer's seed directories are read-only inputs; new units go to the first one.
  start=$SECONDS
  if cargo +nightly fuzz run "$target" "${dirs[@]}" -- \
      -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
      "${dict[@]}" >"$log" 2>&1; then
    result="no crash"
  else
    result="CRASH (see probes/fuzz/artifacts/$target/)"
    status=1
  fi
  took=$((SECONDS - start))
  execs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)"
  rate="$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)"
  printf '%-24s %8s %12s %10s  %s\n' "$target" "$took" "${execs:-?}" "${rate:-?}" "$result"
  if [ "$result" != "no crash" ]; then tail -40 "$log"; fi
  rm -f "$log"
done
exit "$status"
