//! Per-operator view of today's mobile Internet: each operator's sites evaluated alone over
//! the settlements with the analysis' engine, model and link budget, giving the settlements
//! and people each operator serves, and the settlements served by exactly one operator —
//! where infrastructure sharing or national roaming would give the other operators' customers
//! service without a new mast. Sites without an operator form one "unknown operator" group.

use std::collections::BTreeMap;

use geodata::{Dataset, Site};
use serde::Serialize;

use crate::analyze;
use crate::config::PlannerConfig;
use crate::coverage::Engine;
use crate::targets::{settlement_targets, Target};

/// Name of the group of sites without an operator.
pub const UNKNOWN_OPERATOR: &str = "unknown operator";

/// One operator's mobile-Internet coverage of the settlements today.
#[derive(Debug, Clone, Serialize)]
pub struct OperatorCoverage {
    pub operator: String,
    pub sites: usize,
    pub settlements_covered: usize,
    pub settlements_covered_pct: f64,
    pub population_covered: u64,
    pub population_covered_pct: f64,
    /// Settlements where this operator is the only one with mobile Internet.
    pub sole_operator_settlements: usize,
    pub sole_operator_population: u64,
}

/// A settlement with mobile Internet from one operator only.
#[derive(Debug, Clone, Serialize)]
pub struct SoleOperatorSettlement {
    pub id: String,
    pub name: String,
    pub region: String,
    pub population: u64,
    pub lon: f64,
    pub lat: f64,
    pub operator: String,
}

/// The per-operator view.
#[derive(Debug, Clone, Serialize)]
pub struct Operators {
    /// Operators sorted by people covered, most first.
    pub operators: Vec<OperatorCoverage>,
    /// Settlements served by one operator only, most populous first.
    pub sole_operator_settlements: Vec<SoleOperatorSettlement>,
    /// Settlements (and people) with mobile Internet from at least one operator.
    pub settlements_covered_any: usize,
    pub population_covered_any: u64,
    /// … from two operators or more.
    pub settlements_covered_by_several: usize,
    pub population_covered_by_several: u64,
    pub settlements_total: usize,
    pub population_total: u64,
}

fn pct(n: f64, d: f64) -> f64 {
    if d > 0.0 {
        crate::numbers::round(100.0 * n / d, 2)
    } else {
        0.0
    }
}

/// Operators with their site counts (sorted by name), and per settlement the indices of the
/// operators giving it mobile Internet.
pub type Covering = (Vec<(String, usize)>, Vec<Vec<usize>>);

/// Which operators give each settlement mobile Internet (3G, 4G or 5G at its threshold).
pub fn covering_operators(ds: &Dataset, cfg: &PlannerConfig) -> anyhow::Result<Covering> {
    let mut by_op: BTreeMap<String, Vec<Site>> = BTreeMap::new();
    for s in &ds.sites {
        by_op
            .entry(
                s.operator
                    .clone()
                    .unwrap_or_else(|| UNKNOWN_OPERATOR.into()),
            )
            .or_default()
            .push(s.clone());
    }
    let model = analyze::build_model(cfg, None)?;
    let settings = analyze::coverage_settings(&cfg.budget, &cfg.analysis);
    let targets: Vec<Target> = settlement_targets(ds);
    let mut covering = vec![Vec::new(); ds.settlements.len()];
    let mut ops = Vec::new();
    for (oi, (op, sites)) in by_op.iter().enumerate() {
        let engine = Engine::for_sites(sites, ds.dem.as_ref(), model.as_ref(), settings.clone())?;
        let res = engine.evaluate(&targets, &indicatif::ProgressBar::hidden())?;
        for (k, c) in covering.iter_mut().enumerate() {
            if res.mobile_internet(k) {
                c.push(oi);
            }
        }
        ops.push((op.clone(), sites.len()));
    }
    Ok((ops, covering))
}

/// The per-operator view of `ds`'s sites.
pub fn compute(
    ds: &Dataset,
    cfg: &PlannerConfig,
    settlement_region: &[String],
) -> anyhow::Result<Operators> {
    let (ops, covering) = covering_operators(ds, cfg)?;
    let pop_total: u64 = ds.settlements.iter().map(|s| s.population).sum();
    let n = ds.settlements.len();
    let mut rows: Vec<OperatorCoverage> = ops
        .iter()
        .enumerate()
        .map(|(oi, (op, sites))| {
            let mine = |sole: bool| {
                covering
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| c.contains(&oi) && (!sole || c.len() == 1))
                    .map(|(k, _)| k)
                    .collect::<Vec<_>>()
            };
            let all = mine(false);
            let sole = mine(true);
            let people = |ks: &[usize]| {
                ks.iter()
                    .map(|&k| ds.settlements[k].population)
                    .sum::<u64>()
            };
            OperatorCoverage {
                operator: op.clone(),
                sites: *sites,
                settlements_covered: all.len(),
                settlements_covered_pct: pct(all.len() as f64, n as f64),
                population_covered: people(&all),
                population_covered_pct: pct(people(&all) as f64, pop_total as f64),
                sole_operator_settlements: sole.len(),
                sole_operator_population: people(&sole),
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        b.population_covered
            .cmp(&a.population_covered)
            .then_with(|| a.operator.cmp(&b.operator))
    });
    let mut sole: Vec<SoleOperatorSettlement> = covering
        .iter()
        .enumerate()
        .filter(|(_, c)| c.len() == 1)
        .map(|(k, c)| {
            let s = &ds.settlements[k];
            SoleOperatorSettlement {
                id: s.id.clone(),
                name: s.name.clone(),
                region: settlement_region.get(k).cloned().unwrap_or_default(),
                population: s.population,
                lon: s.lon,
                lat: s.lat,
                operator: ops[c[0]].0.clone(),
            }
        })
        .collect();
    sole.sort_by(|a, b| {
        b.population
            .cmp(&a.population)
            .then_with(|| a.id.cmp(&b.id))
    });
    let sum = |f: &dyn Fn(usize) -> bool| -> (usize, u64) {
        covering
            .iter()
            .enumerate()
            .filter(|(_, c)| f(c.len()))
            .fold((0, 0), |(n, p), (k, _)| {
                (n + 1, p + ds.settlements[k].population)
            })
    };
    let any = sum(&|l| l >= 1);
    let several = sum(&|l| l >= 2);
    Ok(Operators {
        operators: rows,
        sole_operator_settlements: sole,
        settlements_covered_any: any.0,
        population_covered_any: any.1,
        settlements_covered_by_several: several.0,
        population_covered_by_several: several.1,
        settlements_total: n,
        population_total: pop_total,
    })
}
