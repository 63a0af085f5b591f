//! Report files of `planner analyze --out DIR`: JSON summary, CSV tables, GeoJSON layers and the
//! optional coverage GeoTIFF, staged in an [`crate::output::Staging`] folder; and the analysis
//! JSON document and human summary they and stdout carry.

use std::path::Path;

use geodata::{Dataset, Technology};
use serde_json::{json, Value};

use crate::analyze::Analysis;
use crate::coverage::tech_index;
use crate::gaps;
use crate::numbers::{self, round};
use crate::output::{err, OutputError, Staging};
use crate::summary::{self, DatasetSummary};

/// Version of the analysis JSON schema (docs/analyze-json.md); bumped on breaking changes.
pub const SCHEMA_VERSION: u32 = 1;

fn csv_bytes<T: serde::Serialize>(rows: &[T], path: &Path) -> Result<Vec<u8>, OutputError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.serialize(r).map_err(|e| err(path, e))?;
    }
    w.into_inner().map_err(|e| err(path, e))
}

fn r6(v: f64) -> f64 {
    round(v, 6)
}

/// One settlement row of settlements.csv.
#[derive(serde::Serialize)]
struct SettlementRow<'a> {
    id: &'a str,
    name: &'a str,
    region: &'a str,
    lon: f64,
    lat: f64,
    population: u64,
    rx_dbm_2g: Option<f64>,
    rx_dbm_3g: Option<f64>,
    rx_dbm_4g: Option<f64>,
    rx_dbm_5g: Option<f64>,
    covered_2g: bool,
    covered_3g: bool,
    covered_4g: bool,
    covered_5g: bool,
    mobile_internet: bool,
    best_site_2g: Option<&'a str>,
    best_site_3g: Option<&'a str>,
    best_site_4g: Option<&'a str>,
    best_site_5g: Option<&'a str>,
}

fn settlement_rows<'a>(ds: &'a Dataset, a: &'a Analysis) -> Vec<SettlementRow<'a>> {
    let c = &a.coverage;
    ds.settlements
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let best = &c.per_target[i].best;
            let rx = |t: Technology| best[tech_index(t)].map(|b| round(b.rx_dbm, 2));
            let site =
                |t: Technology| best[tech_index(t)].map(|b| ds.sites[b.site as usize].id.as_str());
            SettlementRow {
                id: &s.id,
                name: &s.name,
                region: &a.gaps.settlement_region[i],
                lon: s.lon,
                lat: s.lat,
                population: s.population,
                rx_dbm_2g: rx(Technology::G2),
                rx_dbm_3g: rx(Technology::G3),
                rx_dbm_4g: rx(Technology::G4),
                rx_dbm_5g: rx(Technology::G5),
                covered_2g: c.covered(i, Technology::G2),
                covered_3g: c.covered(i, Technology::G3),
                covered_4g: c.covered(i, Technology::G4),
                covered_5g: c.covered(i, Technology::G5),
                mobile_internet: c.mobile_internet(i),
                best_site_2g: site(Technology::G2),
                best_site_3g: site(Technology::G3),
                best_site_4g: site(Technology::G4),
                best_site_5g: site(Technology::G5),
            }
        })
        .collect()
}

fn feature_collection(name: &str, features: Vec<Value>) -> Vec<u8> {
    let fc = json!({
        "type": "FeatureCollection",
        "name": name,
        "crs": { "type": "name", "properties": { "name": "urn:ogc:def:crs:OGC:1.3:CRS84" } },
        "features": features,
    });
    let mut b = serde_json::to_vec(&fc).expect("JSON values always serialize");
    b.push(b'\n');
    b
}

/// Stages every report file in `out` (see [`Staging`]); the caller commits.
pub fn write_all(
    out: &mut Staging,
    ds: &Dataset,
    a: &Analysis,
    report: &Value,
    csv_on: bool,
    geojson_on: bool,
    tiff_on: bool,
) -> Result<(), OutputError> {
    let dir = out.dir().to_path_buf();
    let dir = dir.as_path();
    let mut json =
        serde_json::to_vec_pretty(report).map_err(|e| err(&dir.join("summary.json"), e))?;
    json.push(b'\n');
    out.write("summary.json", &json)?;
    let rows = settlement_rows(ds, a);
    if csv_on {
        out.write(
            "by_region.csv",
            &csv_bytes(&a.gaps.by_region, &dir.join("by_region.csv"))?,
        )?;
        out.write(
            "by_route.csv",
            &csv_bytes(&a.gaps.by_route, &dir.join("by_route.csv"))?,
        )?;
        out.write(
            "settlements.csv",
            &csv_bytes(&rows, &dir.join("settlements.csv"))?,
        )?;
    }
    if geojson_on {
        let feats: Vec<Value> = rows
            .iter()
            .map(|r| {
                let mut props = serde_json::to_value(r).expect("plain struct");
                if let Some(o) = props.as_object_mut() {
                    o.remove("lon");
                    o.remove("lat");
                }
                json!({ "type": "Feature", "geometry": { "type": "Point", "coordinates": [r6(r.lon), r6(r.lat)] }, "properties": props })
            })
            .collect();
        out.write(
            "settlements.geojson",
            &feature_collection("settlements", feats),
        )?;
        let feats: Vec<Value> = a
            .gaps
            .stretches
            .iter()
            .map(|s| {
                let coords: Vec<[f64; 2]> = s.coords.iter().map(|&(x, y)| [r6(x), r6(y)]).collect();
                json!({
                    "type": "Feature",
                    "geometry": { "type": "LineString", "coordinates": coords },
                    "properties": {
                        "service": s.service, "covered": s.covered, "road_id": s.road_id,
                        "refs": s.refs.join(";"), "international": s.international, "region": s.region,
                        "start_m": s.start_m, "length_m": s.length_m,
                    }
                })
            })
            .collect();
        out.write(
            "road_stretches.geojson",
            &feature_collection("road_stretches", feats),
        )?;
    }
    if tiff_on {
        let grid = a.targets.grid.as_ref().ok_or_else(|| {
            err(
                &dir.join("coverage.tif"),
                "no grid was evaluated: set [analysis.grid] or --grid-m",
            )
        })?;
        let start = a.targets.items.len() - grid.cols as usize * grid.rows as usize;
        let cells: Vec<[f32; 4]> = a.coverage.per_target[start..]
            .iter()
            .map(|c| c.best.map(|b| b.map_or(f32::NAN, |s| s.rx_dbm as f32)))
            .collect();
        write_tiff(out, "coverage.tif", grid, &cells, None)?;
        // A class raster per technology with a level in some class (GeoTIFF colour tables
        // belong to the first band only, hence one file each).
        for (ti, tech) in Technology::ALL.iter().enumerate() {
            if cells.iter().any(|c| super::raster::class_value(c[ti]) != 0) {
                let name = format!("coverage_class_{}.tif", tech.as_str());
                write_tiff(out, &name, grid, &cells, Some(ti))?;
            }
        }
    }
    Ok(())
}

/// Stages a coverage GeoTIFF (`class = Some(technology index)`: that technology's 10 dB class
/// raster with its colour table, else the 4-band Float32 dBm raster) as `name`.
pub fn write_tiff(
    out: &mut Staging,
    name: &str,
    grid: &crate::targets::GridSpec,
    cells: &[[f32; 4]],
    class: Option<usize>,
) -> Result<(), OutputError> {
    let path = out.staged_path(name);
    match class {
        Some(ti) => super::raster::write_class_tiff(&path, grid, cells, ti),
        None => super::raster::write_coverage_tiff(&path, grid, cells),
    }
    .map_err(|e| err(&out.dir().join(name), e))?;
    out.add(name);
    Ok(())
}

/// The analysis JSON document (schema in docs/analyze-json.md). Without timing fields, so the
/// same inputs give byte-identical output.
pub fn report_json(dataset: &DatasetSummary, analysis: Option<&Analysis>) -> Value {
    let mut doc = json!({ "schema_version": SCHEMA_VERSION, "dataset": dataset });
    if let Some(a) = analysis {
        let techs = ["2g", "3g", "4g", "5g"];
        let thr: serde_json::Map<String, Value> = techs
            .iter()
            .zip(a.settings.threshold_dbm)
            .map(|(t, v)| (t.to_string(), json!(v)))
            .collect();
        let n_road = a
            .targets
            .road_ranges
            .last()
            .map(|r| r.end)
            .unwrap_or(a.targets.settlements)
            - a.targets.settlements;
        let n_grid = a
            .targets
            .grid
            .map(|g| g.cols as u64 * g.rows as u64)
            .unwrap_or(0);
        doc["analysis"] = json!({
            "model": a.model,
            "road_step_m": a.road_step_m,
            "rx_height_m": a.settings.rx_height_m,
            "max_range_m": a.settings.max_range_cap_m,
            "threshold_dbm": thr,
            "targets": { "settlements": a.targets.settlements, "road_pieces": n_road, "grid_cells": n_grid },
            "stats": a.coverage.stats,
        });
        let mut cov = serde_json::Map::new();
        for (svc, s) in &a.gaps.services {
            cov.insert(svc.key().to_string(), json!(s));
        }
        cov.insert("by_region".into(), json!(a.gaps.by_region));
        cov.insert("by_route".into(), json!(a.gaps.by_route));
        cov.insert("headline".into(), json!(a.gaps.headline));
        let mut longest: Vec<&gaps::Stretch> = a
            .gaps
            .stretches
            .iter()
            .filter(|s| s.service == "mobile_internet" && !s.covered && s.international)
            .collect();
        longest.sort_by(|x, y| {
            y.length_m
                .total_cmp(&x.length_m)
                .then(x.road.cmp(&y.road))
                .then(x.start_m.total_cmp(&y.start_m))
        });
        let longest: Vec<Value> = longest
            .iter()
            .take(20)
            .map(|s| {
                json!({
                    "road_id": s.road_id, "refs": s.refs, "region": s.region,
                    "length_km": numbers::round(s.length_m / 1000.0, 3),
                    "from": [numbers::round(s.coords[0].0, 5), numbers::round(s.coords[0].1, 5)],
                    "to": [numbers::round(s.coords[s.coords.len() - 1].0, 5), numbers::round(s.coords[s.coords.len() - 1].1, 5)],
                })
            })
            .collect();
        cov.insert(
            "longest_uncovered_international_stretches".into(),
            Value::Array(longest),
        );
        doc["coverage"] = Value::Object(cov);
    }
    doc
}

/// Human summary of an analysis (dataset, then coverage gaps).
pub fn render_text(dataset: &DatasetSummary, analysis: Option<&Analysis>) -> String {
    use std::fmt::Write;
    let mut o = summary::render_text(dataset);
    let Some(a) = analysis else { return o };
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "Coverage ({} model, thresholds 2g {} / 3g {} / 4g {} / 5g {} dBm, handset {} m, road samples every ≤ {} m)",
        a.model,
        a.settings.threshold_dbm[0],
        a.settings.threshold_dbm[1],
        a.settings.threshold_dbm[2],
        a.settings.threshold_dbm[3],
        a.settings.rx_height_m,
        a.road_step_m
    );
    let _ = writeln!(
        o,
        "  {:<16} {:>22} {:>26} {:>26}",
        "service", "settlements covered", "population covered", "intl. road km covered"
    );
    for (svc, s) in &a.gaps.services {
        let _ = writeln!(
            o,
            "  {:<16} {:>14}/{:<7} {:>18} ({:>5.1} %) {:>11.1}/{:<8.1} ({:>5.1} %)",
            svc.key(),
            s.settlements_covered,
            s.settlements_total,
            summary::group(s.population_covered),
            s.population_covered_pct,
            s.international_road_km_covered,
            s.international_road_km,
            s.international_road_km_covered_pct
        );
    }
    let routes: Vec<&gaps::RouteRow> = a
        .gaps
        .by_route
        .iter()
        .filter(|r| r.service == "mobile_internet")
        .collect();
    if !routes.is_empty() {
        let _ = writeln!(o, "  mobile Internet per route:");
        for r in routes {
            let _ = writeln!(
                o,
                "    {:<8} {:>8.1} of {:>8.1} km uncovered ({:>5.1} % covered)",
                r.route, r.road_km_uncovered, r.road_km, r.road_km_covered_pct
            );
        }
    }
    let regions: Vec<&gaps::RegionRow> = a
        .gaps
        .by_region
        .iter()
        .filter(|r| r.service == "mobile_internet")
        .collect();
    if !regions.is_empty() {
        let _ = writeln!(
            o,
            "  mobile Internet per region (uncovered settlements / population / road km):"
        );
        for r in regions {
            let _ = writeln!(
                o,
                "    {:<8} {:<28} {:>4} / {:>10} / {:>8.1} km",
                if r.region.is_empty() { "-" } else { &r.region },
                r.name,
                r.settlements_uncovered,
                summary::group(r.population_uncovered),
                r.road_km_uncovered
            );
        }
    }
    let st = &a.coverage.stats;
    // Which model served which links (one line for a single model, the members for `auto`).
    let served: Vec<String> = st
        .links_by_model
        .iter()
        .map(|(m, n)| format!("{m} {}", summary::group(*n)))
        .collect();
    let _ = writeln!(
        o,
        "  links: {} evaluated ({}), {} skipped as unable to beat the best server",
        summary::group(st.links_evaluated),
        if served.is_empty() {
            "none".to_string()
        } else {
            served.join(", ")
        },
        summary::group(st.links_pruned)
    );
    if st.targets_outside_dem + st.links_outside_dem + st.links_model_error > 0
        || !st.model_warnings.is_empty()
    {
        let _ = writeln!(
            o,
            "  warnings: {} targets outside the DEM (unevaluated), {} links leaving the DEM, {} links the model refused{}",
            st.targets_outside_dem,
            st.links_outside_dem,
            st.links_model_error,
            st.first_model_error.as_ref().map(|e| format!(" (first: {e})")).unwrap_or_default()
        );
        for (code, n) in &st.model_warnings {
            let _ = writeln!(o, "    model warning {code}: {n} links");
        }
    }
    let _ = writeln!(o, "  {}", a.gaps.headline.text);
    o
}
