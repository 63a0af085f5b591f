"""Tiled evaluation over Dask equals the single-process evaluation exactly, on a local cluster
of 2 worker processes."""

from __future__ import annotations

import dask_geopandas
import numpy as np
import pandas as pd
import pytest

import coverage_planner as cp
import coverage_planner.distributed as cpd

distributed = pytest.importorskip("dask.distributed")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, memory_limit="2GiB"
    )
    c = distributed.Client(cluster)
    try:
        yield c
    finally:
        c.close()
        cluster.close()


@pytest.fixture(scope="module")
def country():
    """A small seeded country 3° × 2°, dense enough that every tile's halo matters."""
    return cp.Planner.synthetic(seed=11, settlements=4000, sites=400, road_km=0.0, dem=True, bbox=(64.0, 40.0, 67.0, 42.0))


def _targets(country, n_extra=2000):
    s = country.settlements[["id", "geometry"]]
    rng = np.random.default_rng(5)
    lon, lat = rng.uniform(64.0, 67.0, n_extra), rng.uniform(40.0, 42.0, n_extra)
    import geopandas as gpd

    extra = gpd.GeoDataFrame({"id": [f"p{i}" for i in range(n_extra)]}, geometry=gpd.points_from_xy(lon, lat), crs=4326)
    return pd.concat([s, extra], ignore_index=True)


def _assert_same(a, b):
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert a.attrs["coverage_stats"] == b.attrs["coverage_stats"]


def test_tiled_over_two_workers_equals_single_process(client, country):
    targets = _targets(country)
    cov, sites = country.coverage(), country.site_set()
    single = cp.evaluate(cov, targets, sites)
    # Not a trivial result: servers everywhere, yet some targets below the 4G threshold.
    assert single["site_index_4g"].notna().all() and 0.9 < single["covered_4g"].mean() < 1.0
    assert len(client.scheduler_info()["workers"]) == 2
    with distributed.get_task_stream(client) as ts:
        tiled = cpd.evaluate(cov, targets, sites, client=client, tile_deg=0.5)
    assert tiled.attrs["tiles"] >= 20
    assert tiled.attrs["halo_m"] == cov.max_range_m(sites) > 0
    # Both workers evaluated tiles.
    workers = {t["worker"] for t in ts.data if "_evaluate_part" in str(t["key"])}
    assert len(workers) == 2, ts.data
    tiled.attrs = {k: v for k, v in tiled.attrs.items() if k in single.attrs}
    _assert_same(tiled, single)


def test_result_does_not_depend_on_tile_size(client, country):
    targets = _targets(country, 500)
    cov, sites = country.coverage(), country.site_set()
    a = cpd.evaluate(cov, targets, sites, client=client, tile_deg=0.25)
    b = cpd.evaluate(cov, targets, sites, client=client, tile_deg=2.0)
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_a_short_halo_would_change_results(country):
    """The halo is what makes tiles exact: sites of a tile's own box only miss servers."""
    targets = _targets(country, 0)
    cov, sites = country.coverage(), country.site_set()
    site_lon = np.frombuffer(sites.lonlat()[0], dtype="<f8")
    site_lat = np.frombuffer(sites.lonlat()[1], dtype="<f8")
    single = cp.evaluate(cov, targets, sites)
    keys = cpd.tile_of(single.geometry.x.to_numpy(), single.geometry.y.to_numpy(), 0.5)
    key = pd.Series(keys).value_counts().index[0]
    in_tile = keys == key
    own = cpd.halo_sites(site_lon, site_lat, cpd.tile_bounds(key, 0.5), 0.0)
    full = cpd.halo_sites(site_lon, site_lat, cpd.tile_bounds(key, 0.5), cov.max_range_m(sites))
    assert len(own) < len(full)
    short = cp.evaluate(cov, targets[in_tile], sites.subset(cpd._frames.u32_bytes(own)))
    exact = cp.evaluate(cov, targets[in_tile], sites.subset(cpd._frames.u32_bytes(full)))
    assert (exact["rx_dbm_2g"].to_numpy() == single.loc[in_tile, "rx_dbm_2g"].to_numpy()).all()
    assert not np.array_equal(np.nan_to_num(short["rx_dbm_2g"].to_numpy()), np.nan_to_num(exact["rx_dbm_2g"].to_numpy()))


def test_halo_box_contains_every_site_in_range():
    """The conservative lon/lat box never misses a point within the halo distance, also near
    the poles and across the antimeridian (checked against geodesic distances)."""
    from pyproj import Geod

    geod = Geod(ellps="WGS84")
    rng = np.random.default_rng(1)
    lon = rng.uniform(-180, 180, 20000)
    lat = np.degrees(np.arcsin(rng.uniform(-1, 1, 20000)))
    for bounds in [(179.0, 60.0, 180.0, 61.0), (-180.0, -10.0, -179.0, -9.0), (10.0, 85.0, 11.0, 86.0), (69.0, 41.0, 70.0, 42.0)]:
        w, s, e, n = bounds
        halo = 150_000.0
        sel = set(cpd.halo_sites(lon, lat, bounds, halo).tolist())
        # Distance from each point to the nearest of a dense sample of the tile's points.
        gx, gy = np.meshgrid(np.linspace(w, e, 21), np.linspace(s, n, 21))
        gx, gy = gx.ravel(), gy.ravel()
        near = np.flatnonzero((np.abs(lat - (s + n) / 2) < 5) )
        for i in near:
            _, _, d = geod.inv(np.full(gx.size, lon[i]), np.full(gx.size, lat[i]), gx, gy)
            if d.min() <= halo:
                assert i in sel, (bounds, lon[i], lat[i], d.min())


def test_dask_geopandas_input_and_lazy_output(client, country):
    targets = _targets(country, 300)
    cov, sites = country.coverage(), country.site_set()
    single = cp.evaluate(cov, targets, sites)
    dtargets = dask_geopandas.from_geopandas(targets, npartitions=3)
    tiled = cpd.evaluate(cov, dtargets, sites, client=client, tile_deg=0.5)
    cols = [c for c in single.columns if c not in ("id", "geometry")]
    pd.testing.assert_frame_equal(tiled[cols], single[cols], check_exact=True)
    lazy = cpd.evaluate(cov, targets, sites, client=client, tile_deg=0.5, compute=False)
    assert isinstance(lazy, dask_geopandas.GeoDataFrame)
    got = lazy.compute().sort_values("_target").reset_index(drop=True)
    pd.testing.assert_frame_equal(got[cols], single[cols].reset_index(drop=True), check_exact=True)


def test_terrain_model_tiles_equal_single_process(client, country):
    terrain = country.with_model("terrain")
    targets = _targets(terrain, 0).iloc[:600]
    cov, sites = terrain.coverage(), terrain.site_set()
    single = cp.evaluate(cov, targets, sites)
    tiled = cpd.evaluate(cov, targets, sites, client=client, tile_deg=0.5)
    tiled.attrs = {k: v for k, v in tiled.attrs.items() if k in single.attrs}
    _assert_same(tiled, single)


def test_worker_errors_reach_the_client_as_planner_errors(client):
    pl = cp.Planner.embedded(model="terrain")
    import geopandas as gpd
    import shapely

    pts = gpd.GeoSeries(shapely.points([69.2, 10.0], [41.3, 10.0]), crs=4326)
    with pytest.raises(cp.ConfigError, match="outside the DEM"):
        cpd.evaluate(pl.coverage(), pts, pl.site_set(), client=client)
