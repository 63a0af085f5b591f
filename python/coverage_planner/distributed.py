"""The coverage evaluation partitioned over Dask by spatial tiles.

Targets are cut into tiles of ``tile_deg`` × ``tile_deg`` degrees. Each tile is evaluated on a
worker against only the sites within the *halo* of the tile: every site closer to the tile than
the largest useful range of any site (:meth:`coverage_planner.Coverage.max_range_m`). A site
farther away cannot reach any threshold at any target of the tile, the engine considers a
target's candidate sites in ascending site order whatever subset they come from, and tiles keep
the sites' global order, so the merged result equals the single-process result exactly.

The halo is a lon/lat box around the tile, sized so it provably contains every point within the
halo distance: a degree of latitude is at least 110 574 m on WGS84, a degree of longitude at
latitude φ at least 111 319.49 m · cos φ, taken at the tile's most poleward halo latitude, plus
1 % (which also covers the engine's spherical pre-filter). Tiles reaching within the halo of a
pole take every longitude; boxes wrap across the antimeridian.

>>> from dask.distributed import Client, LocalCluster
>>> import coverage_planner as cp, coverage_planner.distributed as cpd
>>> pl = cp.Planner.embedded()
>>> with LocalCluster(n_workers=2, threads_per_worker=1) as cluster, Client(cluster) as client:
...     res = cpd.evaluate(pl.coverage(), targets_gdf, pl.site_set(), client=client)

``targets`` may also be a dask-geopandas GeoDataFrame (e.g. from
``dask_geopandas.read_parquet``); with ``compute=False`` the result stays a dask-geopandas
GeoDataFrame, one partition per tile group, for outputs larger than the client's memory.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

import dask
import dask.dataframe as dd
import dask_geopandas
import geopandas as gpd
import numpy as np
import pandas as pd

from . import _frames, _native

#: Shortest degree of latitude on WGS84 (at the equator), metres.
M_PER_DEG_LAT_MIN = 110_574.0
#: Degree of longitude on the equator on WGS84, metres (times cos φ bounds it below elsewhere).
M_PER_DEG_LON_EQ = 111_319.49
#: Safety factor on the halo (covers the spherical candidate pre-filter, ~0.5 %).
HALO_MARGIN = 1.01


def tile_of(lon: np.ndarray, lat: np.ndarray, tile_deg: float) -> np.ndarray:
    """Tile key of each point: ``ix * 10**6 + iy`` with ``ix``/``iy`` the column/row of
    ``tile_deg`` tiles counted from (−180°, −90°)."""
    ix = np.floor((np.asarray(lon) + 180.0) / tile_deg).astype(np.int64)
    iy = np.floor((np.asarray(lat) + 90.0) / tile_deg).astype(np.int64)
    return ix * 1_000_000 + iy


def tile_bounds(key: int, tile_deg: float) -> tuple[float, float, float, float]:
    """``(west, south, east, north)`` of a tile, degrees."""
    ix, iy = divmod(int(key), 1_000_000)
    w = -180.0 + ix * tile_deg
    s = -90.0 + iy * tile_deg
    return w, s, w + tile_deg, s + tile_deg


def halo_sites(
    site_lon: np.ndarray, site_lat: np.ndarray, bounds: tuple[float, float, float, float], halo_m: float
) -> np.ndarray:
    """Indices (ascending) of the sites within ``halo_m`` metres of the box ``bounds``, plus
    possibly a few farther ones (the box is conservative, never short)."""
    w, s, e, n = bounds
    dlat = halo_m * HALO_MARGIN / M_PER_DEG_LAT_MIN + 1e-9
    south, north = s - dlat, n + dlat
    keep = (site_lat >= south) & (site_lat <= north)
    phi = max(abs(south), abs(north))
    if phi < 89.0:
        dlon = halo_m * HALO_MARGIN / (M_PER_DEG_LON_EQ * math.cos(math.radians(phi))) + 1e-9
        width = (e - w) + 2.0 * dlon
        if width < 360.0:
            keep &= np.mod(site_lon - (w - dlon), 360.0) <= width
    return np.flatnonzero(keep).astype(np.uint32)


def _evaluate_part(
    part: pd.DataFrame,
    coverage: _native.Coverage,
    sites: _native.SiteSet,
    halo_m: float,
    tile_deg: float,
    threads: int | None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Evaluates the targets of one partition tile by tile (runs on a worker)."""
    site_lon_b, site_lat_b = sites.lonlat()
    site_lon = np.frombuffer(site_lon_b, dtype="<f8")
    site_lat = np.frombuffer(site_lat_b, dtype="<f8")
    frames = []
    stats: dict[str, Any] = {}
    for key, tile in part.groupby("_tile", sort=True):
        sel = halo_sites(site_lon, site_lat, tile_bounds(key, tile_deg), halo_m)
        sub = sites.subset(_frames.u32_bytes(sel))
        lon = tile["lon"].to_numpy(dtype=float)
        lat = tile["lat"].to_numpy(dtype=float)
        cols, st = coverage.evaluate(_frames.f64_bytes(lon), _frames.f64_bytes(lat), sub, threads)
        c = _frames.decode(cols)
        for t in _frames.TECHS:
            local = c[f"site_{t}"]
            c[f"site_{t}"] = np.where(local >= 0, sel[np.maximum(local, 0)].astype(np.int64), -1)
        df = pd.DataFrame(c, index=tile.index)
        df.insert(0, "_target", tile["_target"].to_numpy())
        df.insert(1, "lon", lon)
        df.insert(2, "lat", lat)
        frames.append(df)
        _merge_stats(stats, json.loads(st), int(tile["_target"].min()))
    if frames:
        out = pd.concat(frames)
    else:
        out = _empty_result()
    return out, stats


def _empty_result() -> pd.DataFrame:
    cols: dict[str, Any] = {"_target": np.array([], dtype=np.int64), "lon": [], "lat": []}
    for t in _frames.TECHS:
        cols[f"site_{t}"] = np.array([], dtype=np.int64)
        cols[f"cell_{t}"] = np.array([], dtype=np.int64)
        cols[f"rx_dbm_{t}"] = np.array([], dtype=float)
        cols[f"distance_m_{t}"] = np.array([], dtype=float)
        cols[f"covered_{t}"] = np.array([], dtype=bool)
    cols["mobile_internet"] = np.array([], dtype=bool)
    cols["outside_dem"] = np.array([], dtype=bool)
    return pd.DataFrame(cols)


def _merge_stats(into: dict[str, Any], s: dict[str, Any], first_target: int) -> None:
    """Adds one tile's counters (numbers summed, per-code tables summed per code); the first
    model error kept is the one of the tile holding the lowest target."""
    for k, v in s.items():
        if k in ("first_model_error", "_first_error_at"):
            continue
        if isinstance(v, dict):
            d = into.setdefault(k, {})
            for kk, vv in v.items():
                d[kk] = d.get(kk, 0) + vv
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            into[k] = into.get(k, 0) + v
        else:
            into.setdefault(k, v)
    if s.get("first_model_error") is not None:
        at = into.get("_first_error_at")
        if at is None or first_target < at:
            into["first_model_error"] = s["first_model_error"]
            into["_first_error_at"] = first_target
    into.setdefault("first_model_error", None)


def _partition_frame(targets: Any, tile_deg: float, npartitions: int | None, slots: int) -> tuple[dd.DataFrame, Any]:
    """A Dask frame of ``_target`` (global position), ``lon``, ``lat``, ``_tile``, shuffled so
    each tile lies in one partition; and the targets' own frame (pandas) when it is local.

    Without ``npartitions``, the tiles are spread over at least ``4 * slots`` partitions (the
    cluster's task slots; never more than there are tiles): one partition per slot would leave
    a worker idle whenever the tiles hash unevenly, and an input small enough for one
    partition would otherwise run on one worker only."""
    if isinstance(targets, dask_geopandas.GeoDataFrame):
        geo = targets.to_crs(4326) if targets.crs is not None and not targets.crs.equals("EPSG:4326") else targets
        lens = geo.map_partitions(len).compute()
        offsets = np.concatenate([[0], np.cumsum(lens)[:-1]])
        parts = geo.to_delayed()

        def _points(p: gpd.GeoDataFrame, start: int) -> pd.DataFrame:
            problems = _frames.point_problems("targets", np.asarray(p.geometry.values), "give point targets (e.g. gdf.representative_point() for polygons)")
            if problems:
                raise _native.ConfigError(problems)
            lon = p.geometry.x.to_numpy()
            lat = p.geometry.y.to_numpy()
            return pd.DataFrame({"_target": np.arange(start, start + len(p), dtype=np.int64), "lon": lon, "lat": lat, "_tile": tile_of(lon, lat, tile_deg)})

        meta = pd.DataFrame({"_target": np.array([], dtype=np.int64), "lon": np.array([], dtype=float), "lat": np.array([], dtype=float), "_tile": np.array([], dtype=np.int64)})
        pts = dd.from_delayed([dask.delayed(_points)(p, int(o)) for p, o in zip(parts, offsets)], meta=meta)
        local = None
        n_in = geo.npartitions
        n_tiles = None
    else:
        lon, lat, index, frame = _frames.target_points(targets)
        pdf = pd.DataFrame({"_target": np.arange(len(lon), dtype=np.int64), "lon": lon, "lat": lat, "_tile": tile_of(lon, lat, tile_deg)})
        n_in = npartitions or max(1, min(64, len(pdf) // 50_000 + 1))
        pts = dd.from_pandas(pdf, npartitions=n_in)
        local = (lon, lat, index, frame)
        n_tiles = len(np.unique(pdf["_tile"].to_numpy()))
    n_out = npartitions or max(n_in, 4 * slots)
    if npartitions is None and n_tiles is not None:
        n_out = max(1, min(n_out, n_tiles))
    # Task-based shuffle: the frame is four narrow columns, and it keeps the local scheduler usable.
    return pts.shuffle("_tile", npartitions=n_out, shuffle_method="tasks"), local


def evaluate(
    coverage: _native.Coverage,
    targets: Any,
    sites: Any,
    *,
    client: Any = None,
    tile_deg: float = 1.0,
    npartitions: int | None = None,
    threads_per_task: int | None = 1,
    compute: bool = True,
) -> Any:
    """:func:`coverage_planner.evaluate` partitioned over Dask by spatial tiles.

    ``coverage``: the physics (:meth:`coverage_planner.Planner.coverage`); ``targets``: as
    for :func:`coverage_planner.evaluate`, or a dask-geopandas GeoDataFrame of points;
    ``sites``: a :class:`~coverage_planner.SiteSet` or cells table. ``tile_deg`` is the tile
    size in degrees (results do not depend on it; ~1° keeps the halo overhead small for ranges
    of tens of km). ``client``: a ``dask.distributed.Client`` (default: the current one, or
    Dask's local scheduler); coverage and sites are broadcast to every worker once.
    ``npartitions``: partitions (tasks) the tiles are grouped into (default: 4 per task slot
    of the cluster, at most one per tile, at least the input's partitions).
    ``threads_per_task`` caps the engine's threads inside one task (1: let Dask's workers
    provide the parallelism).

    Returns the same GeoDataFrame as the single-process evaluation, row for row and bit for
    bit (``attrs["coverage_stats"]`` summed over tiles, plus ``attrs["tiles"]`` and
    ``attrs["halo_m"]``); with ``compute=False`` a dask-geopandas GeoDataFrame of result rows
    (``_target`` is the target's position) in tile order instead.
    """
    if not (math.isfinite(tile_deg) and 0.0 < tile_deg <= 180.0):
        raise _native.ConfigError(f"tile_deg = {tile_deg}: give a tile size in degrees in (0, 180]")
    ss = _frames.site_set(sites)
    halo_m = coverage.max_range_m(ss)
    if client is None:
        try:
            from dask.distributed import get_client

            client = get_client()
        except (ImportError, ValueError):
            client = None
    slots = sum(client.nthreads().values()) if client is not None else (os.cpu_count() or 1)
    pts, local = _partition_frame(targets, tile_deg, npartitions, max(1, slots))
    if client is not None:
        cov_ref, sites_ref = client.scatter([coverage, ss], broadcast=True, hash=False)
    else:
        cov_ref, sites_ref = coverage, ss
    tasks = [
        dask.delayed(_evaluate_part, nout=2)(p, cov_ref, sites_ref, halo_m, tile_deg, threads_per_task)
        for p in pts.to_delayed()
    ]
    site_ids = np.asarray(ss.ids(), dtype=object)
    if not compute:
        frames = dd.from_delayed([t[0] for t in tasks], meta=_empty_result())
        named = frames.map_partitions(_with_geometry, site_ids, meta=_with_geometry(_empty_result(), site_ids))
        return dask_geopandas.from_dask_dataframe(named, geometry="geometry")
    if client is not None:
        results = client.compute(tasks, sync=True)
    else:
        results = dask.compute(*tasks)
    frames = [r[0] for r in results]
    stats: dict[str, Any] = {}
    for i, (_, s) in enumerate(results):
        if s:
            first = s.pop("_first_error_at", None)
            _merge_stats(stats, s, first if first is not None else i)
    stats.pop("_first_error_at", None)
    merged = pd.concat(frames).sort_values("_target", kind="stable")
    cols = {c: merged[c].to_numpy() for c in merged.columns}
    if local is not None:
        lon, lat, index, frame = local
    else:
        lon, lat = cols["lon"], cols["lat"]
        index, frame = pd.RangeIndex(len(lon)), None
    out = _frames.result_frame(cols, site_ids, lon, lat, index, frame)
    # Per-code tables in code order, as the engine's (BTreeMap) counters are.
    out.attrs["coverage_stats"] = {k: dict(sorted(v.items())) if isinstance(v, dict) else v for k, v in stats.items()}
    out.attrs["model"] = coverage.model_name()
    out.attrs["halo_m"] = halo_m
    out.attrs["tiles"] = int(len(np.unique(tile_of(cols["lon"], cols["lat"], tile_deg))))
    return out


def _with_geometry(df: pd.DataFrame, site_ids: np.ndarray) -> gpd.GeoDataFrame:
    """A result partition as a GeoDataFrame with site ids (lazy path)."""
    out = _frames.result_frame({c: df[c].to_numpy() for c in df.columns}, site_ids, df["lon"].to_numpy(), df["lat"].to_numpy(), df.index, None)
    out.insert(0, "_target", df["_target"].to_numpy())
    return out
