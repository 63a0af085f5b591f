//! The files of `planner report --out DIR`: `report.html`, `coverage.gpkg`, `coverage.kmz` and
//! `report.json`, rendered from the computed [`ReportData`].

use std::path::{Path, PathBuf};

use geodata::Dataset;

use super::{gpkg, html, kmz};
use crate::report::ReportData;

/// Writes `report.html`, `coverage.gpkg` (vector layers and heatmap rasters) and
/// `coverage.kmz` (Google Earth) and `report.json` into `dir` (created when missing).
pub fn write(
    dir: &Path,
    ds: &Dataset,
    r: &ReportData,
) -> Result<Vec<PathBuf>, crate::output::OutputError> {
    std::fs::create_dir_all(dir).map_err(|e| crate::output::OutputError {
        path: dir.to_path_buf(),
        message: e.to_string(),
    })?;
    let page = html::render(ds, r).map_err(|e| crate::output::OutputError {
        path: dir.join("report.html"),
        message: format!("{e:#}"),
    })?;
    let mut out = vec![crate::output::write_atomic(
        dir,
        "report.html",
        page.as_bytes(),
    )?];
    out.push(gpkg::write(dir, "coverage.gpkg", ds, r)?);
    out.push(kmz::write(dir, "coverage.kmz", ds, r)?);
    let mut doc = serde_json::to_vec_pretty(&json_doc(r)).expect("plain values serialize");
    doc.push(b'\n');
    out.push(crate::output::write_atomic(dir, "report.json", &doc)?);
    Ok(out)
}

/// `report.json`: the figures of the report that other tools read (schema_version 1): when and
/// by which version it was made, and the per-operator view.
pub fn json_doc(r: &ReportData) -> serde_json::Value {
    serde_json::json!({
        "schema_version": 1,
        "generated_utc": r.generated_utc,
        "planner_version": env!("CARGO_PKG_VERSION"),
        "operators": r.operators,
    })
}
