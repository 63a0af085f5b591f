//! Report files of `planner analyze --out DIR`: JSON summary, CSV tables, GeoJSON layers and the
//! optional coverage GeoTIFF. Each file is written to a temporary name in the same folder and
//! renamed into place, so a failed run never leaves a half-written file under the final name.

use std::io::Write;
use std::path::{Path, PathBuf};

use geodata::{Dataset, Technology};
use serde_json::{json, Value};

use crate::analyze::Analysis;
use crate::coverage::tech_index;
use crate::gaps::round;

/// A report file that could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {}: {message}", path.display())]
pub struct OutputError {
    pub path: PathBuf,
    pub message: String,
}

fn err(path: &Path, e: impl std::fmt::Display) -> OutputError {
    OutputError {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Writes `bytes` to `dir/name` through a temporary file and a rename.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf, OutputError> {
    let dest = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let res = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &dest)
    })();
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp);
        return Err(err(&dest, e));
    }
    Ok(dest)
}

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

/// Writes every report file into `dir` (created when missing); returns the paths written.
pub fn write_all(
    dir: &Path,
    ds: &Dataset,
    a: &Analysis,
    report: &Value,
    csv_on: bool,
    geojson_on: bool,
    tiff_on: bool,
) -> Result<Vec<PathBuf>, OutputError> {
    std::fs::create_dir_all(dir).map_err(|e| err(dir, e))?;
    let mut written = Vec::new();
    let mut json =
        serde_json::to_vec_pretty(report).map_err(|e| err(&dir.join("summary.json"), e))?;
    json.push(b'\n');
    written.push(write_atomic(dir, "summary.json", &json)?);
    let rows = settlement_rows(ds, a);
    if csv_on {
        written.push(write_atomic(
            dir,
            "by_region.csv",
            &csv_bytes(&a.gaps.by_region, &dir.join("by_region.csv"))?,
        )?);
        written.push(write_atomic(
            dir,
            "by_route.csv",
            &csv_bytes(&a.gaps.by_route, &dir.join("by_route.csv"))?,
        )?);
        written.push(write_atomic(
            dir,
            "settlements.csv",
            &csv_bytes(&rows, &dir.join("settlements.csv"))?,
        )?);
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
        written.push(write_atomic(
            dir,
            "settlements.geojson",
            &feature_collection("settlements", feats),
        )?);
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
        written.push(write_atomic(
            dir,
            "road_stretches.geojson",
            &feature_collection("road_stretches", feats),
        )?);
    }
    if tiff_on {
        let grid = a.targets.grid.as_ref().ok_or_else(|| {
            err(
                &dir.join("coverage.tif"),
                "no grid was evaluated: set [analysis.grid] or --grid-m",
            )
        })?;
        let start = a.targets.items.len() - grid.cols as usize * grid.rows as usize;
        let dest = dir.join("coverage.tif");
        let tmp = dir.join(format!(".coverage.tif.tmp-{}.tif", std::process::id()));
        let res = crate::coverage::write_coverage_tiff(&tmp, grid, &a.coverage.per_target[start..])
            .map_err(|e| err(&dest, e))
            .and_then(|_| std::fs::rename(&tmp, &dest).map_err(|e| err(&dest, e)));
        if let Err(e) = res {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        written.push(dest);
    }
    Ok(written)
}
