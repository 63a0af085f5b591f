//! Validation rules for every layer, shared by the readers (which report problems at the
//! feature or CSV line they came from) and by [`validate`] on an already built [`Dataset`]
//! (which reports the layer item and its id).
//!
//! # Errors and warnings
//! Errors stop loading; warnings are counted and shown but the data is used as given.
//!
//! | rule | error | warning |
//! |---|---|---|
//! | coordinates | not finite, lon ∉ [-180, 180], lat ∉ [-90, 90] | — |
//! | point geometry | missing, or not a point (settlement polygons use their centroid: warning) | polygon → centroid |
//! | line | fewer than 2 distinct points | — |
//! | polygon | empty, ring not closed or < 4 positions, self-intersection, overlapping parts | — |
//! | ids | empty or duplicate within a layer | — |
//! | required attribute | missing, not a number, negative, fraction where a whole number is needed | — |
//! | population | > 1,000,000,000 ([`MAX_POPULATION`]) | 0 (counts nothing) |
//! | antenna height | ≤ 0 m or > 1,000 m | < 3 m or > 200 m |
//! | EIRP | < 0 dBm or > 100 dBm | outside 20–80 dBm |
//! | band | ≤ 0 MHz or > 100,000 MHz | outside 400–7,200 MHz and 24–53 GHz |
//! | azimuth / beamwidth / tilt | azimuth ∉ [0, 360], beamwidth ∉ (0, 360], tilt ∉ [-90, 90] | tilt ∉ [-10, 20] |
//! | site | no cells | — |
//! | fixed node | ports_used > ports_total | ports_total = 0 |
//! | DEM (when required) | settlement, site or road vertex outside the DEM or on no-data | — |

use std::collections::HashMap;

use geo::Validation;
use geo_types::{LineString, MultiPolygon};

use crate::dataset::Dataset;
use crate::dem::Dem;
use crate::error::{GeodataError, Location, Problem, Problems, Warning};
use crate::model::{Cell, FixedNode, Road, Settlement, Site};

/// Errors and warnings collected in one pass.
#[derive(Debug, Default, Clone)]
pub struct Report {
    pub errors: Problems,
    pub warnings: Vec<Warning>,
}

impl Report {
    pub fn error(
        &mut self,
        file: &str,
        loc: &Location,
        field: Option<&str>,
        msg: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.errors
            .push(Problem::new(file, loc.clone(), field, msg, hint));
    }

    pub fn warn(
        &mut self,
        file: &str,
        loc: &Location,
        field: Option<&str>,
        msg: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.warnings
            .push(Problem::new(file, loc.clone(), field, msg, hint));
    }

    pub fn merge(&mut self, other: Report) {
        self.errors.extend(other.errors);
        self.warnings.extend(other.warnings);
    }
}

/// Checks a lon/lat pair; returns the complaint, if any.
pub fn check_lonlat(lon: f64, lat: f64) -> Option<String> {
    if !lon.is_finite() || !lat.is_finite() {
        Some(format!("coordinates ({lon}, {lat}) are not finite numbers"))
    } else if !(-180.0..=180.0).contains(&lon) {
        Some(format!("longitude {lon} is outside -180..180"))
    } else if !(-90.0..=90.0).contains(&lat) {
        Some(format!("latitude {lat} is outside -90..90"))
    } else {
        None
    }
}

const COORD_HINT: &str = "give WGS84 longitude/latitude in decimal degrees (lon first); if the file is in another CRS, declare it so it is reprojected";

pub(crate) fn check_point(r: &mut Report, file: &str, loc: &Location, lon: f64, lat: f64) {
    if let Some(m) = check_lonlat(lon, lat) {
        r.error(file, loc, Some("geometry"), m, COORD_HINT);
    }
}

/// A road line: finite, in range, at least 2 distinct points.
pub(crate) fn check_line(r: &mut Report, file: &str, loc: &Location, line: &LineString<f64>) {
    if let Some((i, m)) = line
        .0
        .iter()
        .enumerate()
        .find_map(|(i, c)| check_lonlat(c.x, c.y).map(|m| (i, m)))
    {
        r.error(
            file,
            loc,
            Some("geometry"),
            format!("vertex {i}: {m}"),
            COORD_HINT,
        );
        return;
    }
    let distinct = line.0.windows(2).any(|w| w[0] != w[1]);
    if line.0.len() < 2 || !distinct {
        r.error(
            file,
            loc,
            Some("geometry"),
            format!(
                "line has {} distinct point(s); a road needs at least 2",
                if line.0.is_empty() { 0 } else { 1 }
            ),
            "remove the feature or give its full geometry",
        );
    }
}

/// A region boundary: non-empty, coordinates in range, valid per OGC simple-features rules
/// (rings of ≥ 4 points, no self-intersection, parts not overlapping).
pub(crate) fn check_multipolygon(
    r: &mut Report,
    file: &str,
    loc: &Location,
    mp: &MultiPolygon<f64>,
) {
    use geo::CoordsIter;
    if mp.0.is_empty() {
        r.error(
            file,
            loc,
            Some("geometry"),
            "boundary is empty",
            "give the region's polygon(s)",
        );
        return;
    }
    if let Some((i, m)) = mp
        .coords_iter()
        .enumerate()
        .find_map(|(i, c)| check_lonlat(c.x, c.y).map(|m| (i, m)))
    {
        r.error(
            file,
            loc,
            Some("geometry"),
            format!("vertex {i}: {m}"),
            COORD_HINT,
        );
        return;
    }
    for (pi, p) in mp.0.iter().enumerate() {
        for (ri, ring) in std::iter::once(p.exterior())
            .chain(p.interiors())
            .enumerate()
        {
            if ring.0.len() < 4 {
                r.error(
                    file,
                    loc,
                    Some("geometry"),
                    format!(
                        "polygon {pi} ring {ri} has {} positions; a ring needs at least 4",
                        ring.0.len()
                    ),
                    "fix the geometry (QGIS \"Fix geometries\", ogr2ogr -makevalid)",
                );
                return;
            }
        }
    }
    if let Err(e) = mp.check_validation() {
        r.error(
            file,
            loc,
            Some("geometry"),
            format!("invalid polygon: {e}"),
            "fix the geometry (QGIS \"Fix geometries\", ogr2ogr -makevalid)",
        );
    }
}

/// Most residents one settlement may have (the largest cities have a few tens of millions).
/// The bound also keeps every sum of populations far from `u64::MAX`, so totals never
/// overflow whatever the number of settlements.
pub const MAX_POPULATION: u64 = 1_000_000_000;

pub(crate) fn check_settlement(r: &mut Report, file: &str, loc: &Location, s: &Settlement) {
    check_point(r, file, loc, s.lon, s.lat);
    if s.population > MAX_POPULATION {
        r.error(
            file,
            loc,
            Some("population"),
            format!(
                "population {} is more than any settlement has (at most {MAX_POPULATION})",
                s.population
            ),
            "give the number of residents; check the column is not a code or an area",
        );
    } else if s.population == 0 {
        r.warn(
            file,
            loc,
            Some("population"),
            "population is 0, so this settlement counts nothing",
            "give its number of residents, or remove it",
        );
    }
    if let Some(h) = s.households {
        if h > s.population && s.population > 0 {
            r.warn(
                file,
                loc,
                Some("households"),
                format!("{h} households for {} residents", s.population),
                "check the households and population columns are not swapped",
            );
        }
    }
}

pub(crate) fn check_road(r: &mut Report, file: &str, loc: &Location, road: &Road) {
    check_line(r, file, loc, &road.geometry);
}

/// A site and every cell, all reported at `loc`.
pub(crate) fn check_site(r: &mut Report, file: &str, loc: &Location, s: &Site) {
    check_site_alone(r, file, loc, s);
    for (ci, c) in s.cells.iter().enumerate() {
        check_cell(r, file, loc, ci, c);
    }
}

/// The site's own values (position, height, having cells), not its cells'.
pub(crate) fn check_site_alone(r: &mut Report, file: &str, loc: &Location, s: &Site) {
    check_point(r, file, loc, s.lon, s.lat);
    let h = s.height_m;
    if !h.is_finite() || h <= 0.0 || h > 1000.0 {
        r.error(
            file,
            loc,
            Some("height_m"),
            format!("antenna height {h} m is not plausible"),
            "give the antenna height above ground in metres (typically 15–60 m)",
        );
    } else if !(3.0..=200.0).contains(&h) {
        r.warn(
            file,
            loc,
            Some("height_m"),
            format!("antenna height {h} m is unusual"),
            "check the unit is metres above ground, not above sea level or feet",
        );
    }
    if s.cells.is_empty() {
        r.error(
            file,
            loc,
            None,
            "site has no cells",
            "give at least one cell (technology, band, EIRP) for the site",
        );
    }
}

/// Cell `ci` of a site, reported at `loc` (its own CSV line when the site comes from a file
/// with one row per cell).
pub(crate) fn check_cell(r: &mut Report, file: &str, loc: &Location, ci: usize, c: &Cell) {
    // 1-based, as the cells of a site are counted in its rows.
    let cell = format!("cell {}", ci + 1);
    let e = c.eirp_dbm;
    if !e.is_finite() || !(0.0..=100.0).contains(&e) {
        r.error(
            file,
            loc,
            Some("eirp_dbm"),
            format!("{}: EIRP {e} dBm is not plausible", cell),
            "give the EIRP in dBm (transmit power + antenna gain − losses, typically 50–65 dBm)",
        );
    } else if !(20.0..=80.0).contains(&e) {
        r.warn(
            file,
            loc,
            Some("eirp_dbm"),
            format!("{}: EIRP {e} dBm is unusual", cell),
            "check the unit is dBm (not dBW or watts)",
        );
    }
    let b = c.band_mhz;
    if !b.is_finite() || b <= 0.0 || b > 100_000.0 {
        r.error(
            file,
            loc,
            Some("band_mhz"),
            format!("{}: band {b} MHz is not plausible", cell),
            "give the carrier frequency in MHz, e.g. 900, 1800, 2100, 3500",
        );
    } else if !((400.0..=7200.0).contains(&b) || (24_000.0..=53_000.0).contains(&b)) {
        r.warn(
            file,
            loc,
            Some("band_mhz"),
            format!("{}: band {b} MHz is outside the usual mobile bands", cell),
            "check the unit is MHz (not GHz or kHz)",
        );
    }
    if let Some(a) = c.azimuth_deg {
        if !a.is_finite() || !(0.0..=360.0).contains(&a) {
            r.error(
                file,
                loc,
                Some("azimuth_deg"),
                format!("{}: azimuth {a}° is outside 0–360", cell),
                "give degrees clockwise from true north, or leave empty for an omni antenna",
            );
        }
    }
    if let Some(bw) = c.beamwidth_deg {
        if !bw.is_finite() || bw <= 0.0 || bw > 360.0 {
            r.error(file, loc, Some("beamwidth_deg"), format!("{}: beamwidth {bw}° is outside (0, 360]", cell), "give the horizontal half-power beamwidth in degrees (typically 65), or leave empty for omni");
        }
    }
    if let Some(t) = c.tilt_deg {
        if !t.is_finite() || !(-90.0..=90.0).contains(&t) {
            r.error(
                file,
                loc,
                Some("tilt_deg"),
                format!("{}: tilt {t}° is outside -90..90", cell),
                "give the downtilt in degrees below the horizon (typically 0–10)",
            );
        } else if !(-10.0..=20.0).contains(&t) {
            r.warn(
                file,
                loc,
                Some("tilt_deg"),
                format!("{}: tilt {t}° is unusual", cell),
                "check the sign (positive = down) and unit (degrees)",
            );
        }
    }
}

pub(crate) fn check_fixed_node(r: &mut Report, file: &str, loc: &Location, n: &FixedNode) {
    check_point(r, file, loc, n.lon, n.lat);
    if n.ports_used > n.ports_total {
        r.error(
            file,
            loc,
            Some("ports_used"),
            format!(
                "ports_used {} exceeds ports_total {}",
                n.ports_used, n.ports_total
            ),
            "check the two columns; ports in use cannot exceed ports installed",
        );
    }
    if n.ports_total == 0 {
        r.warn(
            file,
            loc,
            Some("ports_total"),
            "node has no ports",
            "give the installed subscriber ports, or remove the node",
        );
    }
}

/// Tracks ids of one layer and reports every repeat with where the id was first seen.
#[derive(Debug, Default)]
pub(crate) struct IdRegistry {
    seen: HashMap<String, Location>,
}

impl IdRegistry {
    pub fn check(&mut self, r: &mut Report, file: &str, loc: &Location, field: &str, id: &str) {
        if id.trim().is_empty() {
            r.error(
                file,
                loc,
                Some(field),
                "id is empty",
                "give every feature a unique id",
            );
            return;
        }
        match self.seen.get(id) {
            Some(first) => r.error(
                file,
                loc,
                Some(field),
                format!("duplicate id {id:?} (first at {first})"),
                "give every feature a unique id",
            ),
            None => {
                self.seen.insert(id.to_owned(), loc.clone());
            }
        }
    }
}

fn label(dataset: &Dataset, layer: &str) -> String {
    dataset
        .sources
        .get(layer)
        .cloned()
        .unwrap_or_else(|| format!("{layer} layer"))
}

/// Locates item `i` of a layer: its feature/line when the dataset records origins for every
/// item (loaded from files), else its index and id.
fn locator<'a>(
    dataset: &'a Dataset,
    layer: &str,
    len: usize,
) -> impl Fn(usize, &str) -> Location + 'a {
    let origins = dataset.origins.get(layer).filter(|v| v.len() == len);
    move |index, id| match origins {
        Some(v) => v[index].clone(),
        None => Location::Item {
            index,
            id: id.to_owned(),
        },
    }
}

/// Every check on every item of `dataset` (coordinates, geometries, ids, value ranges), plus
/// DEM coverage of all targets when `dem_required`.
pub fn check_dataset(dataset: &Dataset, dem_required: bool) -> Report {
    let mut r = Report::default();
    let f = label(dataset, "regions");
    let item = locator(dataset, "regions", dataset.regions.len());
    let mut ids = IdRegistry::default();
    for (i, x) in dataset.regions.iter().enumerate() {
        let loc = item(i, &x.code);
        ids.check(&mut r, &f, &loc, "code", &x.code);
        check_multipolygon(&mut r, &f, &loc, &x.geometry);
    }
    let f = label(dataset, "settlements");
    let item = locator(dataset, "settlements", dataset.settlements.len());
    let mut ids = IdRegistry::default();
    for (i, x) in dataset.settlements.iter().enumerate() {
        let loc = item(i, &x.id);
        ids.check(&mut r, &f, &loc, "id", &x.id);
        check_settlement(&mut r, &f, &loc, x);
    }
    let f = label(dataset, "roads");
    let item = locator(dataset, "roads", dataset.roads.len());
    let mut ids = IdRegistry::default();
    for (i, x) in dataset.roads.iter().enumerate() {
        let loc = item(i, &x.id);
        ids.check(&mut r, &f, &loc, "id", &x.id);
        check_road(&mut r, &f, &loc, x);
    }
    let f = label(dataset, "sites");
    let item = locator(dataset, "sites", dataset.sites.len());
    let mut ids = IdRegistry::default();
    let n_cells: usize = dataset.sites.iter().map(|s| s.cells.len()).sum();
    let cell_origins = dataset
        .origins
        .get("site_cells")
        .filter(|v| v.len() == n_cells);
    let mut next_cell = 0;
    for (i, x) in dataset.sites.iter().enumerate() {
        let loc = item(i, &x.id);
        ids.check(&mut r, &f, &loc, "site_id", &x.id);
        check_site_alone(&mut r, &f, &loc, x);
        for (ci, c) in x.cells.iter().enumerate() {
            // Each cell at its own row when the file had one row per cell.
            let cloc = cell_origins.map_or(&loc, |v| &v[next_cell + ci]);
            check_cell(&mut r, &f, cloc, ci, c);
        }
        next_cell += x.cells.len();
    }
    let f = label(dataset, "fixed_nodes");
    let item = locator(dataset, "fixed_nodes", dataset.fixed_nodes.len());
    let mut ids = IdRegistry::default();
    for (i, x) in dataset.fixed_nodes.iter().enumerate() {
        let loc = item(i, &x.id);
        ids.check(&mut r, &f, &loc, "id", &x.id);
        check_fixed_node(&mut r, &f, &loc, x);
    }
    if dem_required {
        r.merge(check_dem_coverage(dataset));
    }
    r
}

/// Targets (settlements, sites, every road vertex) that fall outside the DEM or on no-data.
/// A missing DEM is itself the one error when one is required.
pub fn check_dem_coverage(dataset: &Dataset) -> Report {
    let mut r = Report::default();
    let Some(dem) = &dataset.dem else {
        r.error(
            "dem",
            &Location::None,
            None,
            "a DEM is required but none is loaded",
            "give a DEM (GeoTIFF, SRTM .hgt) covering every settlement, site and road",
        );
        return r;
    };
    let hint = |dem: &Dem| {
        format!("use a DEM that covers the whole area (this one, {}, spans lon {:.4}..{:.4}, lat {:.4}..{:.4}) or remove targets outside it", dem.source, dem.west_deg, dem.east_deg(), dem.south_deg(), dem.north_deg)
    };
    let outside = |lon: f64, lat: f64| dem.elevation_m(lon, lat).is_none();
    let f = label(dataset, "settlements");
    let item = locator(dataset, "settlements", dataset.settlements.len());
    for (i, s) in dataset.settlements.iter().enumerate() {
        if outside(s.lon, s.lat) {
            r.error(
                &f,
                &item(i, &s.id),
                Some("geometry"),
                format!(
                    "settlement at ({}, {}) lies outside the DEM or on no-data",
                    s.lon, s.lat
                ),
                hint(dem),
            );
        }
    }
    let f = label(dataset, "sites");
    let item = locator(dataset, "sites", dataset.sites.len());
    for (i, s) in dataset.sites.iter().enumerate() {
        if outside(s.lon, s.lat) {
            r.error(
                &f,
                &item(i, &s.id),
                Some("geometry"),
                format!(
                    "site at ({}, {}) lies outside the DEM or on no-data",
                    s.lon, s.lat
                ),
                hint(dem),
            );
        }
    }
    let f = label(dataset, "roads");
    let item = locator(dataset, "roads", dataset.roads.len());
    for (i, road) in dataset.roads.iter().enumerate() {
        let bad: Vec<_> = road
            .geometry
            .0
            .iter()
            .filter(|c| outside(c.x, c.y))
            .collect();
        if let Some(first) = bad.first() {
            r.error(
                &f,
                &item(i, &road.id),
                Some("geometry"),
                format!(
                    "{} of {} vertices lie outside the DEM or on no-data (first at ({}, {}))",
                    bad.len(),
                    road.geometry.0.len(),
                    first.x,
                    first.y
                ),
                hint(dem),
            );
        }
    }
    r
}

/// Validates a built dataset: every problem at once as [`GeodataError::Invalid`], or the
/// warnings (the dataset's own load warnings first, then those of this pass).
pub fn validate(dataset: &Dataset, dem_required: bool) -> Result<Vec<Warning>, GeodataError> {
    let r = check_dataset(dataset, dem_required);
    r.errors.into_result()?;
    // Loading already ran the item checks, so their warnings would repeat; keep one of each.
    let mut w = dataset.warnings.clone();
    for x in r.warnings {
        if !w.contains(&x) {
            w.push(x);
        }
    }
    Ok(w)
}
