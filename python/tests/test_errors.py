"""Errors become Python exceptions with the CLI's messages and exit codes."""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import coverage_planner as cp


def cli_error(cli, *args) -> tuple[int, str]:
    code, _, stderr = cli.run(*args)
    assert code != 0
    assert stderr.startswith("error: "), stderr
    return code, stderr[len("error: "):].rstrip("\n")


def test_invalid_config_same_message_and_code(cli, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[analysis]\nroad_step_m = -5\nbogus = 1\n[model]\nmodel = "nope"\n')
    code, msg = cli_error(cli, "analyze", "--config", str(bad))
    with pytest.raises(cp.ConfigError) as e:
        cp.Planner.from_config(bad)
    assert str(e.value) == msg
    assert e.value.exit_code == code == 2
    assert "bogus" in msg and "road_step_m" in msg


def test_missing_config_same_message(cli, tmp_path):
    missing = tmp_path / "missing.toml"
    code, msg = cli_error(cli, "analyze", "--config", str(missing))
    with pytest.raises(cp.ConfigError) as e:
        cp.Planner.from_config(missing)
    assert str(e.value) == msg


def test_unreadable_inputs_same_message(cli, tmp_path):
    cfg = tmp_path / "planner.toml"
    cfg.write_text('[inputs.sources]\nsettlements = { path = "nowhere.csv" }\n')
    code, msg = cli_error(cli, "analyze", "--config", str(cfg))
    with pytest.raises(cp.ConfigError) as e:
        cp.Planner.from_config(cfg)
    assert str(e.value) == msg
    assert "nowhere.csv" in msg


def test_unknown_model_same_message(cli, area):
    code, msg = cli_error(cli, "analyze", "--config", str(area), "--model", "bogus", "--quiet")
    with pytest.raises(cp.ConfigError) as e:
        cp.Planner.from_config(area, model="bogus")
    # The model is checked with the other inputs, before any analysis starts.
    assert msg == str(e.value)


def _problem_lines(msg: str) -> list[str]:
    return [line for line in msg.splitlines() if line.startswith("  - ")]


def test_bad_site_rows_same_problems_as_the_file(cli, area, tmp_path):
    """The same rows give the same problems, feature n (1-based) being line n + 1 of the CSV."""
    d = area.parent
    rows = (d / "sites.csv").read_text().splitlines()
    header = rows[0].split(",")
    bad = [rows[0], rows[1], rows[2], rows[3]]
    f = bad[2].split(",")
    f[header.index("eirp_dbm")] = "lots"
    f[header.index("technology")] = "6g"
    bad[2] = ",".join(f)
    f = bad[3].split(",")
    f[header.index("height_m")] = ""
    bad[3] = ",".join(f)
    sites = tmp_path / "sites.csv"
    sites.write_text("\n".join(bad) + "\n")
    cfg = tmp_path / "planner.toml"
    cfg.write_text(f'[inputs.sources]\nsites = {{ path = "{sites}" }}\n')
    _, msg = cli_error(cli, "analyze", "--config", str(cfg))
    with pytest.raises(cp.ConfigError) as e:
        cp.site_set(pd.read_csv(sites, keep_default_na=False, na_values=[""]))
    cli_lines = _problem_lines(msg)
    py_lines = _problem_lines(str(e.value))
    assert len(cli_lines) == len(py_lines) >= 3
    for c, p in zip(cli_lines, py_lines):
        mc = re.match(rf"  - {re.escape(str(sites))}: line (\d+): (.*)", c)
        mp = re.match(r"  - sites: feature (\d+): (.*)", p)
        assert mc and mp, (c, p)
        assert int(mc.group(1)) == int(mp.group(1)) + 1
        assert mc.group(2) == mp.group(2)


def test_output_error_same_message_and_code(cli, area, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code, msg = cli_error(cli, "analyze", "--config", str(area), "--out", str(blocker), "--quiet")
    a = cp.Planner.from_config(area).analyze()
    with pytest.raises(cp.OutputError) as e:
        a.write(blocker)
    assert str(e.value) == msg
    assert e.value.exit_code == code == 3


def test_targets_outside_the_dem_are_an_error_naming_the_first(area):
    pl = cp.Planner.from_config(area, model="terrain")
    pts = gpd.GeoSeries(shapely.points([69.2, 10.0], [41.3, 10.0]), crs=4326)
    with pytest.raises(cp.ConfigError) as e:
        pl.evaluate(pts)
    msg = str(e.value)
    assert "1 targets lie outside the DEM" in msg
    assert "target #1 at lon 10.00000, lat 10.00000" in msg
    assert 'analysis.outside_dem = "skip"' in msg


def test_bad_target_coordinates_are_listed():
    pl = cp.Planner.embedded()
    with pytest.raises(cp.ConfigError) as e:
        pl.evaluate((np.array([69.0, 69.0, 200.0]), np.array([41.0, 95.0, 41.0])))
    lines = _problem_lines(str(e.value))
    assert len(lines) == 2
    # Feature numbers are 1-based, as in the CLI's messages.
    assert lines[0].startswith('  - targets: feature 2: field "geometry": ')
    assert lines[1].startswith('  - targets: feature 3: field "geometry": ')


def test_non_point_targets_are_listed():
    pl = cp.Planner.embedded()
    geoms = gpd.GeoSeries([shapely.Point(69, 41), shapely.LineString([(69, 41), (69.1, 41)]), None], crs=4326)
    with pytest.raises(cp.ConfigError) as e:
        pl.evaluate(geoms)
    lines = _problem_lines(str(e.value))
    assert lines == [
        '  - targets: feature 1: field "geometry": LineString geometry where a point is expected — give point targets (e.g. gdf.representative_point() for polygons)',
        '  - targets: feature 2: field "geometry": feature has no geometry — give point targets (e.g. gdf.representative_point() for polygons)',
    ]


def test_bad_arguments_are_config_errors():
    pl = cp.Planner.embedded()
    with pytest.raises(cp.ConfigError, match="threads must be at least 1"):
        pl.evaluate((np.array([69.0]), np.array([41.0])), threads=0)
    with pytest.raises(cp.ConfigError, match="--grid-m 0"):
        pl.analyze(grid_m=0)
    with pytest.raises(cp.ConfigError, match="unknown layer|mappings for unknown layers"):
        pl.with_frames(mappings={"towers": {}})


def test_model_table_problems_are_reported():
    with pytest.raises(cp.ConfigError, match="model"):
        cp.Planner.embedded({"model": "terrain", "max_edges": 0})
    with pytest.raises(cp.ConfigError, match="unknown field"):
        cp.Planner.embedded({"model": "hata", "colour": "blue"})
