#!/usr/bin/env bash
# Runs the whole test suite: format and lint checks, then every test in the workspace
# (unit, integration and end-to-end tests against real GDAL, Prometheus and HTTP on loopback).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
# Release binaries are what users run; the end-to-end tests exercise exactly those.
cargo build --release --workspace --bins
cargo test --workspace --no-fail-fast
