//! Site planning (`planner plan`): candidate sites, their coverage of the targets still without
//! mobile Internet, a cost model, and greedy maximal covering with lazy re-evaluation until a
//! budget, a number of sites or a coverage target is reached; ranked picks and a coverage curve.
//!
//! The objective is weighted uncovered population plus weighted highway-km (`[plan.weights]`).
//! Candidates are evaluated one at a time against the uncovered targets with the same engine and
//! link budget as `planner analyze`; mobile Internet of a set of sites is the union of what each
//! site gives, so the objective is monotone submodular and the greedy bound holds. After the
//! picks, a full coverage run over existing + proposed sites gives `coverage_after`.

pub mod candidates;
pub mod cost;
pub mod greedy;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use geodata::{Cell, Dataset, Technology};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::analyze::{self, Analysis, RunOptions};
use crate::config::PlannerConfig;
use crate::gaps::RegionLocator;
use crate::numbers::round;
use crate::targets::TargetKind;
use candidates::{Candidate, Generation, RoadCandidates, Source};
use cost::{CostModel, SiteCost, SiteType};
use greedy::{Instance, Limits, Rank, StopReason};

/// Coverage targets, percent; planning stops when every one given is reached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CoverageTargets {
    /// Share of settlements with mobile Internet, %.
    pub settlements_pct: Option<f64>,
    /// Share of population with mobile Internet, %.
    pub population_pct: Option<f64>,
    /// Share of international highway km with mobile Internet, %.
    pub international_road_km_pct: Option<f64>,
}

impl Default for CoverageTargets {
    fn default() -> Self {
        // The programme's stated goals: every settlement, 95 % of international highway km.
        CoverageTargets {
            settlements_pct: Some(100.0),
            population_pct: None,
            international_road_km_pct: Some(95.0),
        }
    }
}

/// Objective weights: the value of covering one person, settlement or road km.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Weights {
    /// Per person newly covered.
    pub population: f64,
    /// Per settlement newly covered (so small villages count too).
    pub settlement: f64,
    /// Per km of international highway newly covered.
    pub international_road_km: f64,
    /// Per km of any other road newly covered.
    pub road_km: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            population: 1.0,
            settlement: 1000.0,
            international_road_km: 200.0,
            road_km: 0.0,
        }
    }
}

/// One cell of the standard candidate site (`[[plan.site.cells]]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CellSpec {
    /// `2g`, `3g`, `4g` or `5g`.
    pub technology: String,
    pub band_mhz: f64,
    pub eirp_dbm: f64,
    pub azimuth_deg: Option<f64>,
    pub beamwidth_deg: Option<f64>,
    pub tilt_deg: Option<f64>,
}

/// The standard macro site placed at every candidate (`[plan.site]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StandardSite {
    /// Mast antenna height, metres (new builds, generated candidates).
    pub height_m: f64,
    /// Antenna height on rooftops, metres.
    pub rooftop_height_m: f64,
    pub cells: Vec<CellSpec>,
}

impl Default for StandardSite {
    fn default() -> Self {
        // Omni approximation of a three-sector site: LTE 800 (coverage layer) and UMTS 2100.
        StandardSite {
            height_m: 30.0,
            rooftop_height_m: 20.0,
            cells: vec![
                CellSpec {
                    technology: "4g".into(),
                    band_mhz: 800.0,
                    eirp_dbm: 61.0,
                    azimuth_deg: None,
                    beamwidth_deg: None,
                    tilt_deg: None,
                },
                CellSpec {
                    technology: "3g".into(),
                    band_mhz: 2100.0,
                    eirp_dbm: 58.0,
                    azimuth_deg: None,
                    beamwidth_deg: None,
                    tilt_deg: None,
                },
            ],
        }
    }
}

/// `[plan]` section of the planner config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlanConfig {
    /// CSV of user candidates `id,lon,lat,type[,height_m]`, relative to the config's folder.
    pub candidates_csv: Option<PathBuf>,
    /// Offer existing 2G-only sites as tower-sharing upgrades.
    pub existing_sites: bool,
    /// Generate a candidate at every settlement without mobile Internet.
    pub from_settlements: bool,
    /// Generate candidates along uncovered stretches: `international`, `all` or `none`.
    pub from_roads: RoadCandidates,
    /// Spacing of generated road candidates, metres.
    pub road_spacing_m: f64,
    /// Generated candidates closer than this to another are dropped, metres.
    pub min_spacing_m: f64,
    /// Settlements with at least this population get a rooftop candidate.
    pub rooftop_min_population: u64,
    /// `gain_per_cost` (default) or `gain`.
    pub rank: Rank,
    pub max_sites: Option<usize>,
    /// Total cost cap (capex + opex over the horizon), in the cost model's currency.
    pub budget: Option<f64>,
    pub targets: CoverageTargets,
    pub weights: Weights,
    pub site: StandardSite,
    pub cost: CostModel,
}

impl Default for PlanConfig {
    fn default() -> Self {
        PlanConfig {
            candidates_csv: None,
            existing_sites: true,
            from_settlements: true,
            from_roads: RoadCandidates::International,
            road_spacing_m: 8_000.0,
            min_spacing_m: 1_500.0,
            rooftop_min_population: 20_000,
            rank: Rank::GainPerCost,
            max_sites: None,
            budget: None,
            targets: CoverageTargets::default(),
            weights: Weights::default(),
            site: StandardSite::default(),
            cost: CostModel::default(),
        }
    }
}

impl PlanConfig {
    /// Every rule on values, checked at once.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        for (k, v) in [
            ("plan.road_spacing_m", self.road_spacing_m),
            ("plan.min_spacing_m", self.min_spacing_m),
            ("plan.site.height_m", self.site.height_m),
            ("plan.site.rooftop_height_m", self.site.rooftop_height_m),
        ] {
            if !(v.is_finite() && v >= 1.0) {
                p.push(format!("{k} = {v} must be at least 1 metre"));
            }
        }
        for (k, v) in [
            ("settlements_pct", self.targets.settlements_pct),
            ("population_pct", self.targets.population_pct),
            (
                "international_road_km_pct",
                self.targets.international_road_km_pct,
            ),
        ] {
            if let Some(v) = v {
                if !(0.0..=100.0).contains(&v) {
                    p.push(format!(
                        "plan.targets.{k} = {v} must be a percentage in [0, 100]"
                    ));
                }
            }
        }
        let w = &self.weights;
        for (k, v) in [
            ("population", w.population),
            ("settlement", w.settlement),
            ("international_road_km", w.international_road_km),
            ("road_km", w.road_km),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                p.push(format!(
                    "plan.weights.{k} = {v} must be a finite number ≥ 0"
                ));
            }
        }
        if w.population + w.settlement + w.international_road_km + w.road_km <= 0.0 {
            p.push("plan.weights: all weights are 0, nothing would be worth covering; give population or international_road_km a positive weight".into());
        }
        if let Some(b) = self.budget {
            if !(b.is_finite() && b > 0.0) {
                p.push(format!("plan.budget = {b} must be a positive amount"));
            }
        }
        if self.max_sites == Some(0) {
            p.push("plan.max_sites = 0: give a positive number of sites or leave it out".into());
        }
        if self.site.cells.is_empty() {
            p.push(
                "plan.site.cells is empty: the standard site needs at least one 3G/4G/5G cell"
                    .into(),
            );
        }
        for (i, c) in self.site.cells.iter().enumerate() {
            if Technology::parse(&c.technology).is_none() {
                p.push(format!(
                    "plan.site.cells[{i}].technology = `{}` is not 2g, 3g, 4g or 5g",
                    c.technology
                ));
            }
            if !(c.band_mhz.is_finite() && c.band_mhz > 0.0) {
                p.push(format!(
                    "plan.site.cells[{i}].band_mhz = {} must be > 0 MHz",
                    c.band_mhz
                ));
            }
            if !(c.eirp_dbm.is_finite() && (-30.0..=100.0).contains(&c.eirp_dbm)) {
                p.push(format!(
                    "plan.site.cells[{i}].eirp_dbm = {} must be in [-30, 100] dBm",
                    c.eirp_dbm
                ));
            }
        }
        if !self.site.cells.is_empty()
            && self
                .site
                .cells
                .iter()
                .all(|c| Technology::parse(&c.technology) == Some(Technology::G2))
        {
            p.push("plan.site.cells: only 2G cells; a site must carry 3G, 4G or 5G to give mobile Internet".into());
        }
        p.extend(self.cost.problems("plan.cost"));
        p
    }

    /// The standard site's cells.
    pub fn cells(&self) -> Vec<Cell> {
        self.site
            .cells
            .iter()
            .filter_map(|c| {
                Some(Cell {
                    technology: Technology::parse(&c.technology)?,
                    band_mhz: c.band_mhz,
                    eirp_dbm: c.eirp_dbm,
                    azimuth_deg: c.azimuth_deg,
                    beamwidth_deg: c.beamwidth_deg,
                    tilt_deg: c.tilt_deg,
                })
            })
            .collect()
    }
}

/// Totals over the targets, to turn covered flags into percentages.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Tally {
    pub settlements: u64,
    pub population: u64,
    pub international_road_km: f64,
    pub road_km: f64,
}

/// What one target stands for in the objective and the curve.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Element {
    settlement: bool,
    population: u64,
    km: f64,
    international: bool,
}

fn element(ds: &Dataset, kind: &TargetKind) -> Option<Element> {
    match *kind {
        TargetKind::Settlement { index } => Some(Element {
            settlement: true,
            population: ds.settlements[index as usize].population,
            km: 0.0,
            international: false,
        }),
        TargetKind::Road { road, length_m, .. } => Some(Element {
            settlement: false,
            population: 0,
            km: length_m / 1000.0,
            international: ds.roads[road as usize].international,
        }),
        TargetKind::Grid { .. } | TargetKind::Point { .. } => None,
    }
}

impl Tally {
    fn add(&mut self, e: &Element) {
        if e.settlement {
            self.settlements += 1;
            self.population += e.population;
        } else {
            self.road_km += e.km;
            if e.international {
                self.international_road_km += e.km;
            }
        }
    }
}

fn pct(part: f64, total: f64) -> f64 {
    if total > 0.0 {
        round(100.0 * part / total, 3)
    } else {
        100.0
    }
}

/// One point of the coverage curve (mobile Internet).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CurvePoint {
    pub sites: usize,
    pub cost: f64,
    pub capex: f64,
    pub settlements_covered: u64,
    pub settlements_covered_pct: f64,
    pub population_covered: u64,
    pub population_covered_pct: f64,
    pub international_road_km_covered: f64,
    pub international_road_km_covered_pct: f64,
}

/// Marginal gain of one pick.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gain {
    pub population: u64,
    pub settlements: u64,
    pub highway_km: f64,
    pub road_km: f64,
    /// Weighted objective gained.
    pub objective: f64,
    /// Ranking score at pick time (objective, or objective per unit cost).
    pub score: f64,
}

/// A proposed site, in pick order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedSite {
    pub rank: usize,
    /// Index into the candidates the plan was prepared with: picks are kept by index, never
    /// looked up again by id.
    #[serde(skip)]
    pub candidate: usize,
    pub id: String,
    pub lon: f64,
    pub lat: f64,
    #[serde(rename = "type")]
    pub site_type: SiteType,
    pub source: Source,
    pub region: String,
    pub height_m: f64,
    pub cost: f64,
    pub capex: f64,
    pub opex_per_year: f64,
    pub backhaul: cost::Backhaul,
    pub marginal_gain: Gain,
    pub cumulative_cost: f64,
}

/// Candidates with their coverage sets and costs, ready for selection.
#[derive(Debug)]
pub struct Prepared {
    pub config: PlanConfig,
    pub before: Analysis,
    pub candidates: Vec<Candidate>,
    pub costs: Vec<SiteCost>,
    /// Target index (into `before.targets.items`) of each element of the covering instance.
    pub element_targets: Vec<usize>,
    pub instance: Instance,
    elements: Vec<Element>,
    /// Totals over all targets and what was covered before planning.
    pub total: Tally,
    pub covered_before: Tally,
    pub cells: Vec<Cell>,
}

/// The selected sites and the coverage they buy.
#[derive(Debug)]
pub struct Selection {
    pub sites: Vec<PlannedSite>,
    pub curve: Vec<CurvePoint>,
    pub stop: StopReason,
    pub targets_met: bool,
    pub gain_evaluations: u64,
    pub targets: CoverageTargets,
}

/// Options beyond the config file.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    pub threads: Option<usize>,
    pub progress: bool,
}

/// Analysis run settings for planning: no grid (only settlements and roads matter).
fn plan_cfg(cfg: &PlannerConfig) -> PlannerConfig {
    let mut c = cfg.clone();
    c.analysis.grid = None;
    c
}

/// First coverage run, candidates and their coverage sets.
pub fn prepare(
    ds: &Dataset,
    cfg: &PlannerConfig,
    base_dir: &Path,
    opts: &PlanOptions,
) -> anyhow::Result<Prepared> {
    let pc = cfg.plan.clone();
    let problems = pc.problems();
    if !problems.is_empty() {
        anyhow::bail!(
            "[plan] has {} problem(s):\n  - {}",
            problems.len(),
            problems.join("\n  - ")
        );
    }
    prepare_with(ds, cfg, pc, base_dir, opts)
}

/// [`prepare`] with an already parsed `[plan]` section.
pub fn prepare_with(
    ds: &Dataset,
    cfg: &PlannerConfig,
    pc: PlanConfig,
    base_dir: &Path,
    opts: &PlanOptions,
) -> anyhow::Result<Prepared> {
    // The user's list first: a typo there should not wait for a coverage run.
    let user = match &pc.candidates_csv {
        Some(p) => {
            let p = if p.is_relative() {
                base_dir.join(p)
            } else {
                p.clone()
            };
            candidates::read_csv(&p, pc.site.height_m)?
        }
        None => Vec::new(),
    };
    let acfg = plan_cfg(cfg);
    let run_opts = RunOptions {
        threads: opts.threads,
        progress: opts.progress,
        ..Default::default()
    };
    let before = analyze::run(ds, &acfg, &run_opts).context("coverage analysis before planning")?;
    let gen = Generation {
        existing_sites: pc.existing_sites,
        from_settlements: pc.from_settlements,
        from_roads: pc.from_roads,
        road_spacing_m: pc.road_spacing_m,
        min_spacing_m: pc.min_spacing_m,
        rooftop_min_population: pc.rooftop_min_population,
        height_m: pc.site.height_m,
        rooftop_height_m: pc.site.rooftop_height_m,
    };
    let cands = candidates::generate(ds, &before.coverage, &before.gaps, &gen, user);

    let mut total = Tally::default();
    let mut covered_before = Tally::default();
    let mut element_targets = Vec::new();
    let mut elements = Vec::new();
    for (i, t) in before.targets.items.iter().enumerate() {
        let Some(e) = element(ds, &t.kind) else {
            continue;
        };
        total.add(&e);
        if before.coverage.mobile_internet(i) {
            covered_before.add(&e);
        } else {
            element_targets.push(i);
            elements.push(e);
        }
    }
    let w = &pc.weights;
    let weights: Vec<f64> = elements
        .iter()
        .map(|e| {
            if e.settlement {
                w.population * e.population as f64 + w.settlement
            } else {
                e.km * (w.road_km
                    + if e.international {
                        w.international_road_km
                    } else {
                        0.0
                    })
            }
        })
        .collect();
    let model = crate::coverage::propagation::build_model(&acfg.model)?;
    let cells = pc.cells();
    let el_targets: Vec<crate::targets::Target> = element_targets
        .iter()
        .map(|&i| before.targets.items[i])
        .collect();
    let sets = crate::coverage::with_threads(opts.threads, || {
        candidates::coverage_sets(
            ds,
            model.as_ref(),
            &before.settings,
            &cells,
            &el_targets,
            &cands,
        )
    })
    .context("cannot start worker threads")??;

    let fibre_techs: Vec<geodata::FixedTechnology> = pc
        .cost
        .backhaul
        .fibre_node_technologies
        .iter()
        .filter_map(|t| geodata::FixedTechnology::parse(t))
        .collect();
    let fibre: Vec<&geodata::FixedNode> = ds
        .fixed_nodes
        .iter()
        .filter(|n| fibre_techs.contains(&n.technology))
        .collect();
    let nearest = cost::nearest_nodes(
        &fibre.iter().map(|n| (n.lon, n.lat)).collect::<Vec<_>>(),
        &cands.iter().map(|c| (c.lon, c.lat)).collect::<Vec<_>>(),
    );
    let costs: Vec<SiteCost> = cands
        .iter()
        .zip(&nearest)
        .map(|(c, n)| {
            pc.cost
                .site_cost(c.site_type, n.map(|(i, d)| (fibre[i].id.as_str(), d)))
        })
        .collect();
    let instance = Instance {
        weights,
        sets,
        costs: costs.iter().map(|c| c.cost).collect(),
    };
    Ok(Prepared {
        config: pc,
        before,
        candidates: cands,
        costs,
        element_targets,
        instance,
        elements,
        total,
        covered_before,
        cells,
    })
}

impl Prepared {
    fn tally(&self, covered: &[bool]) -> Tally {
        let mut t = self.covered_before.clone();
        for (e, &c) in self.elements.iter().zip(covered) {
            if c {
                t.add(e);
            }
        }
        t
    }

    fn curve_point(&self, sites: usize, cost: f64, capex: f64, t: &Tally) -> CurvePoint {
        CurvePoint {
            sites,
            cost: round(cost, 2),
            capex: round(capex, 2),
            settlements_covered: t.settlements,
            settlements_covered_pct: pct(t.settlements as f64, self.total.settlements as f64),
            population_covered: t.population,
            population_covered_pct: pct(t.population as f64, self.total.population as f64),
            international_road_km_covered: round(t.international_road_km, 3),
            international_road_km_covered_pct: pct(
                t.international_road_km,
                self.total.international_road_km,
            ),
        }
    }

    /// Whether a tally meets every target given.
    pub fn meets(&self, t: &Tally, targets: &CoverageTargets) -> bool {
        let ok = |target: Option<f64>, part: f64, total: f64| {
            // Compare unrounded shares, with a hair of slack for float sums of road km.
            target.map_or(true, |p| total <= 0.0 || 100.0 * part / total >= p - 1e-9)
        };
        ok(
            targets.settlements_pct,
            t.settlements as f64,
            self.total.settlements as f64,
        ) && ok(
            targets.population_pct,
            t.population as f64,
            self.total.population as f64,
        ) && ok(
            targets.international_road_km_pct,
            t.international_road_km,
            self.total.international_road_km,
        )
    }

    /// Greedy selection (lazy) until the targets, the site count or the budget is reached.
    pub fn select(&self, targets: &CoverageTargets, limits: Limits, ds: &Dataset) -> Selection {
        let start = vec![false; self.elements.len()];
        let out = greedy::lazy(&self.instance, &start, self.config.rank, limits, |cov| {
            self.meets(&self.tally(cov), targets)
        });
        let locator = RegionLocator::new(ds);
        let mut covered = start;
        let mut curve = vec![self.curve_point(0, 0.0, 0.0, &self.covered_before)];
        let mut sites = Vec::new();
        let (mut cost_sum, mut capex_sum) = (0.0, 0.0);
        for (k, p) in out.picks.iter().enumerate() {
            let c = &self.candidates[p.candidate];
            let sc = &self.costs[p.candidate];
            let mut g = Gain {
                population: 0,
                settlements: 0,
                highway_km: 0.0,
                road_km: 0.0,
                objective: round(p.gain, 3),
                score: p.score,
            };
            for &e in &self.instance.sets[p.candidate] {
                if covered[e as usize] {
                    continue;
                }
                covered[e as usize] = true;
                let el = &self.elements[e as usize];
                if el.settlement {
                    g.settlements += 1;
                    g.population += el.population;
                } else {
                    g.road_km += el.km;
                    if el.international {
                        g.highway_km += el.km;
                    }
                }
            }
            g.road_km = round(g.road_km, 3);
            g.highway_km = round(g.highway_km, 3);
            cost_sum += sc.cost;
            capex_sum += sc.capex;
            let region = locator
                .locate(c.lon, c.lat)
                .map(|r| ds.regions[r].code.clone())
                .unwrap_or_default();
            sites.push(PlannedSite {
                rank: k + 1,
                candidate: p.candidate,
                id: c.id.clone(),
                lon: round(c.lon, 6),
                lat: round(c.lat, 6),
                site_type: c.site_type,
                source: c.source,
                region,
                height_m: c.height_m,
                cost: round(sc.cost, 2),
                capex: round(sc.capex, 2),
                opex_per_year: round(sc.opex_per_year, 2),
                backhaul: sc.backhaul.clone(),
                marginal_gain: g,
                cumulative_cost: round(cost_sum, 2),
            });
            curve.push(self.curve_point(k + 1, cost_sum, capex_sum, &self.tally(&covered)));
        }
        let targets_met = self.meets(&self.tally(&covered), targets);
        Selection {
            sites,
            curve,
            stop: out.stop,
            targets_met,
            gain_evaluations: out.evaluations,
            targets: targets.clone(),
        }
    }

    /// The dataset with the selection's sites added (ids as picked).
    pub fn with_sites(&self, ds: &Dataset, sel: &Selection) -> Dataset {
        let mut out = ds.clone();
        for s in &sel.sites {
            out.sites
                .push(self.candidates[s.candidate].site(&self.cells));
        }
        out
    }
}

/// A finished plan: the picks, the curve, and full analyses before and after.
#[derive(Debug)]
pub struct Plan {
    pub prepared: Prepared,
    pub selection: Selection,
    pub after: Analysis,
    /// Candidates per source.
    pub candidate_counts: BTreeMap<&'static str, usize>,
}

/// Runs the whole planning pipeline on a loaded dataset.
pub fn plan(
    ds: &Dataset,
    cfg: &PlannerConfig,
    base_dir: &Path,
    opts: &PlanOptions,
) -> anyhow::Result<Plan> {
    let prepared = prepare(ds, cfg, base_dir, opts)?;
    let limits = Limits {
        max_picks: prepared.config.max_sites,
        budget: prepared.config.budget,
    };
    let targets = prepared.config.targets.clone();
    let selection = prepared.select(&targets, limits, ds);
    finish(ds, cfg, prepared, selection, opts)
}

/// Re-runs coverage with the proposed sites added.
pub fn finish(
    ds: &Dataset,
    cfg: &PlannerConfig,
    prepared: Prepared,
    selection: Selection,
    opts: &PlanOptions,
) -> anyhow::Result<Plan> {
    let ds_after = prepared.with_sites(ds, &selection);
    let after = analyze::run(
        &ds_after,
        &plan_cfg(cfg),
        &RunOptions {
            threads: opts.threads,
            progress: opts.progress,
            ..Default::default()
        },
    )
    .context("coverage analysis with the proposed sites")?;
    let mut candidate_counts = BTreeMap::new();
    for c in &prepared.candidates {
        *candidate_counts.entry(c.source.as_str()).or_default() += 1;
    }
    Ok(Plan {
        prepared,
        selection,
        after,
        candidate_counts,
    })
}

/// The `coverage` object of `planner analyze --json` for one analysis.
pub fn coverage_json(a: &Analysis) -> Value {
    analyze::report_json(&a.dataset, Some(a))["coverage"].clone()
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

/// `planner plan` arguments.
#[derive(clap::Args, Debug, Clone)]
pub struct PlanArgs {
    /// Planner config file (TOML) with optional [plan] section; default: embedded dataset.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Write plan.json, plan_sites.csv/.geojson and plan_curve.csv here.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print the plan as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// No progress bars.
    #[arg(long, short)]
    pub quiet: bool,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Candidate CSV (id,lon,lat,type[,height_m]); overrides plan.candidates_csv.
    #[arg(long, value_name = "CSV")]
    pub candidates: Option<PathBuf>,
    /// Stop after N sites (overrides plan.max_sites).
    #[arg(long, value_name = "N")]
    pub max_sites: Option<usize>,
    /// Total cost cap (overrides plan.budget).
    #[arg(long, value_name = "AMOUNT")]
    pub budget: Option<f64>,
    /// Target share of settlements with mobile Internet, % (overrides plan.targets).
    #[arg(long, value_name = "PCT")]
    pub target_settlements_pct: Option<f64>,
    /// Target share of population with mobile Internet, %.
    #[arg(long, value_name = "PCT")]
    pub target_population_pct: Option<f64>,
    /// Target share of international highway km with mobile Internet, %.
    #[arg(long, value_name = "PCT")]
    pub target_highway_pct: Option<f64>,
}

/// Loads the config (or the default) and its dataset.
pub fn load(config: Option<&Path>) -> anyhow::Result<(PlannerConfig, Dataset, PathBuf)> {
    let cfg = match config {
        Some(p) => PlannerConfig::load(p)?,
        None => PlannerConfig::default(),
    };
    let ds = analyze::load_dataset(&cfg)?;
    let base = cfg.base_dir.clone();
    Ok((cfg, ds, base))
}

/// Applies command-line overrides to the `[plan]` table.
fn apply_overrides(cfg: &mut PlannerConfig, a: &PlanArgs) -> anyhow::Result<()> {
    let pc = &mut cfg.plan;
    if let Some(c) = &a.candidates {
        // Relative to the working directory, like every other path on the command line.
        pc.candidates_csv = Some(std::path::absolute(c)?);
    }
    if a.max_sites.is_some() {
        pc.max_sites = a.max_sites;
    }
    if a.budget.is_some() {
        pc.budget = a.budget;
    }
    if a.target_settlements_pct.is_some()
        || a.target_population_pct.is_some()
        || a.target_highway_pct.is_some()
    {
        pc.targets = CoverageTargets {
            settlements_pct: a.target_settlements_pct,
            population_pct: a.target_population_pct,
            international_road_km_pct: a.target_highway_pct,
        };
    }
    let p = pc.problems();
    if !p.is_empty() {
        anyhow::bail!(
            "plan settings have {} problem(s):\n  - {}",
            p.len(),
            p.join("\n  - ")
        );
    }
    Ok(())
}

/// Runs `planner plan`. Errors are usage/input errors (exit code 2) unless they come from
/// writing outputs ([`crate::output::OutputError`], exit code 3).
pub fn run(args: &PlanArgs) -> anyhow::Result<()> {
    if args.threads == Some(0) {
        anyhow::bail!("--threads must be at least 1");
    }
    let (mut cfg, ds, base) = load(args.config.as_deref())?;
    apply_overrides(&mut cfg, args)?;
    // Before the computation, so an unwritable folder fails fast.
    let mut staging = args
        .out
        .as_deref()
        .map(crate::output::Staging::open)
        .transpose()?;
    let opts = PlanOptions {
        threads: args.threads.or(cfg.analysis.threads),
        progress: crate::coverage::progress_wanted(args.quiet),
    };
    let plan = plan(&ds, &cfg, &base, &opts)?;
    if args.json {
        let mut text =
            serde_json::to_string_pretty(&plan.to_json()).expect("JSON values serialize");
        text.push('\n');
        crate::output::print_stdout(&text)?;
    } else {
        crate::output::print_stdout(&plan.render_text())?;
    }
    if let Some(mut out) = staging.take() {
        plan.stage(&mut out)?;
        let dir = out.dir().to_path_buf();
        let w = out.commit()?;
        if !args.quiet {
            eprintln!("wrote {} files to {}", w.len(), dir.display());
        }
    }
    Ok(())
}
