//! User inputs: which file holds each layer and how its fields map to the model, loaded into a
//! [`Dataset`] with every problem of every file reported at once.
//!
//! Paths are relative to the directory of the configuration that names them. Formats are
//! chosen by extension: `.geojson`/`.json` and `.csv` are read natively, `.osm`/`.osm.pbf`
//! through GDAL's OSM driver with OpenStreetMap tag defaults, anything else through GDAL.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::dataset::Dataset;
use crate::dem::Dem;
use crate::error::{GeodataError, Location, Problem, Problems};
use crate::layers;
use crate::mapping::{
    ContextMapping, FixedNodeMapping, RegionMapping, RoadMapping, SettlementMapping, SiteMapping,
};
use crate::read::{self, Format, LayerKind};
use crate::routes::RouteTable;
use crate::validate::{self, Report};

/// One vector layer: a file, optionally a layer inside it, and the field mapping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerSource<M> {
    /// File path (GeoJSON, CSV, GeoPackage, Shapefile, FlatGeobuf, OSM …).
    pub path: PathBuf,
    /// Layer name inside a multi-layer file (GeoPackage, OSM `points`/`lines`); default: the
    /// first layer, or for OSM the layer matching the geometry the model needs.
    #[serde(default)]
    pub layer: Option<String>,
    /// Field mapping; default: the project's field names, or OSM tags for `.osm`/`.osm.pbf`.
    #[serde(default)]
    pub mapping: Option<M>,
    /// CSV only: CRS of the coordinate columns (`EPSG:32642`, a PROJ string or WKT), x/easting
    /// in the longitude column and y/northing in the latitude column; the points are
    /// reprojected to WGS84 lon/lat through GDAL. Default: WGS84 lon/lat degrees. Other
    /// formats carry their CRS in the file.
    #[serde(default)]
    pub crs: Option<String>,
}

impl<M> LayerSource<M> {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        LayerSource {
            path: path.into(),
            layer: None,
            mapping: None,
            crs: None,
        }
    }
}

/// Where a dataset's layers come from. Every field is optional; absent layers stay empty.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Sources {
    /// Dataset name for reports; default: `user dataset`.
    pub name: Option<String>,
    pub settlements: Option<LayerSource<SettlementMapping>>,
    pub roads: Option<LayerSource<RoadMapping>>,
    pub regions: Option<LayerSource<RegionMapping>>,
    pub sites: Option<LayerSource<SiteMapping>>,
    pub fixed_nodes: Option<LayerSource<FixedNodeMapping>>,
    /// Neighbouring countries drawn as map context (polygons with `iso_a2`, `name_en`);
    /// optional, never analysed.
    pub context: Option<LayerSource<ContextMapping>>,
    /// Elevation raster (GeoTIFF, SRTM `.hgt`, any GDAL raster).
    pub dem: Option<PathBuf>,
    /// Route table CSV `route,aliases,international,seq,waypoint,lat,lon`.
    pub routes: Option<PathBuf>,
    /// Layers to label synthetic in reports.
    pub synthetic_layers: Vec<String>,
}

fn resolve(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

/// Turns a whole-file failure into problems so it is listed with the others.
fn absorb(err: GeodataError, file: &Path, into: &mut Problems) {
    match err {
        GeodataError::Invalid(ps) => into.extend(ps),
        other => into.push(Problem::new(
            file.display().to_string(),
            Location::None,
            None,
            other_message(&other),
            "",
        )),
    }
}

fn other_message(e: &GeodataError) -> String {
    // The Io/Gdal messages start with the path; the problem already names the file.
    let s = e.to_string();
    match e {
        GeodataError::Io { path, .. } | GeodataError::Gdal { path, .. } => s
            .strip_prefix(&format!("{}: ", path.display()))
            .unwrap_or(&s)
            .to_owned(),
        _ => s,
    }
}

/// Loads a DEM from any GDAL raster.
pub fn load_dem(path: &Path) -> Result<Dem, GeodataError> {
    Dem::from_gdal(path)
}

impl Sources {
    /// Reads every configured layer relative to `base_dir`. Fails once, listing every problem
    /// of every file; warnings go to [`Dataset::warnings`].
    pub fn load(&self, base_dir: &Path) -> Result<Dataset, GeodataError> {
        let (ds, report) = self.load_report(base_dir);
        report.errors.into_result()?;
        Ok(ds)
    }

    /// Like [`Sources::load`], then also checks that every target lies on the DEM when
    /// `dem_required` (reported together with any reading problem).
    pub fn load_validated(
        &self,
        base_dir: &Path,
        dem_required: bool,
    ) -> Result<Dataset, GeodataError> {
        let (mut ds, mut report) = self.load_report(base_dir);
        if dem_required {
            report.merge(validate::check_dem_coverage(&ds));
        }
        report.errors.into_result()?;
        ds.warnings = report.warnings;
        Ok(ds)
    }

    /// Reads everything it can, returning the partial dataset and all errors and warnings.
    pub fn load_report(&self, base_dir: &Path) -> (Dataset, Report) {
        let mut r = Report::default();
        let mut ds = Dataset {
            name: self.name.clone().unwrap_or_else(|| "user dataset".into()),
            synthetic_layers: self.synthetic_layers.clone(),
            ..Default::default()
        };

        let routes = self.routes.as_ref().and_then(|p| {
            let path = resolve(base_dir, p);
            match RouteTable::from_path(&path) {
                Ok(t) => Some(t),
                Err(e) => {
                    absorb(e, &path, &mut r.errors);
                    None
                }
            }
        });

        let mut read_layer = |r: &mut Report,
                              name: &str,
                              path: &Path,
                              layer: Option<&str>,
                              kind: LayerKind,
                              lonlat: (&str, &str),
                              crs: Option<&str>| {
            ds.sources
                .insert(name.to_owned(), path.display().to_string());
            if crs.is_some() && Format::from_path(path) != Format::Csv {
                r.error(
                    &path.display().to_string(),
                    &Location::None,
                    Some("crs"),
                    "`crs` applies to CSV files only",
                    "drop `crs`: this format carries its CRS in the file (GDAL reprojects it to WGS84)",
                );
                return None;
            }
            match read::read_path_in(path, layer, kind, lonlat, crs) {
                Ok(l) => Some(l),
                Err(e) => {
                    absorb(e, path, &mut r.errors);
                    None
                }
            }
        };

        let mut regions = Vec::new();
        let mut settlements = Vec::new();
        let mut roads = Vec::new();
        let mut sites = Vec::new();
        let mut fixed = Vec::new();
        let mut context = Vec::new();
        if let Some(src) = &self.regions {
            let path = resolve(base_dir, &src.path);
            let m = src.mapping.clone().unwrap_or_default();
            if let Some(l) = read_layer(
                &mut r,
                "regions",
                &path,
                src.layer.as_deref(),
                LayerKind::Polygons,
                ("lon", "lat"),
                src.crs.as_deref(),
            ) {
                let (v, locs, rep) = layers::regions(&l, &m);
                regions = v;
                ds.origins.insert("regions".into(), locs);
                r.merge(rep);
            }
        }
        if let Some(src) = &self.settlements {
            let path = resolve(base_dir, &src.path);
            let m = src.mapping.clone().unwrap_or_else(|| {
                if Format::from_path(&path) == Format::Osm {
                    SettlementMapping::osm()
                } else {
                    SettlementMapping::default()
                }
            });
            if let Some(l) = read_layer(
                &mut r,
                "settlements",
                &path,
                src.layer.as_deref(),
                LayerKind::Points,
                (&m.lon, &m.lat),
                src.crs.as_deref(),
            ) {
                let (v, locs, rep) = layers::settlements(&l, &m);
                settlements = v;
                ds.origins.insert("settlements".into(), locs);
                r.merge(rep);
            }
        }
        if let Some(src) = &self.roads {
            let path = resolve(base_dir, &src.path);
            let m = src.mapping.clone().unwrap_or_else(|| {
                if Format::from_path(&path) == Format::Osm {
                    RoadMapping::osm()
                } else {
                    RoadMapping::default()
                }
            });
            if let Some(l) = read_layer(
                &mut r,
                "roads",
                &path,
                src.layer.as_deref(),
                LayerKind::Lines,
                ("lon", "lat"),
                src.crs.as_deref(),
            ) {
                let (v, locs, rep) = layers::roads(&l, &m, routes.as_ref());
                roads = v;
                ds.origins.insert("roads".into(), locs);
                r.merge(rep);
            }
        }
        if let Some(src) = &self.sites {
            let path = resolve(base_dir, &src.path);
            let m = src.mapping.clone().unwrap_or_default();
            if let Some(l) = read_layer(
                &mut r,
                "sites",
                &path,
                src.layer.as_deref(),
                LayerKind::Points,
                (&m.lon, &m.lat),
                src.crs.as_deref(),
            ) {
                let (v, locs, cells, rep) = layers::sites_and_cells(&l, &m);
                sites = v;
                ds.origins.insert("sites".into(), locs);
                ds.origins.insert("site_cells".into(), cells);
                r.merge(rep);
            }
        }
        if let Some(src) = &self.fixed_nodes {
            let path = resolve(base_dir, &src.path);
            let m = src.mapping.clone().unwrap_or_default();
            if let Some(l) = read_layer(
                &mut r,
                "fixed_nodes",
                &path,
                src.layer.as_deref(),
                LayerKind::Points,
                (&m.lon, &m.lat),
                src.crs.as_deref(),
            ) {
                let (v, locs, rep) = layers::fixed_nodes(&l, &m);
                fixed = v;
                ds.origins.insert("fixed_nodes".into(), locs);
                r.merge(rep);
            }
        }
        if let Some(src) = &self.context {
            let path = resolve(base_dir, &src.path);
            let m = src.mapping.clone().unwrap_or_default();
            if let Some(l) = read_layer(
                &mut r,
                "context",
                &path,
                src.layer.as_deref(),
                LayerKind::Polygons,
                ("lon", "lat"),
                src.crs.as_deref(),
            ) {
                let (v, locs, rep) = layers::context(&l, &m);
                context = v;
                ds.origins.insert("context".into(), locs);
                r.merge(rep);
            }
        }
        if let Some(p) = &self.dem {
            let path = resolve(base_dir, p);
            ds.sources.insert("dem".into(), path.display().to_string());
            match load_dem(&path) {
                Ok(d) => ds.dem = Some(d),
                Err(e) => absorb(e, &path, &mut r.errors),
            }
        }
        // A configured layer that yields nothing is almost always a wrong layer name, filter
        // or mapping; say so rather than plan on an empty layer.
        for (name, configured, count) in [
            ("regions", self.regions.is_some(), regions.len()),
            ("settlements", self.settlements.is_some(), settlements.len()),
            ("roads", self.roads.is_some(), roads.len()),
            ("sites", self.sites.is_some(), sites.len()),
            ("fixed_nodes", self.fixed_nodes.is_some(), fixed.len()),
            ("context", self.context.is_some(), context.len()),
        ] {
            if configured && count == 0 {
                let file = ds.sources.get(name).cloned().unwrap_or_default();
                r.warn(
                    &file,
                    &Location::None,
                    None,
                    format!("no {name} were read from this file"),
                    "check the layer name, the field mapping and any class/place filters",
                );
            }
        }
        ds.regions = regions;
        ds.settlements = settlements;
        ds.roads = roads;
        ds.sites = sites;
        ds.fixed_nodes = fixed;
        ds.context = context;
        ds.warnings = r.warnings.clone();
        (ds, r)
    }
}
