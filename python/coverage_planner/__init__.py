"""Coverage planning from Python: the planner library (Rust) over GeoPandas inputs.

>>> import coverage_planner as cp
>>> pl = cp.Planner.embedded()                       # the embedded dataset, default model
>>> res = pl.evaluate(my_points_gdf)                 # best server per technology per point
>>> gaps = pl.analyze()                              # `planner analyze`: gap analysis
>>> gaps.summary["coverage"]["headline"]["text"]

Units follow the planner: distances and heights in metres, powers in dBm, frequencies in MHz,
coordinates WGS84 longitude/latitude in degrees (GeoDataFrames in another CRS are reprojected).
Errors are raised as :class:`PlannerError` subclasses carrying the message the ``planner`` CLI
prints for the same problem; ``exit_code`` is the code the CLI would exit with.
"""

from __future__ import annotations

import json
from os import PathLike, fspath
from pathlib import Path
from typing import Any, Iterable, Mapping

import geopandas as gpd
import numpy as np
import pandas as pd

from . import _frames, _native
from ._native import ConfigError, Coverage, OutputError, PlannerError, SiteSet, SpeedsError

__all__ = [
    "Analysis",
    "ConfigError",
    "Coverage",
    "OutputError",
    "Planner",
    "PlannerError",
    "SiteSet",
    "SpeedsError",
    "TECHNOLOGIES",
    "__version__",
    "evaluate",
    "model_names",
    "site_set",
]

__version__: str = _native.version()

#: Technology labels, in the order of the per-technology columns.
TECHNOLOGIES: tuple[str, ...] = _frames.TECHS

for _cls, _code in ((PlannerError, 2), (ConfigError, 2), (OutputError, 3), (SpeedsError, 4)):
    _cls.exit_code = _code


def model_names() -> list[str]:
    """Propagation model names accepted by ``model=`` (compound names such as ``hata_open``,
    ``hata_urban_small`` or ``cost231_metropolitan`` are accepted too, and ``itm``)."""
    return list(_native.model_names())


def site_set(sites: Any, mapping: Mapping[str, Any] | None = None, name: str = "sites") -> SiteSet:
    """Validated sites from a cells table: a GeoDataFrame (point geometry) or DataFrame with
    ``lon``/``lat`` columns, one row per cell, with the columns of the planner's sites file
    (``site_id``, ``height_m`` [m above ground], ``technology`` [2g…5g], ``band_mhz`` [MHz],
    ``eirp_dbm`` [dBm], optional ``azimuth_deg``, ``beamwidth_deg``, ``tilt_deg`` [degrees],
    ``operator``), or OpenCelliD rows. ``mapping`` renames fields like ``[inputs.sources.sites.
    mapping]``. Problems raise :class:`ConfigError` with the messages the CLI gives for the
    same rows of a file (row ``i`` is ``feature i`` of ``name``)."""
    return _frames.site_set(sites, dict(mapping) if mapping is not None else None, name)


def evaluate(
    coverage: Coverage,
    targets: Any,
    sites: Any,
    *,
    threads: int | None = None,
) -> gpd.GeoDataFrame:
    """Coverage at every target with the given physics (see :meth:`Planner.coverage`).

    ``targets``: a GeoDataFrame/GeoSeries of points, Shapely points, WKB (list, numpy or Arrow
    array), an Arrow table with GeoArrow metadata, or a ``(lon, lat)`` pair of arrays (degrees).
    ``sites``: a :class:`SiteSet` or a cells table (see :func:`site_set`).

    Returns one row per target (same index; a GeoDataFrame's own columns first), and per
    technology ``t`` in ``2g``…``5g``: ``site_t`` (best server's site id, None without a
    server in range), ``site_index_t`` (its position in the sites), ``cell_t`` (cell index in
    the site), ``rx_dbm_t`` (received power after the reference-signal offset, dBm: RxLev, RSCP
    or RSRP), ``distance_m_t`` (geodesic distance to it, m), ``covered_t`` (rx ≥ threshold);
    then ``mobile_internet`` (3G or better covered) and ``outside_dem`` (not evaluated: outside
    the DEM with a terrain model and ``outside_dem = "skip"``). ``attrs["coverage_stats"]``
    holds the run's counters, ``attrs["model"]`` the model name. The GIL is released while the
    engine runs; ``threads`` caps its worker threads (default: all cores).
    """
    ss = _frames.site_set(sites)
    lon, lat, index, frame = _frames.target_points(targets)
    cols, stats = coverage.evaluate(_frames.f64_bytes(lon), _frames.f64_bytes(lat), ss, threads)
    out = _frames.result_frame(
        _frames.decode(cols), np.asarray(ss.ids(), dtype=object), lon, lat, index, frame
    )
    out.attrs["coverage_stats"] = json.loads(stats)
    out.attrs["model"] = coverage.model_name()
    return out


def _table(triples: Any, crs: int | None = 4326) -> pd.DataFrame:
    cols = _frames.decode(triples)
    if "geometry" in cols:
        return gpd.GeoDataFrame(cols, geometry="geometry", crs=crs)
    if "x" in cols and "y" in cols:
        x, y = cols.pop("x"), cols.pop("y")
        return gpd.GeoDataFrame(cols, geometry=gpd.points_from_xy(x, y), crs=crs)
    return pd.DataFrame(cols)


class Planner:
    """A planner config and the dataset it names (immutable; ``with_*`` return new ones).

    Build one with :meth:`embedded`, :meth:`from_config`, :meth:`from_toml`,
    :meth:`from_frames` or :meth:`synthetic`.
    """

    def __init__(self, session: _native.Session) -> None:
        self._s = session

    # -- construction ----------------------------------------------------------------------

    @classmethod
    def embedded(cls, model: str | Mapping[str, Any] | None = None) -> Planner:
        """The embedded default dataset with the default link budget and model (what
        ``planner analyze`` uses without ``--config``); ``model`` as in :meth:`with_model`."""
        p = cls(_native.Session.load(None))
        return p.with_model(model) if model is not None else p

    @classmethod
    def from_config(cls, path: str | PathLike[str], model: str | Mapping[str, Any] | None = None) -> Planner:
        """Loads a planner TOML config and the inputs it names (relative paths against the
        config's folder), like ``planner analyze --config FILE [--model NAME]``."""
        p = cls(_native.Session.load(fspath(path)))
        return p.with_model(model) if model is not None else p

    @classmethod
    def from_toml(
        cls, text: str, base_dir: str | PathLike[str] = ".", model: str | Mapping[str, Any] | None = None
    ) -> Planner:
        """Parses planner config text; relative input paths are resolved against
        ``base_dir``, and messages name the config ``<base_dir>/<config>``."""
        p = cls(_native.Session.parse(text, fspath(Path(base_dir) / "<config>")))
        return p.with_model(model) if model is not None else p

    @classmethod
    def synthetic(
        cls,
        seed: int = 42,
        settlements: int = 100_000,
        sites: int = 20_000,
        road_km: float = 50_000.0,
        dem: bool = True,
        bbox: tuple[float, float, float, float] | None = None,
        config: Planner | None = None,
    ) -> Planner:
        """A seeded synthetic country (the planner's benchmark generator): clustered
        settlements, sites around them (a 900 MHz 2G and a 2100 MHz 3G omni cell and three
        1800 MHz 4G sectors each), random-walk roads of ``road_km`` km in total and, with
        ``dem``, a smooth 30″ synthetic DEM. ``bbox`` is ``(west, south, east, north)`` in
        degrees (default: an Uzbekistan-sized box). ``config`` supplies model and budget."""
        return cls(
            _native.Session.synthetic(
                seed, settlements, sites, road_km, dem, list(bbox) if bbox else None,
                config._s if config is not None else None,
            )
        )

    @classmethod
    def from_frames(
        cls,
        *,
        settlements: Any = None,
        roads: Any = None,
        regions: Any = None,
        sites: Any = None,
        fixed_nodes: Any = None,
        dem: str | PathLike[str] | None = None,
        routes: str | PathLike[str] | None = None,
        mappings: Mapping[str, Mapping[str, Any]] | None = None,
        name: str = "user dataset",
        config: Planner | None = None,
    ) -> Planner:
        """A dataset made of GeoDataFrames (or DataFrames with lon/lat columns, or Arrow
        tables), each checked by the same builder as the planner's input files, with the same
        messages (row ``i`` is ``feature i`` of ``settlements`` …). ``dem`` is a raster path
        (GeoTIFF, SRTM .hgt, …), ``routes`` a route table CSV, ``mappings`` per-layer field
        mappings as in ``[inputs.sources.<layer>.mapping]``. Model, budget and analysis
        settings come from ``config`` (default: every default)."""
        base = config if config is not None else cls(_native.Session.defaults())
        return base._with_layers(
            dict(settlements=settlements, roads=roads, regions=regions, sites=sites, fixed_nodes=fixed_nodes),
            dem, routes, mappings, name, keep=False,
        )

    def with_frames(
        self,
        *,
        settlements: Any = None,
        roads: Any = None,
        regions: Any = None,
        sites: Any = None,
        fixed_nodes: Any = None,
        dem: str | PathLike[str] | None = None,
        routes: str | PathLike[str] | None = None,
        mappings: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> Planner:
        """This planner with the given layers replaced (the others kept); see
        :meth:`from_frames`."""
        return self._with_layers(
            dict(settlements=settlements, roads=roads, regions=regions, sites=sites, fixed_nodes=fixed_nodes),
            dem, routes, mappings, None, keep=True,
        )

    def _with_layers(self, frames: dict[str, Any], dem: Any, routes: Any, mappings: Any, name: str | None, keep: bool) -> Planner:
        maps = dict(mappings or {})
        unknown = set(maps) - set(frames)
        if unknown:
            raise ConfigError(f"mappings for unknown layers {sorted(unknown)}: give settlements, roads, regions, sites or fixed_nodes")
        layers = [
            _frames.layer_args(kind, kind, obj, dict(maps[kind]) if kind in maps else None)
            for kind, obj in frames.items()
            if obj is not None
        ]
        return Planner(
            self._s.with_layers(
                layers,
                fspath(dem) if dem is not None else None,
                fspath(routes) if routes is not None else None,
                name,
                keep,
            )
        )

    def with_model(self, model: str | Mapping[str, Any]) -> Planner:
        """This planner with another propagation model: a name as ``planner analyze --model``
        (configured settings that still apply are kept), or a whole ``[model]`` table as a
        dict, e.g. ``{"model": "itm", "itm": {"reliability_pct": 90}}``. See
        :func:`model_names`."""
        if isinstance(model, Mapping):
            return Planner(self._s.with_model(json.dumps(dict(model))))
        return Planner(self._s.with_model(str(model)))

    # -- the dataset -----------------------------------------------------------------------

    @property
    def model(self) -> str:
        """Name of the propagation model evaluations use."""
        return self._s.model_name()

    @property
    def warnings(self) -> list[str]:
        """Warnings raised while loading the inputs (defaults applied, …), as the CLI
        prints them."""
        return list(self._s.warnings())

    def dataset_summary(self) -> dict[str, Any]:
        """Counts and totals of the dataset: the ``dataset`` object of
        ``planner analyze --json`` (population in persons, road lengths in km)."""
        return json.loads(self._s.dataset_summary_json())

    @property
    def settlements(self) -> gpd.GeoDataFrame:
        """Settlements: ``id``, ``name``, ``population`` (persons), ``households``,
        ``region`` (ISO 3166-2 code), point geometry (EPSG:4326)."""
        return _table(self._s.settlements_columns())

    @property
    def roads(self) -> gpd.GeoDataFrame:
        """Roads: ``id``, ``class``, ``refs`` (``;``-separated route refs),
        ``international``, ``name``, line geometry."""
        return _table(self._s.roads_columns())

    @property
    def regions(self) -> gpd.GeoDataFrame:
        """Regions: ``code``, ``name_en``, ``name_local``, ``name_ru``, multipolygon."""
        return _table(self._s.regions_columns())

    @property
    def fixed_nodes(self) -> gpd.GeoDataFrame:
        """Fixed-broadband nodes: ``id``, ``kind``, ``technology``, ``ports_total``,
        ``ports_used``, point geometry."""
        return _table(self._s.fixed_nodes_columns())

    @property
    def sites(self) -> gpd.GeoDataFrame:
        """Sites, one row per cell (the planner's sites-file columns plus ``site_index`` and
        ``cell``); :func:`site_set` of it gives back the same sites in the same order."""
        return cells_frame(self._s.sites())

    def site_set(self) -> SiteSet:
        """The dataset's sites as a :class:`SiteSet`."""
        return self._s.sites()

    # -- computation -----------------------------------------------------------------------

    def coverage(self) -> Coverage:
        """The physics of this planner: propagation model, link budget (thresholds,
        reference-signal offsets, receiver height and gains) and the DEM. Picklable, so Dask
        can ship it to workers."""
        return self._s.coverage()

    def max_range_m(self, sites: Any = None) -> float:
        """Largest useful range of any site, metres: no site reaches any technology's
        threshold farther away. The halo a spatial tile needs for exact results."""
        return self.coverage().max_range_m(self.site_set() if sites is None else _frames.site_set(sites))

    def evaluate(self, targets: Any, sites: Any = None, *, threads: int | None = None) -> gpd.GeoDataFrame:
        """Best server and received power per technology at every target, against ``sites``
        (default: the dataset's). See :func:`evaluate` for inputs and columns."""
        return evaluate(self.coverage(), targets, self.site_set() if sites is None else sites, threads=threads)

    def analyze(self, *, threads: int | None = None, grid_m: float | None = None) -> Analysis:
        """``planner analyze``: coverage at every settlement and road piece (and a grid of
        ``grid_m`` metre cells over the dataset's extent), then the gap analysis. The GIL is
        released while it runs."""
        return Analysis(self._s.analyze(threads, grid_m))

    def link(
        self,
        freq_mhz: float,
        from_lat_lon: tuple[float, float] | None = None,
        to_lat_lon: tuple[float, float] | None = None,
        *,
        profile: str | PathLike[str] | None = None,
        tx_height_m: float = 30.0,
        rx_height_m: float = 1.5,
        eirp_dbm: float = 58.0,
        models: Iterable[str] = (),
        k_factor: float | None = None,
        diffraction: str = "deygout",
        step_m: float = 30.0,
    ) -> dict[str, Any]:
        """Point-to-point link report, the document ``planner link --json`` prints: path
        loss per model (dB), received level per technology (dBm) against the thresholds,
        line of sight, Fresnel clearance and knife edges. Over this planner's DEM between
        ``from_lat_lon`` and ``to_lat_lon`` (degrees, profile samples every ``step_m`` m), or
        along a profile CSV (``distance_m,elevation_m``). Heights in m above ground, carrier
        ``freq_mhz`` in MHz, ``eirp_dbm`` in dBm."""
        return json.loads(
            self._s.link(
                freq_mhz,
                tuple(from_lat_lon) if from_lat_lon is not None else None,
                tuple(to_lat_lon) if to_lat_lon is not None else None,
                fspath(profile) if profile is not None else None,
                tx_height_m, rx_height_m, eirp_dbm, list(models), k_factor, diffraction, step_m,
            )
        )


def cells_frame(sites: SiteSet) -> gpd.GeoDataFrame:
    """One row per cell of ``sites`` (sites-file columns, ``site_index``, ``cell``)."""
    cols = _frames.decode(sites.cells_columns())
    lon, lat = cols.pop("lon"), cols.pop("lat")
    return gpd.GeoDataFrame(cols, geometry=gpd.points_from_xy(lon, lat), crs=4326)


class Analysis:
    """What ``planner analyze`` computes: every target's coverage, the gap analysis per
    service, region and route, and the report the CLI prints or writes."""

    def __init__(self, native: _native.AnalysisResult) -> None:
        self._a = native

    @property
    def summary(self) -> dict[str, Any]:
        """The JSON document of ``planner analyze --json`` (schema: docs/analyze-json.md)."""
        return json.loads(self._a.report_json())

    @property
    def text(self) -> str:
        """The human summary ``planner analyze`` prints."""
        return self._a.text()

    def write(self, out_dir: str | PathLike[str]) -> list[Path]:
        """Writes the files of ``planner analyze --out DIR`` (summary.json, CSV tables,
        GeoJSON layers, coverage.tif with a grid), atomically; returns their paths."""
        return [Path(p) for p in self._a.write(fspath(out_dir))]

    @property
    def targets(self) -> gpd.GeoDataFrame:
        """Every target (``kind`` settlement / road / grid; ``id`` of the settlement or road;
        road ``piece``, ``start_m`` and ``length_m``) with the columns of :func:`evaluate`."""
        cols = _frames.decode(self._a.targets_columns())
        ids = np.asarray(self._a.site_ids(), dtype=object)
        x, y = cols.pop("x"), cols.pop("y")
        meta = {k: cols.pop(k) for k in ("kind", "id", "piece", "start_m", "length_m")}
        frame = gpd.GeoDataFrame(meta, geometry=gpd.points_from_xy(x, y), crs=4326)
        return _frames.result_frame(cols, ids, x, y, pd.RangeIndex(len(x)), frame)

    @property
    def settlements(self) -> gpd.GeoDataFrame:
        """Settlement targets with their ``region`` (the rows of settlements.csv, unrounded)."""
        t = self.targets
        s = t[t["kind"] == "settlement"].drop(columns=["kind", "piece", "start_m", "length_m"])
        s.insert(1, "region", self._a.settlement_regions())
        return s

    @property
    def by_region(self) -> pd.DataFrame:
        """Per region × service: settlements, population and road km covered/uncovered."""
        return pd.DataFrame.from_records(json.loads(self._a.by_region_json()))

    @property
    def by_route(self) -> pd.DataFrame:
        """Per route × service: road km covered/uncovered."""
        return pd.DataFrame.from_records(json.loads(self._a.by_route_json()))

    @property
    def stretches(self) -> gpd.GeoDataFrame:
        """Covered and uncovered road stretches per service (lines; ``start_m``/``length_m``
        in metres along the road)."""
        return _table(self._a.stretches_columns())
