//! Layer builders: turn a [`RawLayer`] from any reader into model types through an attribute
//! mapping, checking every feature and collecting every problem with its file and feature/line.

use std::collections::BTreeMap;

use geo::Centroid;
use geo_types::{Geometry, LineString, MultiPolygon};

use crate::error::Location;
use crate::mapping::{
    ContextMapping, FixedNodeMapping, RegionMapping, RoadMapping, SettlementMapping, SiteFormat,
    SiteMapping,
};
use crate::model::{
    Cell, ContextCountry, FixedNode, FixedTechnology, Region, Road, RoadClass, Settlement, Site,
    Technology,
};
use crate::read::{RawFeature, RawLayer, Value};
use crate::routes::{classify_refs, RouteTable};
use crate::validate::{self, IdRegistry, Report};

/// Starts a report with what the reader already found.
fn report_for(layer: &RawLayer) -> Report {
    Report {
        errors: layer.problems.clone(),
        warnings: layer.warnings.clone(),
    }
}

/// Reports a required field the file does not have at all, once for the whole file.
/// Returns whether the field can be looked up per feature.
fn require_column(r: &mut Report, layer: &RawLayer, field: &str, what: &str) -> bool {
    if layer.open_schema || layer.fields.contains(field) || layer.features.is_empty() {
        return true;
    }
    let known: Vec<&str> = layer.fields.iter().map(String::as_str).collect();
    r.error(
        &layer.file,
        &Location::None,
        Some(field),
        format!("required field is missing (the file has: {})", if known.is_empty() { "no fields".to_string() } else { known.join(", ") }),
        format!("add a {field:?} field with {what}, or map the field that holds it in the layer's mapping"),
    );
    false
}

fn text(f: &RawFeature, field: &str) -> Option<String> {
    f.attrs.get(field).and_then(Value::as_text)
}

/// A decimal number; `Ok(None)` when absent or empty.
fn number(v: Option<&Value>) -> Result<Option<f64>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Int(i)) => Ok(Some(*i as f64)),
        Some(Value::Float(x)) => Ok(Some(*x)),
        Some(Value::Bool(b)) => Err(format!("{b} is not a number")),
        Some(Value::Text(s)) => {
            let t = s.trim();
            if t.is_empty() {
                return Ok(None);
            }
            match t.parse::<f64>() {
                Ok(x) if x.is_finite() => Ok(Some(x)),
                _ => Err(format!("{s:?} is not a number")),
            }
        }
    }
}

/// A whole, non-negative number; thousands separated by spaces (`12 500`) are accepted.
fn whole(v: Option<&Value>) -> Result<Option<u64>, String> {
    let x = match v {
        Some(Value::Text(s)) => {
            let t: String = s
                .chars()
                .filter(|c| !matches!(c, ' ' | '\u{a0}' | '\u{202f}'))
                .collect();
            if t.is_empty() {
                return Ok(None);
            }
            if let Ok(n) = t.parse::<u64>() {
                return Ok(Some(n));
            }
            match t.parse::<f64>() {
                Ok(x) if x.is_finite() => x,
                _ => return Err(format!("{s:?} is not a number")),
            }
        }
        other => match number(other)? {
            None => return Ok(None),
            Some(x) => x,
        },
    };
    if x < 0.0 {
        Err(format!("{x} is negative"))
    } else if x.fract() != 0.0 {
        Err(format!("{x} is not a whole number"))
    } else if x > u64::MAX as f64 {
        Err(format!("{x} is too large"))
    } else {
        Ok(Some(x as u64))
    }
}

/// Gets a required value, reporting missing or unparsable values at the feature.
fn required<T>(
    r: &mut Report,
    file: &str,
    f: &RawFeature,
    field: &str,
    parse: impl Fn(Option<&Value>) -> Result<Option<T>, String>,
    hint: &str,
) -> Option<T> {
    match parse(f.attrs.get(field)) {
        Ok(Some(v)) => Some(v),
        Ok(None) => {
            r.error(file, &f.location, Some(field), "value is missing", hint);
            None
        }
        Err(m) => {
            r.error(file, &f.location, Some(field), m, hint);
            None
        }
    }
}

/// Gets an optional value, reporting unparsable values at the feature.
fn optional<T>(
    r: &mut Report,
    file: &str,
    f: &RawFeature,
    field: &str,
    parse: impl Fn(Option<&Value>) -> Result<Option<T>, String>,
    hint: &str,
) -> Option<T> {
    match parse(f.attrs.get(field)) {
        Ok(v) => v,
        Err(m) => {
            r.error(file, &f.location, Some(field), m, hint);
            None
        }
    }
}

fn feature_id(
    r: &mut Report,
    layer: &RawLayer,
    f: &RawFeature,
    field: &str,
    index: usize,
    prefix: &str,
    generated: bool,
) -> Option<String> {
    if generated {
        return Some(format!("{prefix}-{index}"));
    }
    match text(f, field) {
        Some(id) => Some(id),
        None => {
            r.error(
                &layer.file,
                &f.location,
                Some(field),
                "id is missing",
                "give every feature a unique id",
            );
            None
        }
    }
}

/// Says once per file that ids were generated because the id field is absent.
fn warn_generated_ids(
    r: &mut Report,
    layer: &RawLayer,
    field: &str,
    prefix: &str,
    generated: bool,
) {
    if generated && !layer.features.is_empty() {
        r.warn(
            &layer.file,
            &Location::None,
            Some(field),
            format!("no id field; ids are generated as {prefix}-<feature index>"),
            "add an id field (or map one) so results can be joined back to your data",
        );
    }
}

/// A point location: points as is, polygons by centroid (counted in `centroids`).
fn point_of(
    r: &mut Report,
    file: &str,
    f: &RawFeature,
    centroids: &mut usize,
) -> Option<(f64, f64)> {
    match &f.geometry {
        Some(Geometry::Point(p)) => Some((p.x(), p.y())),
        Some(Geometry::MultiPoint(mp)) if mp.0.len() == 1 => Some((mp.0[0].x(), mp.0[0].y())),
        Some(g @ (Geometry::Polygon(_) | Geometry::MultiPolygon(_))) => {
            *centroids += 1;
            g.centroid().map(|c| (c.x(), c.y()))
        }
        Some(g) => {
            r.error(
                file,
                &f.location,
                Some("geometry"),
                format!("{} geometry where a point is expected", geometry_name(g)),
                "give a point (or, for settlements, a polygon whose centroid is used)",
            );
            None
        }
        None => {
            if !f.geometry_reported {
                r.error(
                    file,
                    &f.location,
                    Some("geometry"),
                    "feature has no geometry",
                    "give the feature's location",
                );
            }
            None
        }
    }
}

/// Strict point location: polygons are not accepted (sites, fixed nodes).
fn strict_point(r: &mut Report, file: &str, f: &RawFeature) -> Option<(f64, f64)> {
    match &f.geometry {
        Some(Geometry::Point(p)) => Some((p.x(), p.y())),
        Some(Geometry::MultiPoint(mp)) if mp.0.len() == 1 => Some((mp.0[0].x(), mp.0[0].y())),
        Some(g) => {
            r.error(
                file,
                &f.location,
                Some("geometry"),
                format!("{} geometry where a point is expected", geometry_name(g)),
                "give the location as a point",
            );
            None
        }
        None => {
            if !f.geometry_reported {
                r.error(
                    file,
                    &f.location,
                    Some("geometry"),
                    "feature has no geometry",
                    "give the feature's location",
                );
            }
            None
        }
    }
}

fn geometry_name(g: &Geometry<f64>) -> &'static str {
    match g {
        Geometry::Point(_) => "Point",
        Geometry::Line(_) => "Line",
        Geometry::LineString(_) => "LineString",
        Geometry::Polygon(_) => "Polygon",
        Geometry::MultiPoint(_) => "MultiPoint",
        Geometry::MultiLineString(_) => "MultiLineString",
        Geometry::MultiPolygon(_) => "MultiPolygon",
        Geometry::GeometryCollection(_) => "GeometryCollection",
        Geometry::Rect(_) => "Rect",
        Geometry::Triangle(_) => "Triangle",
    }
}

/// Builds settlements. Features without `place` (when mapped) are not settlements and are
/// skipped; features without a valid population are errors unless `skip_without_population`,
/// which skips them with warnings instead.
pub fn settlements(
    layer: &RawLayer,
    m: &SettlementMapping,
) -> (Vec<Settlement>, Vec<Location>, Report) {
    let mut r = report_for(layer);
    let file = layer.file.as_str();
    let generated_ids = !layer.open_schema && !layer.fields.contains(&m.id);
    let pop_ok = m.skip_without_population
        || require_column(&mut r, layer, &m.population, "the number of residents");
    let (mut centroids, mut skipped_pop, mut unnamed) = (0usize, 0usize, 0usize);
    let mut ids = IdRegistry::default();
    let mut out = Vec::new();
    let mut locs = Vec::new();
    for (i, f) in layer.features.iter().enumerate() {
        if let Some(place) = &m.place {
            if text(f, place).is_none() {
                continue;
            }
        }
        let population = if m.skip_without_population {
            match whole(f.attrs.get(&m.population)) {
                Ok(Some(p)) => Some(p),
                Ok(None) => {
                    skipped_pop += 1;
                    continue;
                }
                Err(e) => {
                    // Volunteered data (OSM) has free-text populations such as "~500";
                    // skipping one place is better than refusing the whole extract.
                    r.warn(
                        file,
                        &f.location,
                        Some(&m.population),
                        format!("{e}; place skipped"),
                        "give a whole number of residents",
                    );
                    continue;
                }
            }
        } else if pop_ok {
            required(
                &mut r,
                file,
                f,
                &m.population,
                whole,
                "give a whole number of residents",
            )
        } else {
            None
        };
        let households = optional(
            &mut r,
            file,
            f,
            &m.households,
            whole,
            "give a whole number of households, or leave it empty",
        );
        let id = feature_id(&mut r, layer, f, &m.id, i, "settlement", generated_ids);
        let xy = point_of(&mut r, file, f, &mut centroids);
        let (Some(id), Some(population), Some((lon, lat))) = (id, population, xy) else {
            continue;
        };
        ids.check(&mut r, file, &f.location, &m.id, &id);
        let name = text(f, &m.name).unwrap_or_else(|| {
            unnamed += 1;
            id.clone()
        });
        let s = Settlement {
            id,
            name,
            lon,
            lat,
            population,
            households,
            region: text(f, &m.region),
        };
        validate::check_settlement(&mut r, file, &f.location, &s);
        out.push(s);
        locs.push(f.location.clone());
    }
    warn_generated_ids(&mut r, layer, &m.id, "settlement", generated_ids);
    if centroids > 0 {
        r.warn(
            file,
            &Location::None,
            None,
            format!("{centroids} settlement polygon(s) placed at their centroid"),
            "give points if the centroid falls outside the built-up area",
        );
    }
    if skipped_pop > 0 {
        r.warn(
            file,
            &Location::None,
            Some(&m.population),
            format!("{skipped_pop} place(s) without population skipped"),
            "add population to places that should count, or load settlements from another source",
        );
    }
    if unnamed > 0 {
        r.warn(
            file,
            &Location::None,
            Some(&m.name),
            format!("{unnamed} settlement(s) have no name; their id is used"),
            "add names so reports are readable",
        );
    }
    (out, locs, r)
}

/// Parses an OSM-style class (`trunk`, `primary_link` …); unknown values are `Other`.
pub fn parse_road_class(s: &str) -> RoadClass {
    match s.trim().to_ascii_lowercase().trim_end_matches("_link") {
        "motorway" => RoadClass::Motorway,
        "trunk" => RoadClass::Trunk,
        "primary" => RoadClass::Primary,
        "secondary" => RoadClass::Secondary,
        "tertiary" => RoadClass::Tertiary,
        _ => RoadClass::Other,
    }
}

fn boolean(v: Option<&Value>) -> Result<Option<bool>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::Int(i)) => Ok(Some(*i != 0)),
        Some(Value::Float(x)) => Ok(Some(*x != 0.0)),
        Some(Value::Text(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "" => Ok(None),
            "true" | "yes" | "1" | "t" | "y" => Ok(Some(true)),
            "false" | "no" | "0" | "f" | "n" => Ok(Some(false)),
            _ => Err(format!("{s:?} is not true/false")),
        },
    }
}

/// Builds roads; a MultiLineString gives one road per part (ids suffixed `#<part>`).
pub fn roads(
    layer: &RawLayer,
    m: &RoadMapping,
    routes: Option<&RouteTable>,
) -> (Vec<Road>, Vec<Location>, Report) {
    let mut r = report_for(layer);
    let file = layer.file.as_str();
    let generated_ids = !layer.open_schema && !layer.fields.contains(&m.id);
    let keep: Vec<RoadClass> = m.keep_classes.iter().map(|c| parse_road_class(c)).collect();
    let mut unclassed = 0usize;
    let mut ids = IdRegistry::default();
    let mut out = Vec::new();
    let mut locs = Vec::new();
    for (i, f) in layer.features.iter().enumerate() {
        let class_text = text(f, &m.class);
        if class_text.is_none() && m.skip_without_class {
            continue;
        }
        let class = class_text
            .as_deref()
            .map_or(RoadClass::Other, parse_road_class);
        if !keep.is_empty() && !keep.contains(&class) {
            continue;
        }
        if class_text.is_none() {
            unclassed += 1;
        }
        let raw_refs: Vec<String> = [text(f, &m.route_ref), text(f, &m.int_ref)]
            .into_iter()
            .flatten()
            .collect();
        let raw_refs: Vec<&str> = raw_refs.iter().map(String::as_str).collect();
        let (refs, by_ref) = classify_refs(&raw_refs, routes);
        let flagged = optional(
            &mut r,
            file,
            f,
            &m.international,
            boolean,
            "write true or false",
        );
        let international = by_ref || flagged.unwrap_or(false);
        let id = feature_id(&mut r, layer, f, &m.id, i, "road", generated_ids);
        let parts: Vec<LineString<f64>> = match &f.geometry {
            Some(Geometry::LineString(l)) => vec![l.clone()],
            Some(Geometry::MultiLineString(ml)) => ml.0.clone(),
            Some(Geometry::Line(l)) => vec![LineString::from(vec![l.start, l.end])],
            Some(g) => {
                r.error(
                    file,
                    &f.location,
                    Some("geometry"),
                    format!("{} geometry where a line is expected", geometry_name(g)),
                    "give roads as LineString or MultiLineString",
                );
                continue;
            }
            None => {
                if !f.geometry_reported {
                    r.error(
                        file,
                        &f.location,
                        Some("geometry"),
                        "feature has no geometry",
                        "give the road's line geometry",
                    );
                }
                continue;
            }
        };
        let Some(id) = id else { continue };
        ids.check(&mut r, file, &f.location, &m.id, &id);
        let multi = parts.len() > 1;
        for (k, geometry) in parts.into_iter().enumerate() {
            let road = Road {
                id: if multi {
                    format!("{id}#{k}")
                } else {
                    id.clone()
                },
                geometry,
                class,
                refs: refs.clone(),
                international,
                name: text(f, &m.name),
            };
            validate::check_road(&mut r, file, &f.location, &road);
            out.push(road);
            locs.push(f.location.clone());
        }
    }
    warn_generated_ids(&mut r, layer, &m.id, "road", generated_ids);
    if unclassed > 0 {
        r.warn(
            file,
            &Location::None,
            Some(&m.class),
            format!("{unclassed} road(s) have no class and count as `other`"),
            "give a class (motorway, trunk, primary, secondary, tertiary)",
        );
    }
    (out, locs, r)
}

/// A feature's Polygon or MultiPolygon as a MultiPolygon; another geometry, or none, is
/// reported with the layer's own hints (`wrong`, `missing`).
fn polygon_geometry(
    r: &mut Report,
    file: &str,
    f: &RawFeature,
    wrong: &str,
    missing: &str,
) -> Option<MultiPolygon<f64>> {
    match &f.geometry {
        Some(Geometry::Polygon(p)) => Some(MultiPolygon(vec![p.clone()])),
        Some(Geometry::MultiPolygon(mp)) => Some(mp.clone()),
        Some(g) => {
            r.error(
                file,
                &f.location,
                Some("geometry"),
                format!("{} geometry where a polygon is expected", geometry_name(g)),
                wrong,
            );
            None
        }
        None => {
            if !f.geometry_reported {
                r.error(
                    file,
                    &f.location,
                    Some("geometry"),
                    "feature has no geometry",
                    missing,
                );
            }
            None
        }
    }
}

/// Builds regions (Polygon or MultiPolygon boundaries).
pub fn regions(layer: &RawLayer, m: &RegionMapping) -> (Vec<Region>, Vec<Location>, Report) {
    let mut r = report_for(layer);
    let file = layer.file.as_str();
    let code_ok = require_column(
        &mut r,
        layer,
        &m.code,
        "the region's ISO 3166-2 code (e.g. UZ-SA)",
    );
    let mut ids = IdRegistry::default();
    let mut out = Vec::new();
    let mut locs = Vec::new();
    for f in &layer.features {
        let code = if code_ok {
            required(
                &mut r,
                file,
                f,
                &m.code,
                |v| Ok(v.and_then(Value::as_text)),
                "give the region's ISO 3166-2 code, e.g. UZ-SA",
            )
        } else {
            None
        };
        let geometry = polygon_geometry(
            &mut r,
            file,
            f,
            "give region boundaries as Polygon or MultiPolygon",
            "give the region's boundary",
        );
        let (Some(code), Some(geometry)) = (code, geometry) else {
            continue;
        };
        ids.check(&mut r, file, &f.location, &m.code, &code);
        validate::check_multipolygon(&mut r, file, &f.location, &geometry);
        let name_en = text(f, &m.name_en).unwrap_or_else(|| code.clone());
        locs.push(f.location.clone());
        out.push(Region {
            code,
            name_en,
            name_local: text(f, &m.name_local),
            name_ru: text(f, &m.name_ru),
            geometry,
        });
    }
    (out, locs, r)
}

/// Builds the neighbouring-country context layer (map background): one country per feature,
/// Polygon or MultiPolygon; two features with the same code are merged into one country.
pub fn context(
    layer: &RawLayer,
    m: &ContextMapping,
) -> (Vec<ContextCountry>, Vec<Location>, Report) {
    let mut r = report_for(layer);
    let file = layer.file.as_str();
    let code_ok = require_column(
        &mut r,
        layer,
        &m.iso_a2,
        "the country's ISO 3166-1 alpha-2 code (e.g. KZ)",
    );
    let mut out: Vec<ContextCountry> = Vec::new();
    let mut locs = Vec::new();
    for f in &layer.features {
        let code = if code_ok {
            required(
                &mut r,
                file,
                f,
                &m.iso_a2,
                |v| Ok(v.and_then(Value::as_text)),
                "give the country's ISO 3166-1 alpha-2 code, e.g. KZ",
            )
        } else {
            None
        };
        let geometry = polygon_geometry(
            &mut r,
            file,
            f,
            "give country outlines as Polygon or MultiPolygon",
            "give the country's outline",
        );
        let (Some(code), Some(geometry)) = (code, geometry) else {
            continue;
        };
        validate::check_multipolygon(&mut r, file, &f.location, &geometry);
        let name_en = text(f, &m.name_en).unwrap_or_else(|| code.clone());
        if let Some(c) = out.iter_mut().find(|c| c.iso_a2 == code) {
            c.geometry.0.extend(geometry.0);
            continue;
        }
        locs.push(f.location.clone());
        out.push(ContextCountry {
            iso_a2: code,
            name_en,
            geometry,
        });
    }
    (out, locs, r)
}

fn technology(v: Option<&Value>) -> Result<Option<Technology>, String> {
    match v.and_then(Value::as_text) {
        None => Ok(None),
        Some(t) => Technology::parse(&t)
            .map(Some)
            .ok_or_else(|| format!("{t:?} is not a known technology")),
    }
}

const TECH_HINT: &str = "give 2g, 3g, 4g or 5g (GSM, UMTS, LTE and NR are understood)";

/// True when a layer looks like OpenCelliD's export.
pub fn is_opencellid(layer: &RawLayer) -> bool {
    ["radio", "mcc", "net", "cell"]
        .iter()
        .all(|c| layer.fields.contains(*c))
}

/// Builds sites from one-row-per-cell data (grouped by site id) or from OpenCelliD rows.
pub fn sites(layer: &RawLayer, m: &SiteMapping) -> (Vec<Site>, Vec<Location>, Report) {
    let (s, locs, _cells, r) = sites_and_cells(layer, m);
    (s, locs, r)
}

/// Like [`sites`], also giving the location of every cell (sites in order, cells in order
/// within each), so a bad cell value is reported at its own row.
pub fn sites_and_cells(
    layer: &RawLayer,
    m: &SiteMapping,
) -> (Vec<Site>, Vec<Location>, Vec<Location>, Report) {
    let opencellid = match m.format {
        SiteFormat::Opencellid => true,
        SiteFormat::Cells => false,
        SiteFormat::Auto => is_opencellid(layer),
    };
    if opencellid {
        let (s, locs, r) = opencellid_sites(layer, m);
        // One cell per row, so each cell is where its site is.
        let cells = locs.clone();
        return (s, locs, cells, r);
    }
    let mut r = report_for(layer);
    let file = layer.file.as_str();
    let mut ok = true;
    for (field, what) in [
        (&m.site_id, "the site id shared by the site's cells"),
        (&m.height, "the antenna height above ground in metres"),
        (&m.technology, "the cell technology (2g…5g)"),
        (&m.band, "the carrier frequency in MHz"),
        (&m.eirp, "the EIRP in dBm"),
    ] {
        ok &= require_column(&mut r, layer, field, what);
    }
    if !ok {
        return (Vec::new(), Vec::new(), Vec::new(), r);
    }
    // Sites in first-seen order, each with the location of its first row and of every cell.
    let mut order: Vec<String> = Vec::new();
    let mut by_id: BTreeMap<String, (Site, Location, Vec<Location>)> = BTreeMap::new();
    for f in &layer.features {
        let site_id = required(
            &mut r,
            file,
            f,
            &m.site_id,
            |v| Ok(v.and_then(Value::as_text)),
            "give the id of the site this cell belongs to",
        );
        let height = required(
            &mut r,
            file,
            f,
            &m.height,
            number,
            "give the antenna height above ground in metres",
        );
        let tech = required(&mut r, file, f, &m.technology, technology, TECH_HINT);
        let band = required(
            &mut r,
            file,
            f,
            &m.band,
            number,
            "give the carrier frequency in MHz, e.g. 1800",
        );
        let eirp = required(
            &mut r,
            file,
            f,
            &m.eirp,
            number,
            "give the EIRP in dBm, e.g. 60",
        );
        let azimuth = optional(
            &mut r,
            file,
            f,
            &m.azimuth,
            number,
            "give degrees from north, or leave empty for omni",
        );
        let beamwidth = optional(
            &mut r,
            file,
            f,
            &m.beamwidth,
            number,
            "give degrees, or leave empty for omni",
        );
        let tilt = optional(
            &mut r,
            file,
            f,
            &m.tilt,
            number,
            "give degrees of downtilt, or leave empty",
        );
        let xy = strict_point(&mut r, file, f);
        let (
            Some(site_id),
            Some(height_m),
            Some(technology),
            Some(band_mhz),
            Some(eirp_dbm),
            Some((lon, lat)),
        ) = (site_id, height, tech, band, eirp, xy)
        else {
            continue;
        };
        let cell = Cell {
            technology,
            band_mhz,
            eirp_dbm,
            azimuth_deg: azimuth,
            beamwidth_deg: beamwidth,
            tilt_deg: tilt,
        };
        // The cell's values are judged at its own row, not at its site's first one.
        let ci = by_id.get(&site_id).map_or(0, |(s, _, _)| s.cells.len());
        validate::check_cell(&mut r, file, &f.location, ci, &cell);
        match by_id.get_mut(&site_id) {
            Some((site, first, cell_locs)) => {
                if (site.lon - lon).abs() > 1e-6
                    || (site.lat - lat).abs() > 1e-6
                    || (site.height_m - height_m).abs() > 1e-6
                {
                    r.error(
                        file,
                        &f.location,
                        Some(&m.site_id),
                        format!("site {site_id:?} has location/height ({lon}, {lat}, {height_m} m) but ({}, {}, {} m) at {first}", site.lon, site.lat, site.height_m),
                        "give all cells of a site the same coordinates and height, or give them different site ids",
                    );
                }
                site.cells.push(cell);
                cell_locs.push(f.location.clone());
            }
            None => {
                order.push(site_id.clone());
                let site = Site {
                    id: site_id.clone(),
                    lon,
                    lat,
                    height_m,
                    operator: text(f, &m.operator),
                    cells: vec![cell],
                };
                by_id.insert(
                    site_id,
                    (site, f.location.clone(), vec![f.location.clone()]),
                );
            }
        }
    }
    let mut out = Vec::with_capacity(order.len());
    let mut locs = Vec::with_capacity(order.len());
    let mut cells = Vec::new();
    for id in order {
        if let Some((site, loc, cell_locs)) = by_id.remove(&id) {
            validate::check_site_alone(&mut r, file, &loc, &site);
            out.push(site);
            locs.push(loc);
            cells.extend(cell_locs);
        }
    }
    (out, locs, cells, r)
}

fn opencellid_sites(layer: &RawLayer, m: &SiteMapping) -> (Vec<Site>, Vec<Location>, Report) {
    let mut r = report_for(layer);
    let file = layer.file.as_str();
    let d = &m.opencellid;
    let mut ids = IdRegistry::default();
    let mut out = Vec::new();
    let mut locs = Vec::new();
    for f in &layer.features {
        let tech = required(&mut r, file, f, "radio", technology, TECH_HINT);
        let key: Vec<String> = ["mcc", "net", "area", "cell"]
            .iter()
            .map(|k| text(f, k).unwrap_or_default())
            .collect();
        let xy = strict_point(&mut r, file, f);
        let (Some(technology), Some((lon, lat))) = (tech, xy) else {
            continue;
        };
        let id = key.join("-");
        ids.check(&mut r, file, &f.location, "cell", &id);
        let site = Site {
            id,
            lon,
            lat,
            height_m: d.height_m,
            operator: Some(format!("{}-{}", key[0], key[1])),
            cells: vec![Cell {
                technology,
                band_mhz: d.band_mhz(technology),
                eirp_dbm: d.eirp_dbm(technology),
                azimuth_deg: None,
                beamwidth_deg: None,
                tilt_deg: None,
            }],
        };
        validate::check_site(&mut r, file, &f.location, &site);
        out.push(site);
        locs.push(f.location.clone());
    }
    if !out.is_empty() {
        r.warn(
            file,
            &Location::None,
            None,
            format!("{} OpenCelliD cell(s) became omni sites with default height {} m and per-technology EIRP/band (OpenCelliD carries no antenna data)", out.len(), d.height_m),
            "give a cells CSV with real heights, EIRP and azimuths for accurate coverage, or tune [opencellid] defaults",
        );
    }
    (out, locs, r)
}

fn fixed_technology(v: Option<&Value>) -> Result<Option<FixedTechnology>, String> {
    match v.and_then(Value::as_text) {
        None => Ok(None),
        Some(t) => FixedTechnology::parse(&t)
            .map(Some)
            .ok_or_else(|| format!("{t:?} is not a known access technology")),
    }
}

fn ports(v: Option<&Value>) -> Result<Option<u32>, String> {
    match whole(v)? {
        None => Ok(None),
        Some(n) => u32::try_from(n)
            .map(Some)
            .map_err(|_| format!("{n} is too large for a port count")),
    }
}

/// Builds fixed-broadband nodes.
pub fn fixed_nodes(
    layer: &RawLayer,
    m: &FixedNodeMapping,
) -> (Vec<FixedNode>, Vec<Location>, Report) {
    let mut r = report_for(layer);
    let file = layer.file.as_str();
    let mut ok = true;
    for (field, what) in [
        (&m.id, "a unique node id"),
        (
            &m.technology,
            "the access technology (ftth, dsl, docsis, fwa)",
        ),
        (&m.ports_total, "the installed subscriber ports"),
        (&m.ports_used, "the subscriber ports in use"),
    ] {
        ok &= require_column(&mut r, layer, field, what);
    }
    if !ok {
        return (Vec::new(), Vec::new(), r);
    }
    let mut ids = IdRegistry::default();
    let mut out = Vec::new();
    let mut locs = Vec::new();
    for f in &layer.features {
        let id = required(
            &mut r,
            file,
            f,
            &m.id,
            |v| Ok(v.and_then(Value::as_text)),
            "give every node a unique id",
        );
        let tech = required(
            &mut r,
            file,
            f,
            &m.technology,
            fixed_technology,
            "give ftth, dsl, docsis or fwa (GPON, VDSL, cable … are understood)",
        );
        let total = required(
            &mut r,
            file,
            f,
            &m.ports_total,
            ports,
            "give a whole number of installed ports",
        );
        let used = required(
            &mut r,
            file,
            f,
            &m.ports_used,
            ports,
            "give a whole number of ports in use",
        );
        let xy = strict_point(&mut r, file, f);
        let (Some(id), Some(technology), Some(ports_total), Some(ports_used), Some((lon, lat))) =
            (id, tech, total, used, xy)
        else {
            continue;
        };
        ids.check(&mut r, file, &f.location, &m.id, &id);
        let node = FixedNode {
            id,
            lon,
            lat,
            kind: text(f, &m.kind).unwrap_or_else(|| technology.as_str().to_owned()),
            technology,
            ports_total,
            ports_used,
        };
        validate::check_fixed_node(&mut r, file, &f.location, &node);
        out.push(node);
        locs.push(f.location.clone());
    }
    (out, locs, r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read;

    fn csv(src: &str) -> RawLayer {
        read::csv::read_bytes("t.csv", src.as_bytes(), ("lon", "lat"))
    }

    #[test]
    fn whole_numbers() {
        assert_eq!(whole(Some(&Value::Text("12 500".into()))), Ok(Some(12500)));
        assert_eq!(whole(Some(&Value::Float(3.0))), Ok(Some(3)));
        assert_eq!(
            whole(Some(&Value::Text("abc".into()))),
            Err("\"abc\" is not a number".into())
        );
        assert_eq!(
            whole(Some(&Value::Text("-5".into()))),
            Err("-5 is negative".into())
        );
        assert_eq!(
            whole(Some(&Value::Text("2.5".into()))),
            Err("2.5 is not a whole number".into())
        );
        assert_eq!(whole(None), Ok(None));
    }

    #[test]
    fn sites_group_cells_and_report_inconsistent_rows() {
        let l = csv("site_id,lon,lat,height_m,operator,technology,band_mhz,eirp_dbm,azimuth_deg,beamwidth_deg,tilt_deg\n\
            s1,69.2,41.3,30,op,LTE,1800,61,0,65,2\n\
            s1,69.2,41.3,30,op,4g,1800,61,120,65,2\n\
            s2,69.3,41.3,25,op,gsm,900,58,,,\n\
            s2,69.4,41.3,25,op,gsm,900,58,,,\n");
        let (sites, _, r) = sites(&l, &SiteMapping::default());
        assert_eq!(sites.len(), 2);
        assert_eq!(sites[0].cells.len(), 2);
        assert_eq!(sites[1].cells[0].azimuth_deg, None);
        let s = r.errors.to_string();
        assert!(s.contains("t.csv: line 5: field \"site_id\": site \"s2\" has location/height (69.4, 41.3, 25 m) but (69.3, 41.3, 25 m) at line 4"), "{s}");
    }

    #[test]
    fn opencellid_rows_become_omni_sites_with_a_warning() {
        let l = csv("radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal\n\
            LTE,434,5,100,12345,0,69.24,41.30,1000,10,1,0,0,0\n\
            GSM,434,4,200,777,0,69.30,41.31,3000,5,1,0,0,0\n");
        let (sites, _, r) = sites(&l, &SiteMapping::default());
        assert!(r.errors.is_empty(), "{}", r.errors);
        assert_eq!(sites.len(), 2);
        assert_eq!(sites[0].id, "434-5-100-12345");
        assert_eq!(sites[0].cells[0].technology, Technology::G4);
        assert_eq!(sites[0].cells[0].eirp_dbm, 61.0);
        assert_eq!(sites[1].cells[0].band_mhz, 900.0);
        assert_eq!(r.warnings.len(), 1);
        assert!(
            r.warnings[0]
                .message
                .contains("2 OpenCelliD cell(s) became omni sites"),
            "{:?}",
            r.warnings
        );
    }

    #[test]
    fn road_classes() {
        assert_eq!(parse_road_class("trunk_link"), RoadClass::Trunk);
        assert_eq!(parse_road_class("Primary"), RoadClass::Primary);
        assert_eq!(parse_road_class("residential"), RoadClass::Other);
    }
}
