//! Side by side with SPLAT! 1.4.2 on its core job (`scripts/bench-itm.sh`): one 30 m mast at
//! 900 MHz, ITM (`splat -L 1.5 -R 20 -olditm`), every 3″ point SPLAT! evaluates within 20 km,
//! over the same terrain (the embedded GLOBE DEM resampled to the SRTM-3 tile N41E069 and
//! converted with `srtm2sdf`), same ITM parameters, one core each. SPLAT!'s numeric output
//! (`-ano`: latitude, west longitude, azimuth, elevation, path loss per point) gives both the
//! point set the planner evaluates (through its coverage engine, one thread, 90 m profile step)
//! and the values compared point by point. Prints one table: both wall times from this run,
//! their ratio, and the median and 95th percentile of |planner − SPLAT!|.
//!
//! Needs `splat`, `srtm2sdf`, `gdalwarp`, `gdal_translate` (scripts/bootstrap.sh); panics
//! naming the missing tool otherwise.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use geodata::{Cell, Dem, Site, Technology};
use planner::coverage::engine::{with_threads, CoverageSettings, Engine};
use planner::coverage::propagation::itm::{Itm, ItmConfig};
use planner::targets::{Target, TargetKind};

const SITE_LAT: f64 = 41.5;
const SITE_LON: f64 = 69.5;
const FREQ_MHZ: f64 = 900.0;
const TX_HEIGHT_M: f64 = 30.0;
const RX_HEIGHT_M: f64 = 1.5;
const RADIUS_KM: f64 = 20.0;

fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e} (run scripts/bootstrap.sh)"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The SRTM-3 tile N41E069 (1201×1201 posts on whole 3″ multiples, whole metres) resampled
/// bilinearly from the embedded DEM, as SPLAT!'s SDF.
fn make_tile(dir: &Path, dem: &str) {
    let half_post = 1.0 / 2400.0;
    let te = [
        69.0 - half_post,
        41.0 - half_post,
        70.0 + half_post,
        42.0 + half_post,
    ]
    .map(|v| format!("{v:.10}"));
    run(Command::new("gdalwarp")
        .args(["-q", "-overwrite", "-r", "bilinear", "-ot", "Int16", "-te"])
        .args(&te)
        .args(["-ts", "1201", "1201", dem])
        .arg(dir.join("N41E069.tif")));
    run(Command::new("gdal_translate")
        .args(["-q", "-of", "SRTMHGT"])
        .arg(dir.join("N41E069.tif"))
        .arg(dir.join("N41E069.hgt")));
    run(Command::new("srtm2sdf")
        .args(["-d", "/dev/null", "N41E069.hgt"])
        .current_dir(dir));
}

/// (lat, lon east, SPLAT! path loss dB) per distinct point of an `-ano` file.
fn read_ano(path: &Path) -> Vec<(f64, f64, f64)> {
    let text =
        String::from_utf8_lossy(&std::fs::read(path).expect("SPLAT! -ano output")).into_owned();
    let mut seen = std::collections::HashSet::new();
    let mut points = Vec::new();
    for line in text.lines().filter(|l| !l.contains(';')) {
        let f: Vec<f64> = line
            .trim_end_matches('*')
            .split(',')
            .filter_map(|v| v.trim().parse().ok())
            .collect();
        if f.len() != 5 {
            continue;
        }
        let (lat, lon) = (f[0], 360.0 - f[1]);
        if seen.insert((lat.to_bits(), lon.to_bits())) {
            points.push((lat, lon, f[4]));
        }
    }
    points
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i]
}

fn main() {
    // `cargo bench` passes harness flags (e.g. --bench); this bench takes none.
    let dem_path = concat!(env!("CARGO_MANIFEST_DIR"), "/../geodata/data/uz/dem.tif");
    let dir = tempfile::tempdir().expect("temp dir");
    let dir = dir.path();
    make_tile(dir, dem_path);
    std::fs::write(
        dir.join("tx.qth"),
        format!("tx\n{SITE_LAT}\n{}\n{TX_HEIGHT_M}m\n", -SITE_LON),
    )
    .expect("write tx.qth");
    // The planner's default ITM parameters (ItmConfig::default()).
    std::fs::write(
        dir.join("tx.lrp"),
        format!(
            "15.000 ; Earth Dielectric Constant\n0.005 ; Earth Conductivity\n\
             301.000 ; Atmospheric Bending Constant\n{FREQ_MHZ:.3} ; Frequency MHz\n\
             5 ; Radio Climate (Continental Temperate)\n1 ; Polarization (Vertical)\n\
             0.50 ; Fraction of situations\n0.50 ; Fraction of time\n"
        ),
    )
    .expect("write tx.lrp");

    let start = Instant::now();
    run(Command::new("splat")
        .args(["-t", "tx.qth", "-L", &RX_HEIGHT_M.to_string()])
        .args(["-R", &RADIUS_KM.to_string(), "-metric", "-olditm", "-ngs"])
        .args(["-ano", "out.ano", "-o", "map.ppm", "-d"])
        .arg(dir)
        .current_dir(dir));
    let splat_s = start.elapsed().as_secs_f64();
    let points = read_ano(&dir.join("out.ano"));
    assert!(
        points.len() > 1000,
        "SPLAT! wrote only {} points",
        points.len()
    );

    let dem = Dem::from_gdal(dem_path).expect("embedded DEM geodata/data/uz/dem.tif");
    let site = Site {
        id: "tx".into(),
        lon: SITE_LON,
        lat: SITE_LAT,
        height_m: TX_HEIGHT_M,
        operator: None,
        cells: vec![Cell {
            technology: Technology::G2,
            band_mhz: FREQ_MHZ,
            eirp_dbm: 0.0,
            azimuth_deg: None,
            beamwidth_deg: None,
            tilt_deg: None,
        }],
    };
    let targets: Vec<Target> = points
        .iter()
        .enumerate()
        .map(|(i, &(lat, lon, _))| Target {
            lon,
            lat,
            kind: TargetKind::Settlement { index: i as u32 },
        })
        .collect();
    let model = Itm::new(ItmConfig::default()).expect("default ITM config");
    let settings = CoverageSettings {
        rx_height_m: RX_HEIGHT_M,
        // Every point is evaluated: no level is too weak to keep.
        threshold_dbm: [-1000.0; 4],
        max_range_cap_m: RADIUS_KM * 1000.0 + 1000.0,
        profile_step_m: Some(90.0),
        ..CoverageSettings::default()
    };
    let sites = [site];
    let start = Instant::now();
    let result = with_threads(Some(1), || {
        let engine = Engine::for_sites(&sites, Some(&dem), &model, settings).expect("engine");
        engine.evaluate(&targets, &indicatif::ProgressBar::hidden())
    })
    .expect("thread pool")
    .expect("coverage");
    let planner_s = start.elapsed().as_secs_f64();

    let mut diffs: Vec<f64> = result
        .per_target
        .iter()
        .zip(&points)
        .filter_map(|(c, &(_, _, splat_db))| c.best[0].map(|s| (-s.rx_dbm - splat_db).abs()))
        .collect();
    diffs.sort_by(f64::total_cmp);
    assert!(
        !diffs.is_empty(),
        "the planner evaluated none of SPLAT!'s points"
    );
    println!(
        "| tool | points | wall s (1 core) |\n|---|---|---|\n\
         | SPLAT! 1.4.2 `-L -olditm -R 20` | {} | {splat_s:.2} |\n\
         | planner coverage engine, ITM, 90 m step | {} | {planner_s:.2} |\n\n\
         planner speed vs SPLAT!: {:.2}x; |planner - SPLAT!| over {} points: median {:.2} dB, \
         95th percentile {:.2} dB",
        points.len(),
        targets.len(),
        splat_s / planner_s,
        diffs.len(),
        percentile(&diffs, 0.5),
        percentile(&diffs, 0.95),
    );
}
