//! `planner plan` output: the `--json` document, the human summary, and the files of
//! `--out DIR` (plan.json, plan_sites.csv, plan_sites.geojson, plan_curve.csv).

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::analyze::Analysis;
use crate::numbers::round;
use crate::planning::Plan;

/// The `coverage` object of `planner analyze --json` for one analysis.
pub fn coverage_json(a: &Analysis) -> Value {
    super::analysis::report_json(&a.dataset, Some(a))["coverage"].clone()
}

impl Plan {
    /// The `planner plan --json` document.
    pub fn to_json(&self) -> Value {
        let s = &self.selection;
        let p = &self.prepared;
        let total_cost: f64 = s.sites.iter().map(|x| x.cost).sum();
        let total_capex: f64 = s.sites.iter().map(|x| x.capex).sum();
        let total_opex: f64 = s.sites.iter().map(|x| x.opex_per_year).sum();
        json!({
            "schema_version": 1,
            "currency": p.config.cost.currency,
            "horizon_years": p.config.cost.horizon_years,
            "rank": p.config.rank,
            "targets": s.targets,
            "targets_met": s.targets_met,
            "stop_reason": s.stop,
            "candidates": { "total": p.candidates.len(), "by_source": self.candidate_counts,
                            "uncovered_targets": p.element_targets.len(),
                            "gain_evaluations": s.gain_evaluations },
            "totals": { "sites": s.sites.len(), "cost": round(total_cost, 2),
                        "capex": round(total_capex, 2), "opex_per_year": round(total_opex, 2) },
            "sites": s.sites,
            "curve": s.curve,
            "coverage_before": coverage_json(&p.before),
            "coverage_after": coverage_json(&self.after),
        })
    }

    /// Human summary.
    pub fn render_text(&self) -> String {
        use std::fmt::Write;
        let s = &self.selection;
        let p = &self.prepared;
        let cur = &p.config.cost.currency;
        let mut o = String::new();
        let first = &s.curve[0];
        let last = s.curve.last().expect("curve starts with the before point");
        let _ = writeln!(
            o,
            "Site plan: {} candidates ({}), {} targets without mobile Internet",
            p.candidates.len(),
            self.candidate_counts
                .iter()
                .map(|(k, v)| format!("{v} {k}"))
                .collect::<Vec<_>>()
                .join(", "),
            p.element_targets.len()
        );
        let total: f64 = s.sites.iter().map(|x| x.cost).sum();
        let _ = writeln!(
            o,
            "  {} sites proposed, total cost {} {cur} over {} years; stopped: {:?}; targets {}",
            s.sites.len(),
            crate::summary::group(total.round() as u64),
            p.config.cost.horizon_years,
            s.stop,
            if s.targets_met { "met" } else { "NOT met" }
        );
        let _ = writeln!(
            o,
            "  mobile Internet        before → after\n  settlements      {:>7.2} % → {:>7.2} %\n  population       {:>7.2} % → {:>7.2} %\n  intl. highway km {:>7.2} % → {:>7.2} %",
            first.settlements_covered_pct,
            last.settlements_covered_pct,
            first.population_covered_pct,
            last.population_covered_pct,
            first.international_road_km_covered_pct,
            last.international_road_km_covered_pct
        );
        for x in s.sites.iter().take(25) {
            let _ = writeln!(
                o,
                "  #{:<3} {:<34} {:>9.4} {:>8.4} {:<13} {:<6} +{:>7} people +{:>2} settl. +{:>6.1} hwy km  {:>9} {cur} ({:?} backhaul)",
                x.rank,
                x.id,
                x.lon,
                x.lat,
                x.site_type.as_str(),
                x.region,
                x.marginal_gain.population,
                x.marginal_gain.settlements,
                x.marginal_gain.highway_km,
                crate::summary::group(x.cost.round() as u64),
                x.backhaul.kind
            );
        }
        if s.sites.len() > 25 {
            let _ = writeln!(o, "  … {} more (see --json or --out)", s.sites.len() - 25);
        }
        o
    }

    /// Writes plan.json, plan_sites.csv, plan_sites.geojson and plan_curve.csv into `dir`,
    /// all or none (see [`crate::output::Staging`]).
    pub fn write(&self, dir: &Path) -> Result<Vec<PathBuf>, crate::output::OutputError> {
        let mut out = crate::output::Staging::open(dir)?;
        self.stage(&mut out)?;
        out.commit()
    }

    /// Stages the plan's files in `out`; the caller commits.
    pub fn stage(
        &self,
        out: &mut crate::output::Staging,
    ) -> Result<(), crate::output::OutputError> {
        let dir = out.dir().to_path_buf();
        let mut j = serde_json::to_vec_pretty(&self.to_json()).expect("JSON values serialize");
        j.push(b'\n');
        out.write("plan.json", &j)?;
        let mut w = csv::Writer::from_writer(Vec::new());
        let _ = w.write_record([
            "rank",
            "id",
            "lon",
            "lat",
            "type",
            "source",
            "region",
            "height_m",
            "cost",
            "capex",
            "opex_per_year",
            "backhaul",
            "backhaul_distance_km",
            "gain_population",
            "gain_settlements",
            "gain_highway_km",
            "gain_road_km",
            "cumulative_cost",
        ]);
        for x in &self.selection.sites {
            let _ = w.write_record([
                x.rank.to_string(),
                x.id.clone(),
                x.lon.to_string(),
                x.lat.to_string(),
                x.site_type.as_str().into(),
                x.source.as_str().into(),
                x.region.clone(),
                x.height_m.to_string(),
                x.cost.to_string(),
                x.capex.to_string(),
                x.opex_per_year.to_string(),
                format!("{:?}", x.backhaul.kind).to_lowercase(),
                x.backhaul
                    .distance_km
                    .map(|d| d.to_string())
                    .unwrap_or_default(),
                x.marginal_gain.population.to_string(),
                x.marginal_gain.settlements.to_string(),
                x.marginal_gain.highway_km.to_string(),
                x.marginal_gain.road_km.to_string(),
                x.cumulative_cost.to_string(),
            ]);
        }
        let bytes = w.into_inner().map_err(|e| crate::output::OutputError {
            path: dir.join("plan_sites.csv"),
            message: e.to_string(),
        })?;
        out.write("plan_sites.csv", &bytes)?;
        let mut w = csv::Writer::from_writer(Vec::new());
        for c in &self.selection.curve {
            let _ = w.serialize(c);
        }
        let bytes = w.into_inner().map_err(|e| crate::output::OutputError {
            path: dir.join("plan_curve.csv"),
            message: e.to_string(),
        })?;
        out.write("plan_curve.csv", &bytes)?;
        let feats: Vec<Value> = self
            .selection
            .sites
            .iter()
            .map(|x| {
                let mut props = serde_json::to_value(x).expect("plain struct");
                if let Some(o) = props.as_object_mut() {
                    o.remove("lon");
                    o.remove("lat");
                }
                json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [x.lon, x.lat]}, "properties": props})
            })
            .collect();
        let fc = json!({"type": "FeatureCollection", "name": "proposed_sites", "features": feats});
        let mut b = serde_json::to_vec(&fc).expect("JSON values serialize");
        b.push(b'\n');
        out.write("plan_sites.geojson", &b)?;
        Ok(())
    }
}
