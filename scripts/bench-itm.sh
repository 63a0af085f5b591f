#!/usr/bin/env bash
# ITM / propagation benchmark for BENCHMARKS.md ("ITM / propagation"): criterion benches
# planner/benches/itm.rs (ITM evaluations per second per core, with and without profile
# extraction from the embedded DEM at 1 km and 90 m steps) and planner/benches/propagation.rs
# (the other models); wall time and peak RSS of a full `planner analyze --model itm` on the
# embedded Uzbekistan data with 1 and 2 threads; and the comparison with Debian's SPLAT!
# (planner/tests/splat_compare.rs, which prints the table). Bounded: criterion runs 1 s warm-up
# + 3 s measurement per case; about 8-12 minutes on 2 cores including builds.
# Needs scripts/bootstrap.sh first (splat, gdal-bin).
set -euo pipefail
cd "$(dirname "$0")/.."

CRITERION=(--warm-up-time 1 --measurement-time 3 --noplot)
TARGET_DIR="${CARGO_TARGET_DIR:-target}"

echo "## machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"

for bench in itm propagation; do
  echo "## cargo bench -p planner --bench $bench"
  # Criterion prints one "name / time: [...] / thrpt: [...]" block per case; keep those lines,
  # not the "change: [...%]" lines against an earlier run.
  cargo bench -p planner --bench "$bench" -- "${CRITERION[@]}" 2>/dev/null \
    | grep -E '^[a-z0-9_]+/|^ +(time|thrpt):' | grep -v '%' || true
done

cargo build --release -p planner >&2
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# timed LABEL ARGS...: runs `planner ARGS` under /usr/bin/time, prints wall time and peak RSS.
timed() {
  local label="$1"
  shift
  /usr/bin/time -v "$TARGET_DIR/release/planner" "$@" --quiet --json > /dev/null 2> "$work/time"
  local wall rss_kb
  wall="$(grep 'Elapsed (wall clock)' "$work/time" | awk '{print $NF}')"
  rss_kb="$(grep 'Maximum resident set size' "$work/time" | awk '{print $NF}')"
  echo "## $label: wall $wall, peak RSS $((rss_kb / 1024)) MiB"
}
for threads in 1 2; do
  timed "planner analyze --model itm --threads $threads (profile step: one DEM cell)" \
    analyze --model itm --threads "$threads"
done
cat > "$work/itm90.toml" <<'TOML'
[inputs]
embedded = "uzbekistan"

[model]
model = "itm"

[analysis]
profile_step_m = 90.0
TOML
timed "planner analyze, itm, profile_step_m = 90, --threads 1" \
  analyze --config "$work/itm90.toml" --threads 1

echo "## SPLAT! area coverage side by side (cargo bench -p planner --bench splat_area): one 30 m mast,"
echo "## 900 MHz, ITM, every 3\" point SPLAT! evaluates within 20 km, one core each, same terrain and parameters"
cargo bench -p planner --bench splat_area 2>/dev/null | grep -E '^\||speed vs SPLAT'

echo "## SPLAT! comparison (cargo test -p planner --test splat_compare)"
cargo test -p planner --test splat_compare -- --nocapture 2>/dev/null | grep '^|'
