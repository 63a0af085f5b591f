//! Greedy maximal covering against brute force: the (1 − 1/e) bound, optimality on a designed
//! case, and lazy re-evaluation (CELF) picking exactly what plain greedy picks.

use planner::plan::greedy::{self, covered_weight, Instance, Limits, Rank, StopReason};
use proptest::prelude::*;

/// Best covered weight over all subsets of exactly `k` candidates (unit costs).
fn brute_force_opt(inst: &Instance, k: usize) -> (f64, Vec<usize>) {
    let n = inst.sets.len();
    let none = vec![false; inst.weights.len()];
    let mut best = (f64::NEG_INFINITY, Vec::new());
    for mask in 0u32..(1 << n) {
        if mask.count_ones() as usize != k {
            continue;
        }
        let chosen: Vec<usize> = (0..n).filter(|i| mask & (1 << i) != 0).collect();
        let w = covered_weight(inst, &none, &chosen);
        if w > best.0 {
            best = (w, chosen);
        }
    }
    best
}

fn unit(weights: Vec<f64>, sets: Vec<Vec<u32>>) -> Instance {
    let costs = vec![1.0; sets.len()];
    Instance {
        weights,
        sets,
        costs,
    }
}

fn greedy_k(inst: &Instance, k: usize) -> Vec<usize> {
    let none = vec![false; inst.weights.len()];
    let limits = Limits {
        max_picks: Some(k),
        budget: None,
    };
    greedy::lazy(inst, &none, Rank::Gain, limits, |_| false)
        .picks
        .iter()
        .map(|p| p.candidate)
        .collect()
}

/// A seeded random instance: `n` candidates over `m` weighted elements.
fn random_instance(seed: u64, n: usize, m: usize) -> Instance {
    let mut rng = planner::synth::Rng::new(seed);
    let weights = (0..m).map(|_| (rng.range(1.0, 100.0)).round()).collect();
    let sets = (0..n)
        .map(|_| {
            (0..m as u32)
                .filter(|_| rng.unit() < 0.3)
                .collect::<Vec<u32>>()
        })
        .collect();
    let costs = (0..n).map(|_| rng.range(1.0, 10.0).round()).collect();
    Instance {
        weights,
        sets,
        costs,
    }
}

#[test]
fn greedy_reaches_at_least_1_minus_1_over_e_of_the_brute_force_optimum() {
    let bound = 1.0 - (-1.0f64).exp();
    let none_for = |i: &Instance| vec![false; i.weights.len()];
    let mut worst: f64 = 1.0;
    for seed in 0..60 {
        let mut inst = random_instance(seed, 10, 14);
        inst.costs = vec![1.0; inst.sets.len()];
        for k in 1..=4 {
            let (opt, _) = brute_force_opt(&inst, k);
            let picks = greedy_k(&inst, k);
            let got = covered_weight(&inst, &none_for(&inst), &picks);
            assert!(opt > 0.0);
            assert!(
                got >= bound * opt - 1e-9,
                "seed {seed} k {k}: greedy {got} < (1 − 1/e) × OPT {opt}"
            );
            assert!(got <= opt + 1e-9, "greedy cannot beat the optimum");
            worst = worst.min(got / opt);
        }
    }
    // The bound is a floor, not the typical result; on these instances greedy is far above it.
    assert!(worst >= bound);
}

#[test]
fn greedy_is_not_always_optimal_but_stays_above_the_bound() {
    // Classic trap: a big set overlapping two disjoint sets that together cover more.
    let inst = unit(
        vec![1.0; 6],
        vec![vec![0, 1, 3, 4], vec![0, 1, 2], vec![3, 4, 5]],
    );
    let (opt, opt_set) = brute_force_opt(&inst, 2);
    assert_eq!((opt, opt_set), (6.0, vec![1, 2]));
    let picks = greedy_k(&inst, 2);
    assert_eq!(picks[0], 0);
    let got = covered_weight(&inst, &[false; 6], &picks);
    assert_eq!(got, 5.0);
    assert!(got >= (1.0 - (-1.0f64).exp()) * opt);
}

#[test]
fn greedy_equals_the_optimum_on_a_designed_case() {
    // Nested and disjoint sets with distinct weights: each greedy step is forced and optimal.
    let inst = unit(
        vec![50.0, 40.0, 30.0, 20.0, 10.0, 5.0, 1.0],
        vec![
            vec![0],       // 50
            vec![0, 1],    // 90: dominates 0
            vec![2, 3],    // 50
            vec![4, 5, 6], // 16
            vec![1, 2],    // 70, overlaps both
            vec![3],       // 20
        ],
    );
    for k in 1..=4 {
        let (opt, opt_set) = brute_force_opt(&inst, k);
        let picks = greedy_k(&inst, k);
        let got = covered_weight(&inst, &[false; 7], &picks);
        assert_eq!(got, opt, "k = {k}: greedy {picks:?} vs optimum {opt_set:?}");
    }
    assert_eq!(greedy_k(&inst, 3), vec![1, 2, 3]);
}

#[test]
fn marginal_gains_shrink_and_add_up() {
    let inst = random_instance(7, 30, 60);
    let none = vec![false; inst.weights.len()];
    let out = greedy::lazy(&inst, &none, Rank::Gain, Limits::default(), |_| false);
    assert_eq!(out.stop, StopReason::NoGain);
    let gains: Vec<f64> = out.picks.iter().map(|p| p.gain).collect();
    assert!(gains.windows(2).all(|w| w[0] >= w[1]), "{gains:?}");
    let chosen: Vec<usize> = out.picks.iter().map(|p| p.candidate).collect();
    let sum: f64 = gains.iter().sum();
    assert!((covered_weight(&inst, &none, &chosen) - sum).abs() < 1e-9);
    // Every element some candidate covers is covered at the end.
    let reachable: f64 = (0..inst.weights.len())
        .filter(|&e| inst.sets.iter().any(|s| s.contains(&(e as u32))))
        .map(|e| inst.weights[e])
        .sum();
    assert!((sum - reachable).abs() < 1e-9);
}

#[test]
fn budget_and_target_stop_the_greedy() {
    let inst = random_instance(11, 25, 40);
    let none = vec![false; inst.weights.len()];
    let limits = Limits {
        max_picks: None,
        budget: Some(12.0),
    };
    let out = greedy::lazy(&inst, &none, Rank::GainPerCost, limits, |_| false);
    assert_eq!(out.stop, StopReason::Budget);
    assert!(out.picks.last().unwrap().total_cost <= 12.0);
    let total: f64 = inst.weights.iter().sum();
    let out = greedy::lazy(&inst, &none, Rank::Gain, Limits::default(), |cov| {
        let w: f64 = cov
            .iter()
            .zip(&inst.weights)
            .filter(|(c, _)| **c)
            .map(|(_, w)| w)
            .sum();
        w >= 0.5 * total
    });
    assert_eq!(out.stop, StopReason::TargetReached);
    let chosen: Vec<usize> = out.picks.iter().map(|p| p.candidate).collect();
    assert!(covered_weight(&inst, &none, &chosen) >= 0.5 * total);
    assert!(covered_weight(&inst, &none, &chosen[..chosen.len() - 1]) < 0.5 * total);
}

#[test]
fn lazy_saves_evaluations_on_a_larger_instance() {
    // Sparse sets, as with sites that each cover a few nearby targets.
    let mut rng = planner::synth::Rng::new(3);
    let m = 2000;
    let inst = Instance {
        weights: (0..m).map(|_| rng.range(1.0, 100.0).round()).collect(),
        sets: (0..400)
            .map(|_| (0..8).map(|_| (rng.unit() * m as f64) as u32).collect())
            .collect(),
        costs: vec![1.0; 400],
    };
    let none = vec![false; inst.weights.len()];
    let p = greedy::plain(&inst, &none, Rank::Gain, Limits::default(), |_| false);
    let l = greedy::lazy(&inst, &none, Rank::Gain, Limits::default(), |_| false);
    assert_eq!(p.picks, l.picks);
    assert!(
        l.evaluations * 10 < p.evaluations,
        "lazy {} vs plain {}",
        l.evaluations,
        p.evaluations
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Same picks, gains, scores and costs in the same order, whatever the instance, ranking,
    /// budget, pick limit or pre-covered elements (ties included: weights are small integers).
    #[test]
    fn lazy_picks_exactly_what_plain_greedy_picks(
        n in 1usize..25,
        m in 1usize..30,
        seed in any::<u64>(),
        by_cost in any::<bool>(),
        budget in proptest::option::of(1.0f64..60.0),
        max_picks in proptest::option::of(1usize..10),
        precovered in 0.0f64..0.5,
    ) {
        let mut rng = planner::synth::Rng::new(seed);
        let weights: Vec<f64> = (0..m).map(|_| (rng.range(0.0, 4.0)).floor()).collect();
        let sets: Vec<Vec<u32>> = (0..n)
            .map(|_| (0..m as u32).filter(|_| rng.unit() < 0.35).collect())
            .collect();
        let costs: Vec<f64> = (0..n).map(|_| rng.range(1.0, 5.0).floor()).collect();
        let start: Vec<bool> = (0..m).map(|_| rng.unit() < precovered).collect();
        let inst = Instance { weights, sets, costs };
        let rank = if by_cost { Rank::GainPerCost } else { Rank::Gain };
        let limits = Limits { max_picks, budget };
        let p = greedy::plain(&inst, &start, rank, limits, |_| false);
        let l = greedy::lazy(&inst, &start, rank, limits, |_| false);
        prop_assert_eq!(&p.picks, &l.picks);
        prop_assert!(l.evaluations <= p.evaluations + inst.sets.len() as u64);
    }
}
