//! `planner report --out DIR`: the whole pipeline (coverage before, site plan, coverage after,
//! fixed broadband, investment) written as one self-contained HTML file for readers without GIS
//! software (`report.html`: inline CSS, SVG and the vendored map library, nothing fetched), a
//! GeoPackage with every vector layer and the coverage heatmaps as raster tables for QGIS
//! (`coverage.gpkg`) and a KMZ for Google Earth (`coverage.kmz`: heatmap ground overlays,
//! legend, sites, uncovered settlements and road stretches). Each is written to a temporary
//! name and renamed.
//! With `--speeds-from URL` (or `[speeds] url`) both also carry each region's measured speeds
//! from Prometheus against its target (see [`crate::speeds`]).

use std::path::{Path, PathBuf};

use anyhow::Context;
use geodata::Dataset;

use crate::broadband::{self, Broadband, BroadbandConfig};
use crate::config::PlannerConfig;
use crate::invest::{self, Investment};
use crate::plan::greedy::Limits;
use crate::plan::{self, Plan, PlanOptions};
use crate::render::{gpkg, html, kmz};
use crate::speeds::{self, Speeds};

pub mod heatmap;
pub mod operators;
pub use heatmap::Heatmap;
pub use operators::Operators;

/// Everything the report shows.
#[derive(Debug)]
pub struct ReportData {
    pub plan: Plan,
    pub broadband: Broadband,
    pub broadband_config: BroadbandConfig,
    pub investment: Investment,
    /// Proposed sites of the investment scenario when its targets differ from the plan's.
    pub invest_sites: Option<Vec<plan::PlannedSite>>,
    /// Measured speeds per region, when a Prometheus server was given.
    pub speeds: Option<Speeds>,
    /// Best received power per technology today and with the proposed sites built.
    pub heatmaps: Vec<Heatmap>,
    /// Today's mobile Internet per operator and the settlements served by one operator only.
    pub operators: Operators,
    /// Link budget in force (thresholds and the strong-signal margin of the signal classes).
    pub budget: crate::coverage::budget::BudgetConfig,
    /// Propagation model configuration in force.
    pub model: crate::coverage::propagation::registry::ModelConfig,
    /// When the report was made, `YYYY-MM-DD HH:MM UTC` (`SOURCE_DATE_EPOCH` when set, for
    /// reproducible builds).
    pub generated_utc: String,
}

/// `YYYY-MM-DD HH:MM UTC` of Unix time `secs` (proleptic Gregorian calendar).
pub fn utc_string(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        sod / 3600,
        (sod % 3600) / 60
    )
}

fn now_utc() -> String {
    let secs = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.trim().parse::<i64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0)
        });
    utc_string(secs)
}

/// Runs every analysis the report needs.
pub fn build(
    ds: &Dataset,
    cfg: &PlannerConfig,
    base_dir: &Path,
    opts: &PlanOptions,
) -> anyhow::Result<ReportData> {
    let bbcfg = cfg.broadband.clone();
    let icfg = &cfg.invest;
    let mut problems = bbcfg.problems();
    problems.extend(icfg.problems());
    if !problems.is_empty() {
        anyhow::bail!(
            "{} problem(s):\n  - {}",
            problems.len(),
            problems.join("\n  - ")
        );
    }
    let prepared = plan::prepare(ds, cfg, base_dir, opts)?;
    let pc = prepared.config.clone();
    let selection = prepared.select(
        &pc.targets,
        Limits {
            max_picks: pc.max_sites,
            budget: pc.budget,
        },
        ds,
    );
    // The investment scenario has no budget or site cap: it costs the targets themselves.
    let same = icfg.targets == pc.targets && pc.max_sites.is_none() && pc.budget.is_none();
    let inv_sel = (!same).then(|| prepared.select(&icfg.targets, Limits::default(), ds));
    let bb = broadband::analyze(ds, &bbcfg);
    let investment = invest::summarize(
        ds,
        inv_sel.as_ref().unwrap_or(&selection),
        &pc.cost.currency,
        pc.cost.horizon_years,
        &bb,
        &bbcfg,
    );
    let invest_sites = inv_sel.map(|s| s.sites);
    let plan = plan::finish(ds, cfg, prepared, selection, opts)?;
    let (hbox, grid) = heatmap::grid_for(ds, cfg)?;
    let today = heatmap::compute("today", ds, cfg, hbox, &grid, opts.threads, opts.progress)
        .context("coverage heatmap over the existing sites")?;
    let ds_after = plan.prepared.with_sites(ds, &plan.selection);
    let after = heatmap::compute(
        "after",
        &ds_after,
        cfg,
        hbox,
        &grid,
        opts.threads,
        opts.progress,
    )
    .context("coverage heatmap with the proposed sites")?;
    let operators = crate::coverage::with_threads(opts.threads, || {
        operators::compute(ds, cfg, &plan.prepared.before.gaps.settlement_region)
    })
    .context("cannot start worker threads")?
    .context("per-operator coverage")?;
    Ok(ReportData {
        plan,
        broadband: bb,
        broadband_config: bbcfg,
        investment,
        invest_sites,
        speeds: None,
        heatmaps: vec![today, after],
        operators,
        budget: cfg.budget.clone(),
        model: cfg.model.clone(),
        generated_utc: now_utc(),
    })
}

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

/// `planner report` arguments.
#[derive(clap::Args, Debug, Clone)]
pub struct ReportArgs {
    /// Planner config file (TOML) with optional [plan], [broadband], [invest]; default: embedded.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Folder for report.html, coverage.gpkg and coverage.kmz.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// No progress bars or messages.
    #[arg(long, short)]
    pub quiet: bool,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Prometheus server (e.g. http://127.0.0.1:9090) to read measured speeds per region from;
    /// overrides `[speeds] url`. Adds a "Measured speeds" section and a `speeds` layer.
    #[arg(long, value_name = "URL")]
    pub speeds_from: Option<String>,
}

/// Measured speeds from `flag` or `[speeds] url`, when either is given. A failure to read them
/// is returned as a bare [`speeds::SpeedsError`] so the binary can map it to its own exit code.
fn fetch_speeds(
    flag: Option<&str>,
    cfg: &PlannerConfig,
    ds: &Dataset,
) -> anyhow::Result<Option<Speeds>> {
    let sc = &cfg.speeds;
    let Some(url) = flag.or(sc.url.as_deref()) else {
        return Ok(None);
    };
    Ok(Some(speeds::fetch(url, sc, &ds.regions)?))
}

/// Runs `planner report`. Write failures are [`crate::output::OutputError`] (exit code 3),
/// failures to read measured speeds [`speeds::SpeedsError`] (exit code 4).
pub fn run(args: &ReportArgs) -> anyhow::Result<()> {
    if args.threads == Some(0) {
        anyhow::bail!("--threads must be at least 1");
    }
    let (cfg, ds, base) = plan::load(args.config.as_deref())?;
    let opts = PlanOptions {
        threads: args.threads.or(cfg.analysis.threads),
        progress: crate::coverage::progress_wanted(args.quiet),
    };
    // Before the analyses, so an unreachable Prometheus fails fast.
    let speeds = fetch_speeds(args.speeds_from.as_deref(), &cfg, &ds)?;
    if let (Some(s), false) = (&speeds, args.quiet) {
        for w in &s.warnings {
            eprintln!("warning: {w}");
        }
    }
    let mut data = build(&ds, &cfg, &base, &opts).context("report analyses failed")?;
    data.speeds = speeds;
    let written = write(&args.out, &ds, &data)?;
    if !args.quiet {
        for p in written {
            eprintln!("wrote {}", p.display());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_strings_of_known_instants() {
        assert_eq!(super::utc_string(0), "1970-01-01 00:00 UTC");
        assert_eq!(super::utc_string(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(super::utc_string(1_796_240_700), "2026-12-02 19:45 UTC");
    }
}
