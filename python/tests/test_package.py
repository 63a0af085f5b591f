"""The installed package: import, version, model names, loading the embedded dataset."""

from __future__ import annotations

import tomllib

import coverage_planner as cp


def test_version_is_the_workspace_version(root):
    cargo = tomllib.loads((root / "Cargo.toml").read_text())
    assert cp.__version__ == cargo["workspace"]["package"]["version"]


def test_model_names_include_the_documented_models():
    names = cp.model_names()
    for m in ["free_space", "hata", "cost231", "terrain"]:
        assert m in names


def test_embedded_dataset_summary_equals_the_cli(cli):
    expected = cli.json("analyze", "--dataset-only")["dataset"]
    assert cp.Planner.embedded().dataset_summary() == expected


def test_exceptions_form_one_hierarchy():
    for e in (cp.ConfigError, cp.OutputError, cp.SpeedsError):
        assert issubclass(e, cp.PlannerError)
    assert issubclass(cp.PlannerError, Exception)
