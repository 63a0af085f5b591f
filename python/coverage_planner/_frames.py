"""Conversions between GeoPandas/Shapely/Arrow objects and the extension's plain columns.

The extension takes numbers as little-endian buffers, attributes as lists of Python scalars
and geometries as WKB; it returns ``(name, kind, data)`` triples. Everything geographic is
WGS84 longitude/latitude in degrees: frames in another CRS are reprojected first.
"""

from __future__ import annotations

import json
from typing import Any, Iterable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from . import _native

TECHS = ("2g", "3g", "4g", "5g")


def f64_bytes(a: Any) -> bytes:
    return np.ascontiguousarray(np.asarray(a, dtype="<f8")).tobytes()


def u32_bytes(a: Any) -> bytes:
    return np.ascontiguousarray(np.asarray(a, dtype="<u4")).tobytes()


def decode(triples: Iterable[tuple[str, str, Any]]) -> dict[str, Any]:
    """``(name, kind, data)`` triples to numpy arrays / lists."""
    out: dict[str, Any] = {}
    for name, kind, data in triples:
        if kind == "f8":
            out[name] = np.frombuffer(data, dtype="<f8").copy()
        elif kind == "i8":
            out[name] = np.frombuffer(data, dtype="<i8").copy()
        elif kind == "bool":
            out[name] = np.frombuffer(data, dtype=np.uint8).astype(bool)
        elif kind == "wkb":
            out[name] = shapely.from_wkb(np.array(data, dtype=object))
        else:  # str
            out[name] = data
    return out


def _is_arrow(obj: Any) -> bool:
    """pyarrow objects and anything speaking the Arrow PyCapsule interface (GeoPandas'
    ``to_arrow()``, polars, DuckDB results …)."""
    if isinstance(obj, (pd.DataFrame, pd.Series, np.ndarray)):
        return False
    return (
        type(obj).__module__.startswith("pyarrow")
        or hasattr(obj, "__arrow_c_stream__")
        or hasattr(obj, "__arrow_c_array__")
    )


def _is_arrow_table(obj: Any) -> bool:
    import pyarrow as pa

    return isinstance(obj, (pa.Table, pa.RecordBatch)) or (
        hasattr(obj, "__arrow_c_stream__") and not isinstance(obj, (pa.Array, pa.ChunkedArray))
    )


def to_wgs84(gdf: gpd.GeoDataFrame | gpd.GeoSeries) -> Any:
    """The frame in EPSG:4326 (a frame without a CRS is taken to be lon/lat already)."""
    if gdf.crs is not None and not gdf.crs.equals("EPSG:4326"):
        return gdf.to_crs(4326)
    return gdf


def as_geodataframe(obj: Any, lon: str = "lon", lat: str = "lat") -> gpd.GeoDataFrame:
    """A GeoDataFrame from a GeoDataFrame, a DataFrame with lon/lat columns (a CSV as read by
    pandas), or an Arrow table (GeoArrow/GeoParquet metadata, or lon/lat columns)."""
    if isinstance(obj, gpd.GeoDataFrame):
        return to_wgs84(obj)
    if _is_arrow(obj):
        try:
            return to_wgs84(gpd.GeoDataFrame.from_arrow(obj))
        except (ValueError, TypeError):
            import pyarrow as pa

            obj = pa.table(obj).to_pandas()
    if isinstance(obj, pd.DataFrame):
        if lon in obj.columns and lat in obj.columns:
            x = pd.to_numeric(obj[lon], errors="coerce").to_numpy(dtype=float)
            y = pd.to_numeric(obj[lat], errors="coerce").to_numpy(dtype=float)
            geom = shapely.points(x, y)
            geom[np.isnan(x) | np.isnan(y)] = None
            return gpd.GeoDataFrame(obj, geometry=geom, crs=4326)
        raise _native.ConfigError(
            f"a DataFrame without geometry needs {lon!r} and {lat!r} columns (degrees); "
            "give a GeoDataFrame or name the coordinate columns in the mapping"
        )
    raise TypeError(f"expected a GeoDataFrame, DataFrame or Arrow table, got {type(obj).__name__}")


def _scalars(s: pd.Series) -> list[Any]:
    """Column values as Python scalars with missing values as None."""
    if s.dtype == object:
        return [None if (v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA) else v for v in s.tolist()]
    return s.astype(object).where(s.notna(), None).tolist()


def layer_args(
    kind: str, name: str, obj: Any, mapping: dict[str, Any] | None
) -> tuple[str, str, list[tuple[str, list[Any]]], list[bytes | None], str | None]:
    """The extension's layer arguments for one frame."""
    m = mapping or {}
    gdf = as_geodataframe(obj, m.get("lon", "lon"), m.get("lat", "lat"))
    geom_col = gdf.geometry.name
    cols = [(str(c), _scalars(gdf[c])) for c in gdf.columns if c != geom_col]
    wkb = shapely.to_wkb(gdf.geometry.values, hex=False).tolist()
    return kind, name, cols, wkb, json.dumps(mapping) if mapping is not None else None


def site_set(sites: Any, mapping: dict[str, Any] | None = None, name: str = "sites") -> Any:
    """A native SiteSet from a SiteSet, or a cells table (one row per cell)."""
    if isinstance(sites, _native.SiteSet):
        return sites
    _, name, cols, wkb, mj = layer_args("sites", name, sites, mapping)
    return _native.SiteSet.from_columns(name, cols, wkb, mj)


def target_points(targets: Any) -> tuple[np.ndarray, np.ndarray, pd.Index, gpd.GeoDataFrame | None]:
    """``(lon, lat, index, frame)`` of the targets: a GeoDataFrame/GeoSeries of points, a
    DataFrame with ``lon``/``lat`` columns, Shapely points, WKB (numpy/Arrow/list of bytes), an
    Arrow table (GeoArrow metadata or lon/lat columns), or a ``(lon, lat)`` pair of arrays
    (degrees)."""
    frame: gpd.GeoDataFrame | None = None
    if isinstance(targets, tuple) and len(targets) == 2:
        lon = np.asarray(targets[0], dtype=float)
        lat = np.asarray(targets[1], dtype=float)
        if lon.shape != lat.shape or lon.ndim != 1:
            raise ValueError("targets=(lon, lat) needs two 1-D arrays of the same length")
        return lon, lat, pd.RangeIndex(len(lon)), None
    if _is_arrow(targets):
        if _is_arrow_table(targets):
            targets = as_geodataframe(targets)
        else:
            targets = _arrow_geometries(targets)
    if isinstance(targets, pd.DataFrame) and not isinstance(targets, gpd.GeoDataFrame):
        targets = as_geodataframe(targets)
    if isinstance(targets, gpd.GeoDataFrame):
        frame = to_wgs84(targets)
        geoms, index = np.asarray(frame.geometry.values), frame.index
    elif isinstance(targets, gpd.GeoSeries):
        s = to_wgs84(targets)
        geoms, index = np.asarray(s.values), s.index
        frame = gpd.GeoDataFrame(geometry=s)
    else:
        arr = np.asarray(targets, dtype=object)
        if arr.ndim != 1:
            raise ValueError("targets must be one-dimensional")
        if len(arr) and isinstance(arr[0], (bytes, bytearray, memoryview)):
            arr = shapely.from_wkb(arr)
        geoms, index = arr, pd.RangeIndex(len(arr))
    problems = point_problems("targets", geoms, "give point targets (e.g. gdf.representative_point() for polygons)")
    if problems:
        raise _native.ConfigError(problems)
    return shapely.get_x(geoms), shapely.get_y(geoms), index, frame


def _arrow_geometries(arr: Any) -> np.ndarray:
    """Shapely geometries of an Arrow array: plain binary is WKB, GeoArrow extension arrays
    (``geoarrow.wkb``, ``geoarrow.point`` …) go through GeoPandas."""
    import pyarrow as pa

    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    elif not isinstance(arr, pa.Array):
        arr = pa.array(arr)
    if pa.types.is_binary(arr.type) or pa.types.is_large_binary(arr.type):
        return shapely.from_wkb(np.asarray(arr.to_pylist(), dtype=object))
    return np.asarray(gpd.GeoSeries.from_arrow(arr).values)


def point_problems(file: str, geoms: np.ndarray, hint: str) -> str | None:
    """The message for geometries that are not points, worded like the planner's input
    problems (``N problems in the input data:`` then one line per feature), or None."""
    geoms = np.asarray(geoms, dtype=object)
    missing = shapely.is_missing(geoms)
    empty = ~missing & shapely.is_empty(geoms)
    wrong = ~missing & ~empty & (shapely.get_type_id(geoms) != shapely.GeometryType.POINT)
    bad = np.flatnonzero(missing | empty | wrong)
    if not len(bad):
        return None
    lines = []
    for i in bad:
        if missing[i]:
            what = "feature has no geometry"
        elif empty[i]:
            what = "empty geometry"
        else:
            what = f"{geoms[i].geom_type} geometry where a point is expected"
        lines.append(f'\n  - {file}: feature {i}: field "geometry": {what} — {hint}')
    n = len(bad)
    return f"{n} problem{'' if n == 1 else 's'} in the input data:" + "".join(lines)


def result_frame(
    cols: dict[str, Any],
    site_ids: np.ndarray,
    lon: np.ndarray,
    lat: np.ndarray,
    index: pd.Index,
    frame: gpd.GeoDataFrame | None,
) -> gpd.GeoDataFrame:
    """The per-target GeoDataFrame: the target's own columns, then per technology the best
    server (site id, site index, cell), received power (dBm), distance (m) and coverage."""
    data: dict[str, Any] = {}
    if frame is not None:
        for c in frame.columns:
            if c != frame.geometry.name:
                data[c] = frame[c].to_numpy()
    for t in TECHS:
        si = cols[f"site_{t}"]
        has = si >= 0
        ids = np.full(len(si), None, dtype=object)
        ids[has] = site_ids[si[has]]
        data[f"site_{t}"] = ids
        data[f"site_index_{t}"] = pd.array(np.where(has, si, 0), dtype="Int64")
        data[f"site_index_{t}"][~has] = pd.NA
        cell = pd.array(np.where(has, cols[f"cell_{t}"], 0), dtype="Int64")
        cell[~has] = pd.NA
        data[f"cell_{t}"] = cell
        data[f"rx_dbm_{t}"] = cols[f"rx_dbm_{t}"]
        data[f"distance_m_{t}"] = cols[f"distance_m_{t}"]
        data[f"covered_{t}"] = cols[f"covered_{t}"]
    data["mobile_internet"] = cols["mobile_internet"]
    data["outside_dem"] = cols["outside_dem"]
    geometry = frame.geometry.values if frame is not None else gpd.points_from_xy(lon, lat, crs=4326)
    return gpd.GeoDataFrame(data, geometry=geometry, index=index, crs=4326)
