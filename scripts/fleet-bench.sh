#!/usr/bin/env bash
# Fleet benchmark (not in CI): 1,000 agents' worth of series into Prometheus and VictoriaMetrics;
# see scripts/fleet-bench.py for what is measured. Prints Markdown tables for BENCHMARKS.md,
# "1,000 agents". Extra arguments go to fleet-bench.py (e.g. --real 50 --window-s 300).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
for tool in /usr/bin/prometheus /usr/bin/victoria-metrics /usr/bin/vmalert; do
  [ -x "$tool" ] || { echo "fleet-bench: $tool missing (scripts/bootstrap.sh installs it)" >&2; exit 2; }
done
cargo build --release -p probes --bins
exec python3 scripts/fleet-bench.py "$@"
