#!/usr/bin/env bash
# Installs the Debian packages the build and the test suite need. Idempotent: packages already
# present are skipped, so a second run costs a dpkg query. apt on this image can fail once
# (downloaded archives are cleaned after each dpkg run), hence the retries.
set -euo pipefail

PACKAGES=(
  # build: gdal crate links Debian's GDAL 3.6 through pkg-config
  libgdal-dev gdal-bin pkgconf build-essential
  # tests: real Prometheus + promtool, iperf3 and tc/netns for the shaped-link accuracy test,
  # headless Chromium for the HTML report test, GeoPandas for the benchmark comparison
  prometheus iperf3 iproute2 chromium python3-geopandas
  # GeoPandas 0.12 needs rtree (libspatialindex) for sjoin's spatial index (bench comparison)
  python3-rtree
  # SPLAT! 1.4 (Longley-Rice ITM / ITWOM): the peer the ITM comparison test (planner/tests/
  # splat_compare.rs) and BENCHMARKS.md run on the same path
  splat
  # misc tools used by tests and scripts: openssl makes the test CA for the TLS tests,
  # systemd-analyze verifies the units in config/systemd
  curl ca-certificates sqlite3 openssl systemd
  # monitoring at fleet scale (issue 15): VictoriaMetrics as a second remote-write store,
  # Alertmanager (+ amtool) for alert delivery
  victoria-metrics prometheus-alertmanager
)
# Node and npm for the dashboard schema check (scripts/fleet-dashboard-schema.mjs). An image
# that ships its own Node (with npm) keeps it: Debian's npm package would conflict with it.
if ! command -v npm >/dev/null 2>&1; then
  PACKAGES+=(nodejs npm)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

echo "bootstrap: installing ${missing[*]}" >&2
for attempt in 1 2 3 4 5; do
  if $SUDO apt-get update -q >/dev/null \
     && $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; then
    echo "bootstrap: done" >&2
    exit 0
  fi
  echo "bootstrap: apt attempt $attempt failed, retrying in $((attempt * 5)) s" >&2
  sleep $((attempt * 5))
done
echo "bootstrap: could not install ${missing[*]} after 5 attempts" >&2
exit 1
