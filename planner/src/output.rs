//! Report files of `planner analyze --out DIR`: JSON summary, CSV tables, GeoJSON layers and the
//! optional coverage GeoTIFF. Each file is written to a temporary name in the same folder and
//! renamed into place, so a failed run never leaves a half-written file under the final name.

use std::io::Write;
use std::path::{Path, PathBuf};

use geodata::{Dataset, Technology};
use serde_json::{json, Value};

use crate::analyze::Analysis;
use crate::coverage::tech_index;
use crate::numbers::round;

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

/// Writes `text` to stdout. A closed stdout (`planner … | head`) is not an error: the reader
/// has all it wanted, so the rest is dropped quietly and the command goes on (files under
/// `--out` are still written). Any other write failure is an [`OutputError`].
pub fn print_stdout(text: &str) -> Result<(), OutputError> {
    use std::sync::atomic::{AtomicBool, Ordering};
    static CLOSED: AtomicBool = AtomicBool::new(false);
    if CLOSED.load(Ordering::Relaxed) {
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            CLOSED.store(true, Ordering::Relaxed);
            Ok(())
        }
        Err(e) => Err(err(Path::new("standard output"), e)),
    }
}

/// An output folder whose files are written into a temporary folder inside it and moved into
/// place only by [`Staging::commit`], so a failed run leaves the previous outputs untouched and
/// no new file. Opening it creates the folder and proves it writable before any computation.
#[derive(Debug)]
pub struct Staging {
    dir: PathBuf,
    tmp: PathBuf,
    names: Vec<String>,
    committed: bool,
}

impl Staging {
    /// Creates `dir` when missing and a temporary folder inside it.
    pub fn open(dir: &Path) -> Result<Staging, OutputError> {
        std::fs::create_dir_all(dir).map_err(|e| err(dir, e))?;
        let tmp = dir.join(format!(".planner-tmp-{}", std::process::id()));
        // A folder left by a killed run of the same pid is stale; start afresh.
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir(&tmp).map_err(|e| err(dir, e))?;
        let probe = tmp.join(".write-test");
        std::fs::write(&probe, b"").map_err(|e| err(dir, e))?;
        let _ = std::fs::remove_file(&probe);
        Ok(Staging {
            dir: dir.to_path_buf(),
            tmp,
            names: Vec::new(),
            committed: false,
        })
    }

    /// The final folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where file `name` is staged (for writers that need a path, e.g. GDAL); call
    /// [`Staging::add`] once it is written.
    pub fn staged_path(&self, name: &str) -> PathBuf {
        self.tmp.join(name)
    }

    /// Records a file written at [`Staging::staged_path`].
    pub fn add(&mut self, name: &str) {
        if !self.names.iter().any(|n| n == name) {
            self.names.push(name.to_string());
        }
    }

    /// Stages file `name` with `bytes`.
    pub fn write(&mut self, name: &str, bytes: &[u8]) -> Result<(), OutputError> {
        let path = self.staged_path(name);
        let res = (|| -> std::io::Result<()> {
            let mut f = std::fs::File::create(&path)?;
            f.write_all(bytes)?;
            f.sync_all()
        })();
        res.map_err(|e| err(&self.dir.join(name), e))?;
        self.add(name);
        Ok(())
    }

    /// Moves every staged file into the folder (same filesystem: renames) and returns their
    /// final paths.
    pub fn commit(mut self) -> Result<Vec<PathBuf>, OutputError> {
        // A rename within one folder only fails when the destination is in the way (a folder
        // of that name); look for that before moving anything, so no file is half the set.
        for name in &self.names {
            let dest = self.dir.join(name);
            if dest.is_dir() {
                return Err(err(
                    &dest,
                    "a folder of that name is in the way; remove or rename it",
                ));
            }
        }
        let mut done = Vec::with_capacity(self.names.len());
        for name in &self.names {
            let dest = self.dir.join(name);
            std::fs::rename(self.tmp.join(name), &dest).map_err(|e| err(&dest, e))?;
            done.push(dest);
        }
        self.committed = true;
        let _ = std::fs::remove_dir_all(&self.tmp);
        Ok(done)
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        // Not committed (an error, a panic): nothing of this run reaches the folder.
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
    }
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
            if cells
                .iter()
                .any(|c| crate::render::raster::class_value(c[ti]) != 0)
            {
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
        Some(ti) => crate::render::raster::write_class_tiff(&path, grid, cells, ti),
        None => crate::render::raster::write_coverage_tiff(&path, grid, cells),
    }
    .map_err(|e| err(&out.dir().join(name), e))?;
    out.add(name);
    Ok(())
}
