//! Report files of `planner analyze --out DIR`: JSON summary, CSV tables, GeoJSON layers and the
//! optional coverage GeoTIFF, staged in an [`crate::output::Staging`] folder.

use std::path::Path;

use geodata::{Dataset, Technology};
use serde_json::{json, Value};

use crate::analyze::Analysis;
use crate::coverage::tech_index;
use crate::numbers::round;
use crate::output::{err, OutputError, Staging};

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
