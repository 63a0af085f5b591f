//! Input stage: loads the dataset a config names and runs every input check on it, the one
//! path `planner validate`, `analyze`, `plan` and `report` share, so what `validate` reports
//! the others refuse (or, where `[analysis] outside_dem = "skip"` says so, count and name).
//!
//! Beyond the per-layer rules of [`geodata::validate`] (coordinates, geometries, ids, value
//! ranges, DEM coverage when the model needs terrain), the checks that need the whole dataset:
//!
//! | check | error | warning |
//! |---|---|---|
//! | swapped coordinates | a settlement, site or fixed node outside every region and the DEM that would lie inside once latitude and longitude are exchanged | — |
//! | region code | a settlement's `region` is not the code of any region | — |
//! | region attribute vs. geometry | a settlement lies more than [`REGION_TOLERANCE_M`] outside the region its attribute names, inside another one | — |
//! | outside the DEM (terrain model) | any target or site, with `outside_dem = "error"` (default) | their count, with `outside_dem = "skip"` |

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{bail, Context};
use geo::{Distance, Euclidean};
use geodata::{Dataset, Location, Problem, Warning};
use serde::{Deserialize, Serialize};

use crate::coverage::OutsideDem;
use crate::gaps::RegionLocator;

/// Names accepted by `inputs.embedded`.
pub const EMBEDDED_DATASETS: [&str; 1] = ["uzbekistan"];

/// Where the data comes from (`[inputs]`): an embedded dataset, or the user's files.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct InputsConfig {
    /// Name of an embedded dataset (`uzbekistan`).
    pub embedded: Option<String>,
    /// User inputs (paths and attribute mapping per layer); relative paths are resolved
    /// against the config file's folder.
    pub sources: Option<geodata::Sources>,
}

/// What the input stage needs from the config: `[inputs]`, the config's folder (relative
/// paths), `[analysis] outside_dem`, and whether the model in force needs terrain.
#[derive(Debug, Clone, Copy)]
pub struct InputOptions<'a> {
    pub inputs: &'a InputsConfig,
    pub base_dir: &'a Path,
    pub outside_dem: OutsideDem,
    pub dem_required: bool,
}

/// How far (metres, approximate) a settlement may lie outside the region its attribute names
/// before the attribute is taken to be wrong: boundaries are often simplified, so a town on a
/// border can fall just outside its own polygon.
pub const REGION_TOLERANCE_M: f64 = 2_000.0;

/// Metres per degree of latitude (mean), for the approximate distances above.
const M_PER_DEG: f64 = 111_320.0;

/// Every problem and warning of one input check.
#[derive(Debug, Clone, Default)]
pub struct InputReport {
    pub errors: Vec<Problem>,
    pub warnings: Vec<Warning>,
}

impl InputReport {
    fn dedup(&mut self) {
        // Loading and the validation pass run the same item rules; show each problem once.
        let mut seen = BTreeSet::new();
        self.errors.retain(|p| seen.insert(p.to_string()));
        let mut seen = BTreeSet::new();
        self.warnings.retain(|p| seen.insert(p.to_string()));
    }
}

/// The inputs have problems; every one is listed (the same list `planner validate` prints).
#[derive(Debug, thiserror::Error)]
#[error("{}", display_problems(.0))]
pub struct InputError(pub Vec<Problem>);

fn display_problems(ps: &[Problem]) -> String {
    let mut s = format!(
        "{} problem(s) in the inputs (`planner validate` lists the same):",
        ps.len()
    );
    for p in ps {
        s.push_str("\n  - ");
        s.push_str(&p.to_string());
    }
    s
}

/// Loads the dataset named by the config's inputs (the embedded default when none is given)
/// without checking it beyond what reading needs; relative paths are resolved against the
/// config's folder.
pub fn load_unchecked(inputs: &InputsConfig, base_dir: &Path) -> anyhow::Result<Dataset> {
    if let Some(sources) = &inputs.sources {
        return sources.load(base_dir).with_context(|| {
            format!(
                "cannot load the inputs listed in [inputs.sources] (paths relative to {})",
                base_dir.display()
            )
        });
    }
    match inputs.embedded.as_deref().unwrap_or("uzbekistan") {
        "uzbekistan" => {
            geodata::embedded::uzbekistan().context("cannot load the embedded Uzbekistan dataset")
        }
        other => bail!(
            "unknown embedded dataset `{other}`; choose one of: {}",
            EMBEDDED_DATASETS.join(", ")
        ),
    }
}

/// Loads the inputs and checks them, collecting every problem: reading problems of every file,
/// then [`check_inputs`]. The dataset is `None` only when nothing could be read at all.
pub fn load_and_check(opts: &InputOptions) -> (Option<Dataset>, InputReport) {
    let mut report = InputReport::default();
    let ds = match &opts.inputs.sources {
        Some(sources) => {
            let (ds, r) = sources.load_report(opts.base_dir);
            report.errors.extend(r.errors);
            report.warnings.extend(r.warnings);
            ds
        }
        None => match load_unchecked(opts.inputs, opts.base_dir) {
            Ok(ds) => ds,
            Err(e) => {
                report.errors.push(Problem::new(
                    "inputs",
                    Location::None,
                    None,
                    format!("{e:#}"),
                    "",
                ));
                return (None, report);
            }
        },
    };
    let checked = check_inputs(&ds, opts.outside_dem, opts.dem_required);
    report.errors.extend(checked.errors);
    report.warnings.extend(checked.warnings);
    report.dedup();
    (Some(ds), report)
}

/// Loads the inputs and refuses them when [`load_and_check`] finds any problem; the warnings
/// come back with the dataset.
pub fn load_checked(opts: &InputOptions) -> Result<(Dataset, Vec<Warning>), InputError> {
    let (ds, report) = load_and_check(opts);
    match ds {
        Some(ds) if report.errors.is_empty() => Ok((ds, report.warnings)),
        _ => Err(InputError(report.errors)),
    }
}

/// Every check on a loaded dataset: the layer rules of [`geodata::validate`] and the
/// cross-checks of this module (see the table above).
/// `outside_dem` is the `[analysis]` policy for targets outside the DEM when `dem_required`.
pub fn check_inputs(ds: &Dataset, outside_dem: OutsideDem, dem_required: bool) -> InputReport {
    let mut report = InputReport::default();
    let base = geodata::validate::check_dataset(ds, false);
    report.errors.extend(base.errors);
    let mut w = ds.warnings.clone();
    w.extend(base.warnings);
    report.warnings = w;
    if dem_required {
        let dem = geodata::validate::check_dem_coverage(ds);
        match (outside_dem, ds.dem.is_some()) {
            (OutsideDem::Skip, true) if !dem.errors.is_empty() => {
                report.warnings.push(Problem::new(
                    ds.name.clone(),
                    Location::None,
                    None,
                    format!(
                        "{} item(s) lie outside the DEM and are skipped (analysis.outside_dem = \"skip\"): their targets stay unevaluated and count as uncovered",
                        dem.errors.len()
                    ),
                    "extend the DEM, or set analysis.outside_dem = \"error\" to refuse them",
                ));
                report.warnings.extend(dem.errors);
            }
            _ => report.errors.extend(dem.errors.into_iter().map(|mut p| {
                if ds.dem.is_some() {
                    p.hint.push_str(
                        "; or set analysis.outside_dem = \"skip\" to leave them unevaluated",
                    );
                }
                p
            })),
        }
    }
    cross_checks(ds, &mut report);
    report.dedup();
    report
}

fn label(ds: &Dataset, layer: &str) -> String {
    ds.sources
        .get(layer)
        .cloned()
        .unwrap_or_else(|| format!("{layer} layer"))
}

/// Where item `i` of a layer came from: its feature/line when recorded, else index and id.
fn origin(ds: &Dataset, layer: &str, len: usize, i: usize, id: &str) -> Location {
    match ds.origins.get(layer).filter(|v| v.len() == len) {
        Some(v) => v[i].clone(),
        None => Location::Item {
            index: i,
            id: id.to_owned(),
        },
    }
}

/// Approximate distance (metres) from a point to a region's boundary, 0 inside it.
fn distance_to_region_m(region: &geodata::Region, lon: f64, lat: f64) -> f64 {
    let p = geo_types::Point::new(lon, lat);
    let deg = region
        .geometry
        .0
        .iter()
        .map(|poly| Euclidean.distance(&p, poly))
        .fold(f64::INFINITY, f64::min);
    // A degree of longitude shrinks with latitude; counting it as a degree of latitude
    // overstates the distance at most by 1 / cos(lat), which errs towards reporting.
    deg * M_PER_DEG
}

/// Checks that need several layers at once: swapped coordinates, region codes and region
/// attributes against the polygons.
fn cross_checks(ds: &Dataset, report: &mut InputReport) {
    let locator = RegionLocator::new(ds);
    let inside = |lon: f64, lat: f64| {
        locator.locate(lon, lat).is_some()
            || ds
                .dem
                .as_ref()
                .is_some_and(|d| d.elevation_m(lon, lat).is_some())
    };
    let has_area = !ds.regions.is_empty() || ds.dem.is_some();
    let mut swapped = |layer: &str, points: Vec<(f64, f64, &str)>| {
        if !has_area {
            return;
        }
        let file = label(ds, layer);
        let n = points.len();
        for (i, (lon, lat, id)) in points.into_iter().enumerate() {
            if (-90.0..=90.0).contains(&lon) && !inside(lon, lat) && inside(lat, lon) {
                report.errors.push(Problem::new(
                    file.clone(),
                    origin(ds, layer, n, i, id),
                    Some("geometry"),
                    format!(
                        "({lon}, {lat}) lies outside every region and the DEM, but ({lat}, {lon}) lies inside: latitude and longitude look swapped"
                    ),
                    "give longitude (x) first and latitude (y) second, or map the columns the other way round",
                ));
            }
        }
    };
    swapped(
        "settlements",
        ds.settlements
            .iter()
            .map(|s| (s.lon, s.lat, s.id.as_str()))
            .collect(),
    );
    swapped(
        "sites",
        ds.sites
            .iter()
            .map(|s| (s.lon, s.lat, s.id.as_str()))
            .collect(),
    );
    swapped(
        "fixed_nodes",
        ds.fixed_nodes
            .iter()
            .map(|s| (s.lon, s.lat, s.id.as_str()))
            .collect(),
    );
    if ds.regions.is_empty() {
        return;
    }
    let by_code: BTreeMap<&str, usize> = ds
        .regions
        .iter()
        .enumerate()
        .map(|(i, r)| (r.code.as_str(), i))
        .collect();
    let file = label(ds, "settlements");
    let n = ds.settlements.len();
    for (i, s) in ds.settlements.iter().enumerate() {
        let Some(code) = s.region.as_deref() else {
            continue;
        };
        let loc = || origin(ds, "settlements", n, i, &s.id);
        let Some(&ri) = by_code.get(code) else {
            let known: Vec<&str> = by_code.keys().copied().collect();
            report.errors.push(Problem::new(
                file.clone(),
                loc(),
                Some("region"),
                format!("region {code:?} is not the code of any region (known: {})", known.join(", ")),
                "give the code of the region the settlement lies in, or leave the field empty to assign it by its location",
            ));
            continue;
        };
        let Some(other) = locator.locate(s.lon, s.lat) else {
            continue;
        };
        if other == ri {
            continue;
        }
        let d = distance_to_region_m(&ds.regions[ri], s.lon, s.lat);
        if d > REGION_TOLERANCE_M {
            report.errors.push(Problem::new(
                file.clone(),
                loc(),
                Some("region"),
                format!(
                    "region {code:?} disagrees with the location ({}, {}), which lies in {} ({}), about {:.0} km outside {code}",
                    s.lon,
                    s.lat,
                    ds.regions[other].code,
                    ds.regions[other].name_en,
                    d / 1000.0
                ),
                "correct the settlement's region or its coordinates, or leave the region empty to assign it by its location",
            ));
        }
    }
}
