"""Evaluation API: input kinds, models, sites, pickling, and the GIL released while it runs."""

from __future__ import annotations

import pickle
import threading
import time

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import shapely

import coverage_planner as cp


@pytest.fixture(scope="module")
def planner(area):
    return cp.Planner.from_config(area)


@pytest.fixture(scope="module")
def points(planner):
    """Settlements plus a regular lattice over the area: a GeoDataFrame with own columns."""
    s = planner.settlements[["id", "population", "geometry"]]
    xs, ys = np.meshgrid(np.linspace(68.95, 69.85, 12), np.linspace(40.95, 41.55, 8))
    grid = gpd.GeoDataFrame(
        {"id": [f"g{i}" for i in range(xs.size)], "population": 0},
        geometry=gpd.points_from_xy(xs.ravel(), ys.ravel()),
        crs=4326,
    )
    return pd.concat([s, grid], ignore_index=True)


def _results(res: gpd.GeoDataFrame) -> pd.DataFrame:
    return pd.DataFrame(res.drop(columns=[c for c in ("geometry", "id", "population") if c in res.columns]))


def test_result_columns_units_and_index(planner, points):
    res = planner.evaluate(points)
    assert list(res.index) == list(points.index)
    assert list(res.columns[:2]) == ["id", "population"]
    for t in cp.TECHNOLOGIES:
        for c in (f"site_{t}", f"site_index_{t}", f"cell_{t}", f"rx_dbm_{t}", f"distance_m_{t}", f"covered_{t}"):
            assert c in res.columns
    # Received power below EIRP and distance within the configured max range.
    rx = res["rx_dbm_4g"].dropna()
    assert len(rx) > 0 and (rx < 60).all()
    assert (res["distance_m_2g"].dropna() <= 30_000.0).all()
    # Site ids match the indices.
    ids = np.asarray(planner.site_set().ids(), dtype=object)
    has = res["site_index_2g"].notna()
    assert (ids[res.loc[has, "site_index_2g"].astype(int)] == res.loc[has, "site_2g"]).all()
    covered = res["covered_4g"] == (res["rx_dbm_4g"] >= planner.coverage().thresholds_dbm()[2])
    assert covered.all()
    assert res.crs.to_epsg() == 4326
    assert res.attrs["coverage_stats"]["targets"] == len(points)


def test_every_input_kind_gives_the_same_result(planner, points):
    base = _results(planner.evaluate(points))
    geoms = points.geometry.values
    lon, lat = shapely.get_x(geoms), shapely.get_y(geoms)
    wkb = shapely.to_wkb(geoms)
    inputs = {
        "geoseries": points.geometry,
        "shapely array": np.asarray(geoms),
        "wkb list": list(wkb),
        "wkb numpy": wkb,
        "arrow wkb": pa.array(list(wkb), type=pa.binary()),
        "arrow chunked wkb": pa.chunked_array([pa.array(list(wkb[:10]), type=pa.binary()), pa.array(list(wkb[10:]), type=pa.binary())]),
        "geoarrow table": points.to_arrow(),
        "lon/lat arrays": (lon, lat),
        "lon/lat frame": pd.DataFrame({"lon": lon, "lat": lat}),
    }
    for name, obj in inputs.items():
        got = _results(planner.evaluate(obj)).reset_index(drop=True)
        if name == "lon/lat frame":
            # A frame's own columns come first in the result.
            assert list(got.columns[:2]) == ["lon", "lat"]
            got = got.drop(columns=["lon", "lat"])
        pd.testing.assert_frame_equal(got, base.reset_index(drop=True), check_exact=True, obj=name)


def test_other_crs_is_reprojected(planner, points):
    """Targets in another CRS are evaluated at their WGS84 position: exactly as the same
    points given in WGS84 after the reprojection (bit for bit), and with the geometry of the
    result in WGS84."""
    utm = points.to_crs(32642)
    res = planner.evaluate(utm)
    assert res.crs.to_epsg() == 4326
    back = utm.geometry.to_crs(4326)
    # The reprojection round trip moves the points by nanodegrees at most ...
    assert np.abs(back.x.to_numpy() - points.geometry.x.to_numpy()).max() < 1e-9
    assert np.abs(back.y.to_numpy() - points.geometry.y.to_numpy()).max() < 1e-9
    np.testing.assert_array_equal(res.geometry.x.to_numpy(), back.x.to_numpy())
    np.testing.assert_array_equal(res.geometry.y.to_numpy(), back.y.to_numpy())
    # ... and the result is that of the reprojected positions, bit for bit.
    direct = planner.evaluate((back.x.to_numpy(), back.y.to_numpy()))
    pd.testing.assert_frame_equal(
        _results(res).reset_index(drop=True), _results(direct).reset_index(drop=True), check_exact=True
    )
    # With a model smooth in position (Hata: no terrain profile), nanodegrees change nothing
    # that matters: the same servers, powers within 1e-6 dB. (The terrain models need not
    # agree: a profile's horizon can switch between two near-equal obstacles under a 1e-15°
    # shift — ITM does, on one lattice point here — so they are compared exactly above.)
    hata = planner.with_model("hata_open")
    a, b = hata.evaluate(points), hata.evaluate(utm)
    for t in cp.TECHNOLOGIES:
        assert (b[f"site_index_{t}"].fillna(-1) == a[f"site_index_{t}"].fillna(-1)).all(), t
        np.testing.assert_allclose(b[f"rx_dbm_{t}"], a[f"rx_dbm_{t}"], atol=1e-6)


def test_caller_sites_from_frames_equal_the_dataset_sites(planner, points):
    base = planner.evaluate(points)
    frame = planner.sites  # one row per cell, as the planner's sites file
    assert {"site_id", "height_m", "technology", "band_mhz", "eirp_dbm"} <= set(frame.columns)
    res = planner.evaluate(points, sites=frame.drop(columns=["site_index", "cell"]))
    pd.testing.assert_frame_equal(_results(res), _results(base), check_exact=True)
    # The first half of the sites: servers can only come from them.
    half = cp.site_set(frame[frame["site_index"] < len(planner.site_set()) // 2])
    res = planner.evaluate(points, sites=half)
    assert (res["site_index_2g"].dropna() < len(half)).all()


def test_any_propagation_model(planner, points):
    names = ["free_space", "hata", "hata_open", "hata_suburban", "cost231", "cost231_metropolitan", "terrain", "itm"]
    rx = {}
    for m in names:
        pl = planner.with_model(m)
        assert pl.model == m or pl.model.startswith(m)
        rx[m] = pl.evaluate(points)["rx_dbm_2g"].to_numpy()
    # Free space is the most optimistic everywhere a server is found by both.
    both = ~np.isnan(rx["free_space"]) & ~np.isnan(rx["hata_open"])
    assert (rx["free_space"][both] >= rx["hata_open"][both]).all()
    assert not np.allclose(np.nan_to_num(rx["terrain"]), np.nan_to_num(rx["free_space"]))
    # A whole [model] table.
    itm90 = planner.with_model({"model": "itm", "itm": {"reliability_pct": 90.0}}).evaluate(points)["rx_dbm_2g"]
    assert not np.array_equal(np.nan_to_num(itm90.to_numpy()), np.nan_to_num(rx["itm"]))


def test_pickled_coverage_and_sites_evaluate_identically(planner, points):
    cov, ss = planner.coverage(), planner.site_set()
    cov2, ss2 = pickle.loads(pickle.dumps(cov)), pickle.loads(pickle.dumps(ss))
    assert cov2.settings_json() == cov.settings_json()
    assert ss2.ids() == ss.ids() and len(ss2) == len(ss)
    a = cp.evaluate(cov, points, ss)
    b = cp.evaluate(cov2, points, ss2)
    pd.testing.assert_frame_equal(_results(a), _results(b), check_exact=True)
    t = planner.with_model("terrain").coverage()
    assert pickle.loads(pickle.dumps(t)).has_dem()


def test_thread_count_does_not_change_results(planner, points):
    a = planner.evaluate(points, threads=1)
    b = planner.evaluate(points, threads=2)
    pd.testing.assert_frame_equal(_results(a), _results(b), check_exact=True)


def _python_steps_during(run, grow, min_s: float = 0.5) -> tuple[float, float, list[float]]:
    """Calls ``run()`` while a pure-Python thread ticks every ~2 ms; ``grow()`` doubles the
    work until one call lasts ``min_s`` (a loaded machine is slower, a fast one needs more).
    Returns the call's start and end and the ticks. With the GIL held for the call, the ticker
    could not take a single step until it returned."""
    ticks: list[float] = []
    stop = threading.Event()

    def ticker() -> None:
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.002)

    th = threading.Thread(target=ticker)
    th.start()
    try:
        for _ in range(8):
            t0 = time.perf_counter()
            run()
            t1 = time.perf_counter()
            if t1 - t0 >= min_s:
                break
            grow()
    finally:
        stop.set()
        th.join()
    assert t1 - t0 >= min_s
    return t0, t1, ticks


def _assert_progressed_throughout(t0: float, t1: float, ticks: list[float]) -> None:
    """Python ran all through the call, not only around its edges: ticks inside it, and no
    gap between consecutive steps longer than half of it (generous for a loaded machine)."""
    inside = [t for t in ticks if t0 < t < t1]
    assert len(inside) >= 10, f"{len(inside)} Python steps during a {t1 - t0:.2f} s call"
    margin = 0.1 * (t1 - t0)
    assert any(t0 + margin < t < t1 - margin for t in inside)
    edges = [t0, *inside, t1]
    gap = max(b - a for a, b in zip(edges, edges[1:]))
    assert gap < 0.5 * (t1 - t0), f"Python stalled {gap:.2f} s of a {t1 - t0:.2f} s call"


def test_the_gil_is_released_during_evaluation():
    """A Python thread keeps running while the engine evaluates (one engine thread, so the
    second core is free for it)."""
    pl = cp.Planner.embedded()
    rng = np.random.default_rng(7)
    pts = [rng.uniform(56.0, 73.0, 3000), rng.uniform(37.2, 45.6, 3000)]
    cov, ss = pl.coverage(), pl.site_set()

    def grow() -> None:
        pts[0], pts[1] = np.tile(pts[0], 2), np.tile(pts[1], 2)

    _assert_progressed_throughout(*_python_steps_during(lambda: cp.evaluate(cov, (pts[0], pts[1]), ss, threads=1), grow))


def test_the_gil_is_released_during_analysis():
    """The same for `analyze` (coverage of settlements and roads, then the gap analysis)."""
    n = [4000]
    pl = [cp.Planner.synthetic(seed=2, settlements=n[0], sites=n[0] // 10, road_km=n[0] / 4, dem=False)]

    def grow() -> None:
        n[0] *= 2
        pl[0] = cp.Planner.synthetic(seed=2, settlements=n[0], sites=n[0] // 10, road_km=n[0] / 4, dem=False)

    _assert_progressed_throughout(*_python_steps_during(lambda: pl[0].analyze(threads=1), grow))


def test_analysis_tables(planner):
    a = planner.analyze()
    s = a.settlements
    assert len(s) == len(planner.settlements)
    assert "region" in s.columns and (s["region"] != "").any()
    br = a.by_region
    assert {"region", "service", "settlements_total", "road_km_uncovered"} <= set(br.columns)
    assert set(a.by_route["service"]) <= {"2g", "3g", "4g", "5g", "mobile_internet"}
    st = a.stretches
    assert st.geom_type.eq("LineString").all()
    # Covered + uncovered stretches of one service add up to the road length.
    mi = st[st["service"] == "mobile_internet"]
    km = a.summary["coverage"]["mobile_internet"]["road_km"]
    assert abs(mi["length_m"].sum() / 1000.0 - km) < 0.01


def test_dataset_layers_as_frames(planner):
    assert planner.roads.geom_type.eq("LineString").all()
    assert planner.regions.geom_type.eq("MultiPolygon").all()
    assert len(planner.settlements) == planner.dataset_summary()["settlements"]
    assert planner.fixed_nodes.empty
    emb = cp.Planner.embedded()
    assert len(emb.fixed_nodes) == emb.dataset_summary()["fixed_nodes"]


def test_synthetic_country_is_seeded():
    a = cp.Planner.synthetic(seed=3, settlements=200, sites=20, road_km=50, dem=False)
    b = cp.Planner.synthetic(seed=3, settlements=200, sites=20, road_km=50, dem=False)
    c = cp.Planner.synthetic(seed=4, settlements=200, sites=20, road_km=50, dem=False)
    assert a.settlements.equals(b.settlements)
    assert not a.settlements.equals(c.settlements)
    assert a.dataset_summary()["sites"] == 20
