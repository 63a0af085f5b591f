"""Identical results to the `planner` CLI on the same inputs.

The CLI reads the area's files through its config; the package reads the same files with
pandas/GeoPandas and hands them over as frames, or loads the same config. Every comparison is
exact (floats compared bit for bit, or after the CLI's own 2-decimal rounding where the CLI only
prints rounded values).
"""

from __future__ import annotations

import filecmp
import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

import coverage_planner as cp

MODELS = ["free_space", "hata_open", "hata_urban_small", "cost231", "terrain", "itm"]


def rust_round(v: np.ndarray, digits: int) -> np.ndarray:
    """The planner's `round(v, digits)`: scale, round half away from zero, unscale."""
    f = 10.0**digits
    x = np.asarray(v, dtype=float) * f
    return np.where(x >= 0, np.floor(x + 0.5), -np.floor(-x + 0.5)) / f


def read_area(area):
    d = area.parent
    settlements = pd.read_csv(d / "settlements.csv", keep_default_na=False, na_values=[""])
    sites = pd.read_csv(d / "sites.csv", keep_default_na=False, na_values=[""])
    roads = gpd.read_file(d / "roads.geojson")
    return settlements, sites, roads


def cli_analysis(cli, area, tmp_path, *extra):
    out = tmp_path / "cli"
    code, stdout, stderr = cli.run("analyze", "--config", str(area), "--out", str(out), "--json", "--quiet", *extra)
    assert code == 0, stderr
    return json.loads(stdout), out


@pytest.mark.parametrize("model", MODELS)
def test_evaluate_frames_equals_cli_settlements_csv(cli, area, tmp_path, model):
    report, out = cli_analysis(cli, area, tmp_path, "--model", model)
    settlements, sites, _ = read_area(area)
    pl = cp.Planner.from_config(area, model=model)
    res = cp.evaluate(pl.coverage(), settlements, sites)
    csv = pd.read_csv(out / "settlements.csv", keep_default_na=False, na_values=[""])
    assert len(res) == len(csv) > 20
    assert (res["id"].to_numpy() == csv["id"].to_numpy()).all()
    for t in cp.TECHNOLOGIES:
        np.testing.assert_array_equal(rust_round(res[f"rx_dbm_{t}"], 2), csv[f"rx_dbm_{t}"].to_numpy(dtype=float))
        np.testing.assert_array_equal(res[f"covered_{t}"].to_numpy(), csv[f"covered_{t}"].to_numpy())
        want = csv[f"best_site_{t}"].astype(object).where(csv[f"best_site_{t}"].notna(), None).to_numpy()
        got = res[f"site_{t}"].astype(object).where(res[f"site_{t}"].notna(), None).to_numpy()
        assert (got == want).all(), t
    np.testing.assert_array_equal(res["mobile_internet"].to_numpy(), csv["mobile_internet"].to_numpy())
    assert report["analysis"]["model"] == res.attrs["model"]


def test_analysis_report_and_files_equal_the_cli(cli, area, tmp_path):
    report, out = cli_analysis(cli, area, tmp_path)
    a = cp.Planner.from_config(area).analyze()
    assert a.summary == report
    mine = tmp_path / "py"
    written = a.write(mine)
    names = sorted(p.name for p in written)
    assert names == sorted(p.name for p in out.iterdir())
    match, mismatch, errors = filecmp.cmpfiles(out, mine, names, shallow=False)
    assert mismatch == [] and errors == [] and sorted(match) == names


def test_analysis_text_equals_the_cli(cli, area):
    code, stdout, stderr = cli.run("analyze", "--config", str(area), "--quiet")
    assert code == 0, stderr
    assert cp.Planner.from_config(area).analyze().text == stdout


def test_evaluate_equals_the_analysis_targets_bit_for_bit(area):
    pl = cp.Planner.from_config(area, model="hata_open")
    a = pl.analyze()
    t = a.targets
    assert set(t["kind"]) == {"settlement", "road"}
    res = pl.evaluate(t[["geometry"]])
    cols = [c for c in res.columns if c != "geometry"]
    pd.testing.assert_frame_equal(res[cols], t[cols], check_exact=True)


def test_gap_analysis_of_frames_equals_the_cli(cli, area, uz, tmp_path):
    report, _ = cli_analysis(cli, area, tmp_path)
    settlements, sites, roads = read_area(area)
    pl = cp.Planner.from_frames(
        settlements=settlements,
        sites=sites,
        roads=roads,
        regions=gpd.read_file(uz / "regions.geojson"),
        dem=uz / "dem.tif",
        routes=uz / "routes.csv",
        name="Tashkent test area",
        config=cp.Planner.from_config(area),
    )
    a = pl.analyze()
    assert a.summary["coverage"] == report["coverage"]
    assert a.summary["analysis"] == report["analysis"]
    assert a.summary["dataset"]["settlements"] == report["dataset"]["settlements"]


def test_dataset_summary_of_the_config_equals_the_cli(cli, area):
    code, stdout, stderr = cli.run("analyze", "--config", str(area), "--dataset-only", "--json")
    assert code == 0, stderr
    assert cp.Planner.from_config(area).dataset_summary() == json.loads(stdout)["dataset"]


def test_link_report_equals_the_cli(cli):
    args = ["--from", "41.26,69.21", "--to", "41.40,69.60", "--freq-mhz", "900"]
    code, stdout, stderr = cli.run("link", *args, "--json")
    assert code == 0, stderr
    report = cp.Planner.embedded().link(900, (41.26, 69.21), (41.40, 69.60))
    assert report == json.loads(stdout)
    assert {m["model"] for m in report["models"]} >= {"free_space", "terrain"}
