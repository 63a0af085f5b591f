//! Investment summary: what it costs, per region and in total, to reach the stated targets —
//! mobile Internet in every settlement and on a share of international highway km (the site
//! plan), and the national new-ports target with fibre to unserved settlements (fixed broadband).
//!
//! Mobile costs are the planned sites' capex and cost over the horizon, by the region each site
//! lies in. Broadband ports to build are each region's deficit plus, when the national target is
//! larger than the total deficit, the remainder shared out by households (largest remainder, so
//! regional ports add up exactly to the national figure).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::broadband::{Broadband, BroadbandConfig};
use crate::numbers::round;
use crate::plan::{CoverageTargets, Selection};

/// `[invest]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InvestConfig {
    /// Mobile coverage targets to cost (default: every settlement, 95 % of international km).
    pub targets: CoverageTargets,
}

impl Default for InvestConfig {
    fn default() -> Self {
        InvestConfig {
            targets: CoverageTargets {
                settlements_pct: Some(100.0),
                population_pct: None,
                international_road_km_pct: Some(95.0),
            },
        }
    }
}

impl InvestConfig {
    pub fn problems(&self) -> Vec<String> {
        let t = &self.targets;
        [
            ("settlements_pct", t.settlements_pct),
            ("population_pct", t.population_pct),
            ("international_road_km_pct", t.international_road_km_pct),
        ]
        .into_iter()
        .filter_map(|(k, v)| {
            v.filter(|v| !(0.0..=100.0).contains(v))
                .map(|v| format!("invest.targets.{k} = {v} must be a percentage in [0, 100]"))
        })
        .collect()
    }
}

/// One region's investment.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RegionInvestment {
    pub region: String,
    pub name: String,
    pub mobile_sites: u64,
    pub mobile_capex: f64,
    /// Capex + opex over the horizon.
    pub mobile_cost: f64,
    pub broadband_ports: u64,
    pub broadband_fibre_km: f64,
    pub broadband_new_nodes: u64,
    pub broadband_capex: f64,
    pub total_capex: f64,
}

/// The investment summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Investment {
    pub currency: String,
    pub horizon_years: f64,
    pub targets: CoverageTargets,
    pub mobile_targets_met: bool,
    pub ports_target: u64,
    pub by_region: Vec<RegionInvestment>,
    pub total: RegionInvestment,
}

/// Splits `extra` over `shares` in proportion, exactly (largest remainder, ties to lower index).
pub fn apportion(extra: u64, shares: &[u64]) -> Vec<u64> {
    let sum: u64 = shares.iter().sum();
    if sum == 0 || extra == 0 {
        return vec![0; shares.len()];
    }
    let mut out: Vec<u64> = Vec::with_capacity(shares.len());
    let mut rem: Vec<(u128, usize)> = Vec::with_capacity(shares.len());
    for (i, &s) in shares.iter().enumerate() {
        let num = extra as u128 * s as u128;
        out.push((num / sum as u128) as u64);
        rem.push((num % sum as u128, i));
    }
    let left = extra - out.iter().sum::<u64>();
    rem.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, i) in rem.iter().take(left as usize) {
        out[i] += 1;
    }
    out
}

/// Builds the summary from a site selection (made for the investment targets) and the
/// fixed-broadband analysis.
pub fn summarize(
    ds: &geodata::Dataset,
    sel: &Selection,
    currency: &str,
    horizon_years: f64,
    bb: &Broadband,
    bbcfg: &BroadbandConfig,
) -> Investment {
    let mut rows: BTreeMap<String, RegionInvestment> = ds
        .regions
        .iter()
        .map(|r| {
            (
                r.code.clone(),
                RegionInvestment {
                    region: r.code.clone(),
                    name: r.name_en.clone(),
                    ..Default::default()
                },
            )
        })
        .collect();
    let mut entry = |code: &str| -> String {
        rows.entry(code.to_string())
            .or_insert_with(|| RegionInvestment {
                region: code.to_string(),
                name: "(outside regions)".into(),
                ..Default::default()
            })
            .region
            .clone()
    };
    let mut keys = Vec::new();
    for s in &sel.sites {
        keys.push(entry(&s.region));
    }
    for r in &bb.by_region {
        entry(&r.region);
    }
    for (s, k) in sel.sites.iter().zip(keys) {
        let r = rows.get_mut(&k).expect("inserted");
        r.mobile_sites += 1;
        r.mobile_capex += s.capex;
        r.mobile_cost += s.cost;
    }
    let extra = bb.totals.ports_to_build - bb.totals.port_deficit;
    let shares: Vec<u64> = bb.by_region.iter().map(|r| r.households).collect();
    let extra_by = apportion(extra, &shares);
    let c = &bbcfg.cost;
    for (r, x) in bb.by_region.iter().zip(extra_by) {
        let row = rows.get_mut(&r.region).expect("inserted");
        row.broadband_ports = r.port_deficit + x;
        row.broadband_fibre_km = r.fibre_km_to_unserved;
        row.broadband_new_nodes = r.settlements_unserved;
        row.broadband_capex = row.broadband_ports as f64 * c.port_capex
            + r.fibre_km_to_unserved * c.fibre_capex_per_km
            + r.settlements_unserved as f64 * c.new_node_capex;
    }
    let mut total = RegionInvestment {
        region: String::new(),
        name: "Total".into(),
        ..Default::default()
    };
    let mut by_region: Vec<RegionInvestment> = rows.into_values().collect();
    for r in &mut by_region {
        r.total_capex = r.mobile_capex + r.broadband_capex;
        total.mobile_sites += r.mobile_sites;
        total.mobile_capex += r.mobile_capex;
        total.mobile_cost += r.mobile_cost;
        total.broadband_ports += r.broadband_ports;
        total.broadband_fibre_km += r.broadband_fibre_km;
        total.broadband_new_nodes += r.broadband_new_nodes;
        total.broadband_capex += r.broadband_capex;
        for v in [
            &mut r.mobile_capex,
            &mut r.mobile_cost,
            &mut r.broadband_capex,
            &mut r.total_capex,
            &mut r.broadband_fibre_km,
        ] {
            *v = round(*v, 2);
        }
    }
    total.total_capex = total.mobile_capex + total.broadband_capex;
    for v in [
        &mut total.mobile_capex,
        &mut total.mobile_cost,
        &mut total.broadband_capex,
        &mut total.total_capex,
        &mut total.broadband_fibre_km,
    ] {
        *v = round(*v, 2);
    }
    Investment {
        currency: currency.to_string(),
        horizon_years,
        targets: sel.targets.clone(),
        mobile_targets_met: sel.targets_met,
        ports_target: bb.totals.ports_target,
        by_region,
        total,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apportion_is_exact_and_proportional() {
        assert_eq!(apportion(10, &[1, 1, 1]), vec![4, 3, 3]);
        assert_eq!(apportion(100, &[3, 1, 0]), vec![75, 25, 0]);
        assert_eq!(apportion(7, &[0, 0]), vec![0, 0]);
        let v = apportion(1_000_000, &[123, 456, 789, 1011]);
        assert_eq!(v.iter().sum::<u64>(), 1_000_000);
    }

    #[test]
    fn bad_target_is_rejected() {
        let c: InvestConfig = toml::from_str("[targets]\nsettlements_pct = 120").unwrap();
        assert_eq!(
            c.problems(),
            vec!["invest.targets.settlements_pct = 120 must be a percentage in [0, 100]"]
        );
    }
}
