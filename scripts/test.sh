#!/usr/bin/env bash
# Runs the whole test suite: format and lint checks, then every test in the workspace
# (unit, integration and end-to-end tests against real GDAL, Prometheus and HTTP on loopback).
set -euo pipefail
cd "$(dirname "$0")/.."
# The package test builds the .deb with the pinned cargo-deb (scripts/build-deb.sh pins it).
CARGO_DEB_VERSION=$(sed -n 's/^CARGO_DEB_VERSION=//p' scripts/build-deb.sh)
if ! cargo deb --version 2>/dev/null | grep -qF "$CARGO_DEB_VERSION"; then
  cargo install cargo-deb --version "$CARGO_DEB_VERSION" --locked
fi
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
# Release binaries are what users run; the end-to-end tests exercise exactly those.
cargo build --release --workspace --bins
cargo test --workspace --no-fail-fast
# Python package: `pip install ./python` into the pinned venv, then its tests (python/tests), which
# compare with the release `planner` binary built above. Any non-zero pytest exit fails the suite,
# including 5 (no tests collected).
bash scripts/python-env.sh
target/python-venv/bin/python -m pytest -q python/tests
