//! The `planner plan` pipeline: a first coverage run ([`crate::analyze`]), candidate sites and
//! the targets each would cover ([`crate::plan::candidates`]), their costs
//! ([`crate::plan::cost`]), greedy selection ([`crate::plan::greedy`]) until the `[plan]`
//! targets, budget or site cap, and a coverage run with the picks built. The `[plan]` settings
//! and the result types live in [`crate::plan`]; the JSON, text and files of a plan are
//! rendered in `render::plan`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use geodata::{Cell, Dataset};
use serde::Serialize;

use crate::analyze::{self, Analysis, RunOptions};
use crate::config::PlannerConfig;
use crate::gaps::RegionLocator;
use crate::numbers::round;
use crate::plan::candidates::{self, Candidate, Generation};
use crate::plan::cost::{self, SiteCost};
use crate::plan::greedy::{self, Instance, Limits};
use crate::plan::{CoverageTargets, CurvePoint, Gain, PlanConfig, PlannedSite, Selection};
use crate::targets::TargetKind;

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
