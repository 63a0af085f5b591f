//! Greedy maximal covering (MCLP): pick candidates one at a time by marginal gain (or gain per
//! unit cost) over a fixed universe of weighted elements, with lazy re-evaluation (CELF).
//!
//! Coverage of a set of candidates is the union of their element sets, so the objective
//! `f(S) = Σ weight(e) for e ∈ ∪ sets(S)` is monotone submodular: plain greedy with unit costs
//! is within (1 − 1/e) of the optimum for a fixed number of picks (Nemhauser, Wolsey & Fisher,
//! 1978). A candidate's marginal gain can only shrink as picks accumulate, so its last computed
//! gain is an upper bound; CELF (Leskovec et al., 2007) keeps those bounds in a max-heap and
//! recomputes only the top until the top is fresh. Ties go to the lowest candidate index in both
//! versions, so the lazy picks are exactly the plain picks.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// A covering instance: weighted elements and, per candidate, the elements it covers and its cost.
#[derive(Debug, Clone, Default)]
pub struct Instance {
    /// Weight of each element (≥ 0).
    pub weights: Vec<f64>,
    /// Element indices covered by each candidate.
    pub sets: Vec<Vec<u32>>,
    /// Cost of each candidate (> 0 when ranking by gain per cost or with a budget).
    pub costs: Vec<f64>,
}

/// How candidates are ranked at each step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Rank {
    /// Largest marginal gain first (the classic (1 − 1/e) greedy for a number of sites).
    Gain,
    /// Largest marginal gain per unit cost first (cost-effective picks under a budget).
    #[default]
    GainPerCost,
}

/// When to stop picking.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Limits {
    /// Most candidates to pick.
    pub max_picks: Option<usize>,
    /// Total cost not to exceed; a candidate that does not fit the remaining budget is skipped.
    pub budget: Option<f64>,
}

/// One pick, in pick order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pick {
    pub candidate: usize,
    /// Marginal gain (sum of the weights it newly covers).
    pub gain: f64,
    /// The ranking score at pick time (gain, or gain / cost).
    pub score: f64,
    /// Cumulative cost after this pick.
    pub total_cost: f64,
}

/// Why the greedy stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The caller's target was reached.
    TargetReached,
    MaxPicks,
    /// No remaining candidate fits the budget.
    Budget,
    /// No remaining candidate adds anything.
    NoGain,
}

/// Result of a greedy run.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub picks: Vec<Pick>,
    pub stop: StopReason,
    /// Number of marginal-gain evaluations (shows what laziness saves).
    pub evaluations: u64,
}

struct State<'a> {
    inst: &'a Instance,
    covered: Vec<bool>,
    rank: Rank,
}

impl State<'_> {
    fn gain(&self, c: usize) -> f64 {
        self.inst.sets[c]
            .iter()
            .filter(|&&e| !self.covered[e as usize])
            .map(|&e| self.inst.weights[e as usize])
            .sum()
    }

    fn score(&self, c: usize, gain: f64) -> f64 {
        match self.rank {
            Rank::Gain => gain,
            Rank::GainPerCost => gain / self.inst.costs[c].max(f64::MIN_POSITIVE),
        }
    }

    fn take(&mut self, c: usize) {
        for &e in &self.inst.sets[c] {
            self.covered[e as usize] = true;
        }
    }
}

/// Plain greedy: every step recomputes every remaining candidate's marginal gain.
/// `done(covered)` is asked after each pick whether the caller's target is reached.
pub fn plain(
    inst: &Instance,
    initially_covered: &[bool],
    rank: Rank,
    limits: Limits,
    mut done: impl FnMut(&[bool]) -> bool,
) -> Outcome {
    let mut st = State {
        inst,
        covered: initially_covered.to_vec(),
        rank,
    };
    let mut alive: Vec<bool> = vec![true; inst.sets.len()];
    let mut picks = Vec::new();
    let mut total = 0.0;
    let mut evaluations = 0;
    if done(&st.covered) {
        return Outcome {
            picks,
            stop: StopReason::TargetReached,
            evaluations,
        };
    }
    loop {
        if limits.max_picks.is_some_and(|m| picks.len() >= m) {
            return Outcome {
                picks,
                stop: StopReason::MaxPicks,
                evaluations,
            };
        }
        let mut best: Option<(usize, f64, f64)> = None;
        let mut any_gain_over_budget = false;
        for (c, live) in alive.iter_mut().enumerate() {
            if !*live {
                continue;
            }
            evaluations += 1;
            let g = st.gain(c);
            if g <= 0.0 {
                *live = false;
                continue;
            }
            if limits.budget.is_some_and(|b| total + inst.costs[c] > b) {
                // Budget left only shrinks: this candidate can never fit again.
                *live = false;
                any_gain_over_budget = true;
                continue;
            }
            let s = st.score(c, g);
            if best.map_or(true, |(_, bs, _)| s > bs) {
                best = Some((c, s, g));
            }
        }
        let Some((c, s, g)) = best else {
            return Outcome {
                picks,
                stop: if any_gain_over_budget {
                    StopReason::Budget
                } else {
                    StopReason::NoGain
                },
                evaluations,
            };
        };
        alive[c] = false;
        st.take(c);
        total += inst.costs[c];
        picks.push(Pick {
            candidate: c,
            gain: g,
            score: s,
            total_cost: total,
        });
        if done(&st.covered) {
            return Outcome {
                picks,
                stop: StopReason::TargetReached,
                evaluations,
            };
        }
    }
}

/// Heap entry: an upper bound on a candidate's score, computed at pick round `round`.
#[derive(Debug, Clone, Copy)]
struct Entry {
    bound: f64,
    gain: f64,
    candidate: usize,
    round: usize,
}

impl PartialEq for Entry {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Entry {
    /// Larger bound first; on equal bounds the lower candidate index first (as in [`plain`]).
    fn cmp(&self, o: &Self) -> Ordering {
        self.bound
            .total_cmp(&o.bound)
            .then_with(|| o.candidate.cmp(&self.candidate))
    }
}

/// Lazy greedy (CELF): the same picks as [`plain`] with far fewer gain evaluations.
pub fn lazy(
    inst: &Instance,
    initially_covered: &[bool],
    rank: Rank,
    limits: Limits,
    mut done: impl FnMut(&[bool]) -> bool,
) -> Outcome {
    let mut st = State {
        inst,
        covered: initially_covered.to_vec(),
        rank,
    };
    let mut picks = Vec::new();
    let mut total = 0.0;
    let mut evaluations = 0;
    if done(&st.covered) {
        return Outcome {
            picks,
            stop: StopReason::TargetReached,
            evaluations,
        };
    }
    let mut heap: BinaryHeap<Entry> = (0..inst.sets.len())
        .filter_map(|c| {
            evaluations += 1;
            let g = st.gain(c);
            (g > 0.0).then(|| Entry {
                bound: st.score(c, g),
                gain: g,
                candidate: c,
                round: 0,
            })
        })
        .collect();
    let mut any_gain_over_budget = false;
    loop {
        if limits.max_picks.is_some_and(|m| picks.len() >= m) {
            return Outcome {
                picks,
                stop: StopReason::MaxPicks,
                evaluations,
            };
        }
        let round = picks.len();
        let pick = loop {
            let Some(top) = heap.pop() else { break None };
            if limits
                .budget
                .is_some_and(|b| total + inst.costs[top.candidate] > b)
            {
                // Never fits again; note it only if it still adds something (as `plain` does).
                evaluations += 1;
                any_gain_over_budget |= st.gain(top.candidate) > 0.0;
                continue;
            }
            if top.round == round {
                break Some(top);
            }
            evaluations += 1;
            let g = st.gain(top.candidate);
            if g > 0.0 {
                heap.push(Entry {
                    bound: st.score(top.candidate, g),
                    gain: g,
                    candidate: top.candidate,
                    round,
                });
            }
        };
        let Some(e) = pick else {
            return Outcome {
                picks,
                stop: if any_gain_over_budget {
                    StopReason::Budget
                } else {
                    StopReason::NoGain
                },
                evaluations,
            };
        };
        st.take(e.candidate);
        total += inst.costs[e.candidate];
        picks.push(Pick {
            candidate: e.candidate,
            gain: e.gain,
            score: e.bound,
            total_cost: total,
        });
        if done(&st.covered) {
            return Outcome {
                picks,
                stop: StopReason::TargetReached,
                evaluations,
            };
        }
    }
}

/// Covered weight of the union of `chosen` candidates' sets (for tests and reports).
pub fn covered_weight(inst: &Instance, initially_covered: &[bool], chosen: &[usize]) -> f64 {
    let mut cov = initially_covered.to_vec();
    for &c in chosen {
        for &e in &inst.sets[c] {
            cov[e as usize] = true;
        }
    }
    cov.iter()
        .zip(&inst.weights)
        .filter(|(c, _)| **c)
        .map(|(_, w)| w)
        .sum()
}
