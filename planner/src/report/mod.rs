//! `planner report --out DIR`: the whole pipeline (coverage before, site plan, coverage after,
//! fixed broadband, investment) written as one self-contained HTML file for readers without GIS
//! software (`report.html`: inline CSS, SVG and the vendored map library, nothing fetched), a
//! GeoPackage with every vector layer and the coverage heatmaps as raster tables for QGIS
//! (`coverage.gpkg`) and a KMZ for Google Earth (`coverage.kmz`: heatmap ground overlays,
//! legend, sites, uncovered settlements and road stretches). Each is written to a temporary
//! name and renamed.
//! With `--speeds-from URL` (or `[speeds] url`) both also carry each region's measured speeds
//! from Prometheus against its target (see [`crate::speeds`]).
//!
//! This module runs the analyses into [`ReportData`]; `render::report` writes the files.

use std::path::Path;

use anyhow::Context;
use geodata::Dataset;

use crate::broadband::{self, Broadband, BroadbandConfig};
use crate::config::PlannerConfig;
use crate::invest::{self, Investment};
use crate::plan;
use crate::plan::greedy::Limits;
use crate::planning::{self, Plan, PlanOptions};
use crate::speeds::Speeds;

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
    let prepared = planning::prepare(ds, cfg, base_dir, opts)?;
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
    let plan = planning::finish(ds, cfg, prepared, selection, opts)?;
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

#[cfg(test)]
mod tests {
    #[test]
    fn utc_strings_of_known_instants() {
        assert_eq!(super::utc_string(0), "1970-01-01 00:00 UTC");
        assert_eq!(super::utc_string(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(super::utc_string(1_796_240_700), "2026-12-02 19:45 UTC");
    }
}
