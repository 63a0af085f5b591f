#!/usr/bin/env bash
# Builds the Debian package of the probe agent and speed-test server with cargo-deb:
#   target/debian/probe_<version>-1_<arch>.deb
# Installs the pinned cargo-deb from crates.io first if it is missing or another version.
# Extra arguments go to `cargo deb`.
# Install the result with: sudo apt install ./target/debian/probe_*.deb
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_DEB_VERSION=3.8.0

if ! cargo deb --version 2>/dev/null | grep -qF "$CARGO_DEB_VERSION"; then
  echo "build-deb: installing cargo-deb $CARGO_DEB_VERSION" >&2
  cargo install cargo-deb --version "$CARGO_DEB_VERSION" --locked
fi

cargo build --release -p probes --bin probe
# The package ships the example agent config; refuse to package one the agent would reject.
target/release/probe validate config/probes/agent.example.toml
cargo deb -p probes --no-build "$@"
