//! `planner report --out DIR`: the whole pipeline (coverage before, site plan, coverage after,
//! fixed broadband, investment) written as one self-contained HTML file for readers without GIS
//! software (`report.html`: inline CSS and SVG, no scripts, nothing fetched) and a GeoPackage
//! with every layer for QGIS (`coverage.gpkg`). Both are written to a temporary name and renamed.
//! With `--speeds-from URL` (or `[speeds] url`) both also carry each region's measured speeds
//! from Prometheus against its target (see [`crate::speeds`]).

pub mod gpkg;
pub mod html;
pub mod svg;

use std::path::{Path, PathBuf};

use anyhow::Context;
use geodata::Dataset;

use crate::broadband::{self, Broadband, BroadbandConfig};
use crate::config::PlannerConfig;
use crate::invest::{self, InvestConfig, Investment};
use crate::plan::greedy::Limits;
use crate::plan::{self, Plan, PlanOptions};
use crate::speeds::{self, Speeds, SpeedsConfig};

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
}

/// Runs every analysis the report needs.
pub fn build(
    ds: &Dataset,
    cfg: &PlannerConfig,
    base_dir: &Path,
    opts: &PlanOptions,
) -> anyhow::Result<ReportData> {
    let bbcfg = BroadbandConfig::from_table(cfg.broadband.as_ref()).map_err(anyhow::Error::msg)?;
    let icfg = InvestConfig::from_table(cfg.invest.as_ref()).map_err(anyhow::Error::msg)?;
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
    Ok(ReportData {
        plan,
        broadband: bb,
        broadband_config: bbcfg,
        investment,
        invest_sites,
        speeds: None,
    })
}

/// Writes `report.html` and `coverage.gpkg` into `dir` (created when missing).
pub fn write(
    dir: &Path,
    ds: &Dataset,
    r: &ReportData,
) -> Result<Vec<PathBuf>, crate::output::OutputError> {
    std::fs::create_dir_all(dir).map_err(|e| crate::output::OutputError {
        path: dir.to_path_buf(),
        message: e.to_string(),
    })?;
    let page = html::render(ds, r);
    let mut out = vec![crate::output::write_atomic(
        dir,
        "report.html",
        page.as_bytes(),
    )?];
    out.push(gpkg::write(dir, "coverage.gpkg", ds, r)?);
    Ok(out)
}

/// `planner report` arguments.
#[derive(clap::Args, Debug, Clone)]
pub struct ReportArgs {
    /// Planner config file (TOML) with optional [plan], [broadband], [invest]; default: embedded.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Folder for report.html and coverage.gpkg.
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
    let sc =
        SpeedsConfig::from_toml(cfg.speeds.as_ref()).map_err(|p| anyhow::anyhow!(p.join("; ")))?;
    let Some(url) = flag.or(sc.url.as_deref()) else {
        return Ok(None);
    };
    Ok(Some(speeds::fetch(url, &sc, &ds.regions)?))
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
