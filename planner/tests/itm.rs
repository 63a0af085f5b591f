//! ITM against NTIA's published reference cases, the planner-model adapter, and property tests
//! over random profiles and parameters.

use std::collections::HashMap;
use std::path::PathBuf;

use planner::coverage::propagation::itm::{
    self, area, point_to_point, AreaPath, Climate, Itm, ItmConfig, ItmError, ItmMode, ItmParams,
    ItmWarning, Mdvar, Polarization, Profile, Quantiles, SitingCriteria, VariabilityMode,
};
use planner::coverage::propagation::{Link, PropagationError, PropagationMode, PropagationModel};
use proptest::prelude::*;

/// Counts heap allocations per thread, so a test can check that ITM's hot path allocates
/// nothing while other tests run in parallel threads.
mod alloc_counter {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    thread_local! {
        static COUNT: Cell<usize> = const { Cell::new(0) };
    }

    pub struct Counting;

    // Delegates to the system allocator; only adds a thread-local counter.
    #[allow(unsafe_code)]
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let _ = COUNT.try_with(|c| c.set(c.get() + 1));
            unsafe { System.alloc(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    pub fn count() -> usize {
        COUNT.with(Cell::get)
    }
}

#[global_allocator]
static ALLOCATOR: alloc_counter::Counting = alloc_counter::Counting;

fn data_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/itm")
        .join(name)
}

/// Rows of a headed CSV as column-name → value maps.
fn read_table(name: &str) -> Vec<HashMap<String, f64>> {
    let path = data_path(name);
    let mut rdr =
        csv::Reader::from_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let headers = rdr.headers().unwrap().clone();
    rdr.records()
        .enumerate()
        .map(|(i, rec)| {
            let rec = rec.unwrap_or_else(|e| panic!("{} row {}: {e}", path.display(), i + 2));
            headers
                .iter()
                .zip(rec.iter())
                .map(|(h, v)| {
                    let x = v.trim().parse::<f64>().unwrap_or_else(|e| {
                        panic!("{} row {} column {h}: {v:?}: {e}", path.display(), i + 2)
                    });
                    (h.to_string(), x)
                })
                .collect()
        })
        .collect()
}

/// The profiles of `pfls.csv`, each in ITM's `pfl` layout.
fn read_profiles() -> Vec<Vec<f64>> {
    let path = data_path("pfls.csv");
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_path(&path)
        .unwrap();
    rdr.records()
        .map(|rec| {
            rec.unwrap()
                .iter()
                .map(|v| v.trim().parse::<f64>().unwrap())
                .collect()
        })
        .collect()
}

fn params_from_row(r: &HashMap<String, f64>) -> ItmParams {
    ItmParams {
        tx_height_m: r["h_tx__meter"],
        rx_height_m: r["h_rx__meter"],
        climate: Climate::from_code(r["climate"] as i64).unwrap(),
        n0_n_units: r["N_0"],
        freq_mhz: r["f__mhz"],
        polarization: Polarization::from_code(r["pol"] as i64).unwrap(),
        epsilon: r["epsilon"],
        sigma_s_per_m: r["sigma"],
        mdvar: Mdvar::from_code(r["mdvar"] as i64).unwrap(),
        quantiles: Quantiles {
            time_pct: r["time"],
            location_pct: r["location"],
            situation_pct: r["situation"],
        },
    }
}

#[test]
fn point_to_point_matches_ntia_reference_cases() {
    let rows = read_table("p2p.csv");
    let profiles = read_profiles();
    assert_eq!(rows.len(), 5);
    assert_eq!(profiles.len(), rows.len());
    // Rows 2 and 5 (1-based) raise ITM warnings in NTIA's reference output; the others do not.
    let expect_warnings = [false, true, false, false, true];
    for (i, (row, pfl)) in rows.iter().zip(&profiles).enumerate() {
        let out = point_to_point(&params_from_row(row), Profile::from_pfl(pfl).unwrap()).unwrap();
        let expected = row["A__db"];
        assert!(
            (out.loss_db - expected).abs() <= 0.01,
            "p2p row {}: got {:.4} dB, NTIA reference {expected} dB",
            i + 1,
            out.loss_db
        );
        assert_eq!(
            !out.warnings.is_empty(),
            expect_warnings[i],
            "p2p row {}: warnings {:?}",
            i + 1,
            out.warnings.iter().collect::<Vec<_>>()
        );
    }
}

#[test]
fn area_mode_matches_ntia_reference_cases() {
    let rows = read_table("area.csv");
    assert_eq!(rows.len(), 5);
    for (i, row) in rows.iter().enumerate() {
        let path = AreaPath {
            distance_m: row["d__km"] * 1000.0,
            delta_h_m: row["delta_h__meter"],
            siting: [
                SitingCriteria::from_code(row["tx_siting_criteria"] as i64, false).unwrap(),
                SitingCriteria::from_code(row["rx_siting_criteria"] as i64, true).unwrap(),
            ],
        };
        let out = area(&params_from_row(row), &path).unwrap();
        let expected = row["A__db"];
        assert!(
            (out.loss_db - expected).abs() <= 0.1,
            "area row {}: got {:.3} dB, NTIA reference {expected} dB",
            i + 1,
            out.loss_db
        );
    }
}

/// Reference row 1 as a planner link through the `PropagationModel` trait.
fn row1_model_and_profile() -> (Itm, Vec<f64>, f64, f64) {
    let row = &read_table("p2p.csv")[0];
    let pfl = &read_profiles()[0];
    let config = ItmConfig {
        climate: Climate::from_code(row["climate"] as i64).unwrap(),
        surface_refractivity_n_units: row["N_0"],
        ground_permittivity: row["epsilon"],
        ground_conductivity_s_per_m: row["sigma"],
        polarization: Polarization::from_code(row["pol"] as i64).unwrap(),
        variability_mode: Mdvar::from_code(row["mdvar"] as i64).unwrap().mode,
        no_location_variability: true, // mdvar 12
        no_situation_variability: false,
        reliability_pct: row["time"],
        confidence_pct: row["situation"],
        location_pct: row["location"],
    };
    assert_eq!(config.mdvar().code(), row["mdvar"] as u8);
    let distance_m = pfl[0] * pfl[1];
    (
        Itm::new(config).unwrap(),
        pfl[2..].to_vec(),
        distance_m,
        row["A__db"],
    )
}

#[test]
fn model_trait_reproduces_reference_and_maps_mode() {
    let (model, profile, distance_m, expected) = row1_model_and_profile();
    assert_eq!(model.name(), "itm");
    assert!(model.needs_terrain());
    let link = Link {
        freq_mhz: 230.0,
        distance_m,
        tx_height_m: 10.0,
        rx_height_m: 1.0,
        profile_m: Some(&profile),
    };
    let loss = model.path_loss(&link).unwrap();
    assert!(
        (loss.loss_db - expected).abs() <= 0.01,
        "{} vs {expected}",
        loss.loss_db
    );
    let full = model.evaluate(&link).unwrap();
    // A 367 km path with mountains in between: ITM's troposcatter region.
    assert_eq!(full.mode, ItmMode::Troposcatter);
    assert_eq!(loss.mode, PropagationMode::Troposcatter);
    assert_eq!(itm::planner_mode(&full), loss.mode);
}

#[test]
fn blocked_paths_are_never_reported_as_line_of_sight() {
    // NTIA row 3: 28 km, a 393 m ridge between terminals at 23 m and 242 m ground. ITM v1.4
    // evaluates it on the line-of-sight part of its curve, but the terminals cannot see each
    // other, so the planner calls it diffraction.
    let row = &read_table("p2p.csv")[2];
    let pfl = &read_profiles()[2];
    let out = point_to_point(&params_from_row(row), Profile::from_pfl(pfl).unwrap()).unwrap();
    assert_eq!(out.mode, ItmMode::LineOfSight);
    assert!(!out.geometry.terrain_line_of_sight);
    assert_eq!(itm::planner_mode(&out), PropagationMode::Diffraction);

    // A clear path over gently sloping ground is line of sight both ways.
    let clear: Vec<f64> = (0..=100).map(|i| 100.0 + i as f64 * 0.2).collect();
    let model = Itm::new(ItmConfig::default()).unwrap();
    let link = Link {
        freq_mhz: 900.0,
        distance_m: 5_000.0,
        tx_height_m: 30.0,
        rx_height_m: 10.0,
        profile_m: Some(&clear),
    };
    let full = model.evaluate(&link).unwrap();
    assert!(full.geometry.terrain_line_of_sight);
    assert_eq!(
        model.path_loss(&link).unwrap().mode,
        PropagationMode::LineOfSight
    );
}

#[test]
fn model_reports_warnings_with_stable_codes() {
    let rows = read_table("p2p.csv");
    let pfl = &read_profiles()[1];
    let row = &rows[1];
    let direct = point_to_point(&params_from_row(row), Profile::from_pfl(pfl).unwrap()).unwrap();
    let config = ItmConfig {
        climate: Climate::from_code(row["climate"] as i64).unwrap(),
        polarization: Polarization::from_code(row["pol"] as i64).unwrap(),
        variability_mode: Mdvar::from_code(row["mdvar"] as i64).unwrap().mode,
        no_location_variability: true,
        reliability_pct: row["time"],
        confidence_pct: row["situation"],
        location_pct: row["location"],
        ..ItmConfig::default()
    };
    let model = Itm::new(config).unwrap();
    let link = Link {
        freq_mhz: row["f__mhz"],
        distance_m: pfl[0] * pfl[1],
        tx_height_m: row["h_tx__meter"],
        rx_height_m: row["h_rx__meter"],
        profile_m: Some(&pfl[2..]),
    };
    let loss = model.path_loss(&link).unwrap();
    let codes: Vec<&str> = loss.warnings.iter().map(|w| w.code).collect();
    let expected: Vec<&str> = direct.warnings.iter().map(ItmWarning::code).collect();
    assert!(!codes.is_empty());
    assert_eq!(codes, expected);
    for w in &loss.warnings {
        assert!(w.code.starts_with("itm_"), "{}", w.code);
        assert!(!w.message.is_empty());
    }
}

#[test]
fn short_paths_fall_back_and_say_so() {
    let model = Itm::new(ItmConfig::default()).unwrap();
    let flat = vec![100.0; 11];
    let link = Link {
        freq_mhz: 900.0,
        distance_m: 500.0,
        tx_height_m: 30.0,
        rx_height_m: 1.5,
        profile_m: Some(&flat),
    };
    let loss = model.path_loss(&link).unwrap();
    let fs = itm::free_space_db(500.0, 900.0);
    assert!(
        (loss.loss_db - fs).abs() < 1e-9,
        "clear short path is free space: {} vs {fs}",
        loss.loss_db
    );
    assert_eq!(loss.mode, PropagationMode::LineOfSight);
    assert_eq!(loss.warnings[0].code, "itm_short_range_fallback");
    assert!(
        loss.warnings[0].message.contains("1 km"),
        "{}",
        loss.warnings[0].message
    );

    let mut ridge = flat.clone();
    ridge[5] = 180.0;
    let blocked = model
        .path_loss(&Link {
            profile_m: Some(&ridge),
            ..link
        })
        .unwrap();
    assert!(
        blocked.loss_db > fs + 6.0,
        "a ridge above the ray adds diffraction loss"
    );
    assert_eq!(blocked.mode, PropagationMode::Diffraction);

    // Input range warnings are still reported on the fallback path.
    let low = model
        .path_loss(&Link {
            rx_height_m: 0.7,
            ..link
        })
        .unwrap();
    let codes: Vec<&str> = low.warnings.iter().map(|w| w.code).collect();
    assert_eq!(
        codes,
        ["itm_short_range_fallback", "itm_rx_height_out_of_range"]
    );
    assert!(
        low.warnings[1].message.contains("0.7 m"),
        "{}",
        low.warnings[1].message
    );
}

#[test]
fn invalid_inputs_are_typed_errors() {
    let model = Itm::new(ItmConfig::default()).unwrap();
    let profile = vec![0.0; 51];
    let ok = Link {
        freq_mhz: 900.0,
        distance_m: 10_000.0,
        tx_height_m: 30.0,
        rx_height_m: 1.5,
        profile_m: Some(&profile),
    };
    assert!(model.path_loss(&ok).is_ok());

    assert_eq!(
        model.path_loss(&Link {
            profile_m: None,
            ..ok
        }),
        Err(PropagationError::MissingProfile { model: "itm" })
    );
    let cases: [(Link<'_>, &str, &str); 5] = [
        (
            Link {
                freq_mhz: 30_000.0,
                ..ok
            },
            "freq_mhz",
            "outside 20..=20000 MHz",
        ),
        (
            Link {
                tx_height_m: 0.1,
                ..ok
            },
            "tx_height_m",
            "outside 0.5..=3000 m",
        ),
        (
            Link {
                rx_height_m: 5000.0,
                ..ok
            },
            "rx_height_m",
            "outside 0.5..=3000 m",
        ),
        (
            Link {
                distance_m: -5.0,
                ..ok
            },
            "distance_m",
            "positive",
        ),
        (
            Link {
                profile_m: Some(&profile[..1]),
                ..ok
            },
            "profile_m",
            "at least 2 points",
        ),
    ];
    for (link, param, text) in cases {
        match model.path_loss(&link) {
            Err(PropagationError::InvalidParameter {
                model,
                parameter,
                reason,
                ..
            }) => {
                assert_eq!(model, "itm");
                assert_eq!(parameter, param);
                assert!(reason.contains(text), "{param}: {reason}");
            }
            other => panic!("{param}: expected InvalidParameter, got {other:?}"),
        }
    }
    let mut voids = profile.clone();
    voids[7] = f64::NAN;
    let err = model
        .path_loss(&Link {
            profile_m: Some(&voids),
            ..ok
        })
        .unwrap_err();
    assert!(err.to_string().contains("index 7"), "{err}");

    // Raw API: ITM's own error codes.
    let p = ItmConfig::default().params(30.0, 1.5, 900.0);
    let prof = Profile {
        elevations_m: &profile,
        spacing_m: 200.0,
    };
    let bad_time = ItmParams {
        quantiles: Quantiles {
            time_pct: 100.0,
            ..p.quantiles
        },
        ..p
    };
    let e = point_to_point(&bad_time, prof).unwrap_err();
    assert_eq!(e, ItmError::InvalidTime { value_pct: 100.0 });
    assert_eq!(e.itm_code(), Some(1003));
    assert_eq!(Climate::from_code(8).unwrap_err().itm_code(), Some(1002));
    assert_eq!(Mdvar::from_code(5).unwrap_err().itm_code(), Some(1014));
    assert_eq!(Mdvar::from_code(23).unwrap().code(), 23);
    assert_eq!(
        Polarization::from_code(2).unwrap_err().itm_code(),
        Some(1010)
    );
    assert_eq!(
        area(
            &p,
            &AreaPath {
                distance_m: 0.0,
                delta_h_m: 10.0,
                siting: [SitingCriteria::Random; 2]
            }
        )
        .unwrap_err(),
        ItmError::PathDistance { value_m: 0.0 }
    );
    assert_eq!(
        area(
            &p,
            &AreaPath {
                distance_m: 1e4,
                delta_h_m: -1.0,
                siting: [SitingCriteria::Random; 2]
            }
        )
        .unwrap_err(),
        ItmError::DeltaH { value_m: -1.0 }
    );
    let high_n0 = ItmParams {
        n0_n_units: 450.0,
        ..p
    };
    assert_eq!(
        point_to_point(&high_n0, prof).unwrap_err().itm_code(),
        Some(1008)
    );
}

#[test]
fn config_is_strict_and_reports_every_problem() {
    let parsed: ItmConfig = toml::from_str(
        "climate = \"desert\"\nreliability_pct = 90\nconfidence_pct = 95\npolarization = \"horizontal\"\nvariability_mode = \"mobile\"",
    )
    .unwrap();
    assert_eq!(parsed.climate, Climate::Desert);
    assert_eq!(parsed.mdvar().code(), 2);
    assert_eq!(parsed.location_pct, 50.0);

    let unknown = toml::from_str::<ItmConfig>("reliabilty_pct = 90")
        .unwrap_err()
        .to_string();
    assert!(
        unknown.contains("unknown field `reliabilty_pct`"),
        "{unknown}"
    );

    let bad = ItmConfig {
        reliability_pct: 100.0,
        ground_conductivity_s_per_m: 0.0,
        surface_refractivity_n_units: 200.0,
        ..ItmConfig::default()
    };
    let err = Itm::new(bad).unwrap_err();
    assert_eq!(err.problems.len(), 3, "{err}");
    let text = err.to_string();
    assert!(
        text.contains("itm.reliability_pct = 100: must be strictly between 0 and 100"),
        "{text}"
    );
    assert!(
        text.contains("itm.ground_conductivity_s_per_m = 0: must be positive"),
        "{text}"
    );
    assert!(
        text.contains("itm.surface_refractivity_n_units = 200: must be 250..=400"),
        "{text}"
    );
}

#[test]
fn higher_reliability_means_more_loss() {
    let profile: Vec<f64> = (0..=300)
        .map(|i| 200.0 + 40.0 * ((i as f64) / 17.0).sin())
        .collect();
    let link = |m: &Itm| {
        m.path_loss(&Link {
            freq_mhz: 900.0,
            distance_m: 30_000.0,
            tx_height_m: 30.0,
            rx_height_m: 1.5,
            profile_m: Some(&profile),
        })
        .unwrap()
        .loss_db
    };
    let median = link(&Itm::new(ItmConfig::default()).unwrap());
    let high = link(
        &Itm::new(ItmConfig {
            reliability_pct: 95.0,
            location_pct: 95.0,
            ..ItmConfig::default()
        })
        .unwrap(),
    );
    let confident = link(
        &Itm::new(ItmConfig {
            confidence_pct: 95.0,
            ..ItmConfig::default()
        })
        .unwrap(),
    );
    assert!(high > median + 1.0, "{high} vs {median}");
    assert!(confident > median, "{confident} vs {median}");
}

#[test]
fn max_range_is_bounded_and_consistent() {
    let model = Itm::new(ItmConfig::default()).unwrap();
    let r = model.max_range_m(900.0, 30.0, 1.5, 140.0, 100_000.0);
    assert!(r > 1_000.0 && r < 100_000.0, "{r}");
    assert_eq!(model.max_range_m(900.0, 30.0, 1.5, 10.0, 100_000.0), 0.0);
    assert_eq!(
        model.max_range_m(900.0, 30.0, 1.5, 500.0, 50_000.0),
        50_000.0
    );
}

fn params_strategy() -> impl Strategy<Value = ItmParams> {
    (
        (
            0.5f64..3000.0,
            0.5f64..3000.0,
            0usize..7,
            250.0f64..400.0,
            20.0f64..20_000.0,
            any::<bool>(),
        ),
        (1.0f64..100.0, 0.0001f64..5.0, 0i64..34),
        (0.01f64..99.99, 0.01f64..99.99, 0.01f64..99.99),
    )
        .prop_filter_map(
            "valid mdvar",
            |((h1, h2, c, n0, f, vpol), (eps, sigma, md), (t, l, s))| {
                Some(ItmParams {
                    tx_height_m: h1,
                    rx_height_m: h2,
                    climate: Climate::ALL[c],
                    n0_n_units: n0,
                    freq_mhz: f,
                    polarization: if vpol {
                        Polarization::Vertical
                    } else {
                        Polarization::Horizontal
                    },
                    epsilon: eps,
                    sigma_s_per_m: sigma,
                    mdvar: Mdvar::from_code(md).ok()?,
                    quantiles: Quantiles {
                        time_pct: t,
                        location_pct: l,
                        situation_pct: s,
                    },
                })
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn random_profiles_never_panic_or_give_nan(
        p in params_strategy(),
        elevations in prop::collection::vec(-100.0f64..4000.0, 2..400),
        spacing_m in 1.0f64..2000.0,
    ) {
        match point_to_point(&p, Profile { elevations_m: &elevations, spacing_m }) {
            Ok(out) => {
                prop_assert!(out.loss_db.is_finite(), "{out:?}");
                prop_assert!(out.reference_attenuation_db >= 0.0);
            }
            // Legitimate ITM rejections of extreme combinations, all typed.
            Err(e) => prop_assert!(matches!(
                e,
                ItmError::SurfaceRefractivitySmall { .. }
                    | ItmError::SurfaceRefractivityLarge { .. }
                    | ItmError::EffectiveEarth { .. }
                    | ItmError::GroundImpedance { .. }
                    | ItmError::NumericalBreakdown
            ), "{e}"),
        }
    }

    #[test]
    fn degenerate_profiles_never_panic_or_give_nan(
        p in params_strategy(),
        points in 2usize..6,
        level_m in -50.0f64..3000.0,
        spacing_m in prop_oneof![0.01f64..1.0, 1.0f64..60_000.0],
    ) {
        // Flat, very short or very coarse profiles stress the horizon and fit logic.
        let elevations = vec![level_m; points];
        match point_to_point(&p, Profile { elevations_m: &elevations, spacing_m }) {
            Ok(out) => prop_assert!(out.loss_db.is_finite(), "{out:?}"),
            Err(e) => prop_assert!(e.itm_code().is_some() || e == ItmError::NumericalBreakdown, "{e}"),
        }
    }

    #[test]
    fn random_area_paths_never_panic_or_give_nan(
        p in params_strategy(),
        distance_m in 1.0f64..3_000_000.0,
        delta_h_m in 0.0f64..1000.0,
        sites in (0i64..3, 0i64..3),
    ) {
        let path = AreaPath {
            distance_m,
            delta_h_m,
            siting: [SitingCriteria::from_code(sites.0, false).unwrap(), SitingCriteria::from_code(sites.1, true).unwrap()],
        };
        match area(&p, &path) {
            Ok(out) => prop_assert!(out.loss_db.is_finite(), "{out:?}"),
            Err(e) => prop_assert!(matches!(
                e,
                ItmError::EffectiveEarth { .. } | ItmError::GroundImpedance { .. } | ItmError::NumericalBreakdown
            ), "{e}"),
        }
    }

    #[test]
    fn invalid_numbers_are_rejected_with_typed_errors(
        p in params_strategy(),
        which in 0usize..6,
        bad in prop_oneof![Just(f64::NAN), Just(f64::INFINITY), Just(-1.0), Just(0.0), Just(1e9)],
    ) {
        let mut q = p;
        match which {
            0 => q.tx_height_m = bad,
            1 => q.freq_mhz = bad,
            2 => q.quantiles.time_pct = if bad == 1e9 { 100.0 } else { bad },
            3 => q.quantiles.situation_pct = if bad == 1e9 { 100.0 } else { bad },
            4 => q.n0_n_units = bad,
            _ => q.sigma_s_per_m = if bad == 1e9 { -bad } else { bad },
        }
        let elevations = [10.0, 20.0, 15.0, 30.0, 12.0];
        let e = point_to_point(&q, Profile { elevations_m: &elevations, spacing_m: 500.0 }).unwrap_err();
        let expected_code = [1000, 1009, 1003, 1005, 1008, 1012][which];
        prop_assert!(e.itm_code() == Some(expected_code) || matches!(e, ItmError::NotFinite { .. }), "{e}");
        prop_assert!(!e.to_string().is_empty());
    }

    #[test]
    fn model_never_returns_nan(
        elevations in prop::collection::vec(0.0f64..3000.0, 2..200),
        distance_m in 10.0f64..200_000.0,
        freq_mhz in 30.0f64..6000.0,
        tx in 1.0f64..300.0,
        rx in 1.0f64..30.0,
    ) {
        let model = Itm::new(ItmConfig::default()).unwrap();
        let link = Link { freq_mhz, distance_m, tx_height_m: tx, rx_height_m: rx, profile_m: Some(&elevations) };
        match model.path_loss(&link) {
            Ok(l) => prop_assert!(l.loss_db.is_finite() && l.loss_db > 0.0, "{l:?}"),
            Err(e) => prop_assert!(matches!(e, PropagationError::InvalidParameter { .. }), "{e}"),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Coverage's fast path (one profile analysis for all bands, warning codes only) gives
    /// exactly what `path_loss` gives band by band.
    #[test]
    fn multi_band_losses_equal_single_band_path_loss(
        elevations in prop::collection::vec(0.0f64..3000.0, 2..300),
        distance_m in 10.0f64..150_000.0,
        freqs in prop::collection::vec(prop_oneof![Just(700.0), Just(900.0), Just(1800.0), Just(2100.0), Just(3500.0), 30.0f64..12_000.0], 1..5),
        tx in 0.6f64..300.0,
        rx in 0.6f64..30.0,
    ) {
        let model = Itm::new(ItmConfig::default()).unwrap();
        let link = Link { freq_mhz: 0.0, distance_m, tx_height_m: tx, rx_height_m: rx, profile_m: Some(&elevations) };
        let mut out = Vec::new();
        model.losses(&link, &freqs, &mut out);
        prop_assert_eq!(out.len(), freqs.len());
        for (f, fast) in freqs.iter().zip(&out) {
            let one = Link { freq_mhz: *f, ..link };
            match (model.path_loss(&one), fast) {
                (Ok(full), Ok(fast)) => {
                    prop_assert_eq!(full.loss_db.to_bits(), fast.loss_db.to_bits());
                    prop_assert_eq!(full.mode, fast.mode);
                    let codes: Vec<&str> = full.warnings.iter().map(|w| w.code).collect();
                    prop_assert_eq!(codes, fast.warnings.iter().collect::<Vec<_>>());
                    prop_assert_eq!(fast.model, "itm");
                    prop_assert_eq!(model.loss(&one).unwrap(), *fast);
                }
                (Err(a), Err(b)) => prop_assert_eq!(a.to_string(), b.to_string()),
                (a, b) => prop_assert!(false, "{a:?} vs {b:?}"),
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Coverage prunes sites by `min_loss_db`: it must never exceed a real loss, whatever the
    /// terrain, heights, frequency, climate and percentages.
    #[test]
    fn min_loss_is_a_lower_bound(
        elevations in prop::collection::vec(0.0f64..3000.0, 2..300),
        distance_m in 10.0f64..300_000.0,
        freq_mhz in 40.0f64..10_000.0,
        tx in 1.0f64..300.0,
        rx in 1.0f64..30.0,
        climate in 0usize..7,
        q in (1.0f64..99.0, 1.0f64..99.0, 1.0f64..99.0),
        mode in 0usize..4,
    ) {
        let config = ItmConfig {
            climate: Climate::ALL[climate],
            reliability_pct: q.0,
            location_pct: q.1,
            confidence_pct: q.2,
            variability_mode: [VariabilityMode::SingleMessage, VariabilityMode::Accidental, VariabilityMode::Mobile, VariabilityMode::Broadcast][mode],
            ..ItmConfig::default()
        };
        let model = Itm::new(config).unwrap();
        let link = Link { freq_mhz, distance_m, tx_height_m: tx, rx_height_m: rx, profile_m: Some(&elevations) };
        if let Ok(l) = model.loss(&link) {
            let bound = model.min_loss_db(freq_mhz, distance_m);
            prop_assert!(bound.is_finite());
            prop_assert!(l.loss_db >= bound, "{} < bound {}", l.loss_db, bound);
        }
    }
}

#[test]
fn registry_builds_itm_from_config() {
    use planner::coverage::propagation::{build_model, ModelConfig};
    let config: ModelConfig =
        toml::from_str("model = \"itm\"\n[itm]\nreliability_pct = 90\nclimate = \"desert\"")
            .unwrap();
    assert_eq!(config.itm.as_ref().unwrap().reliability_pct, 90.0);
    let model = build_model(&config).unwrap();
    assert_eq!(model.name(), "itm");
    assert!(model.needs_terrain());

    let bad: ModelConfig = toml::from_str("model = \"itm\"\n[itm]\nconfidence_pct = 0").unwrap();
    let err = build_model(&bad).unwrap_err().to_string();
    assert!(err.contains("itm.confidence_pct = 0"), "{err}");
    let typo =
        toml::from_str::<ModelConfig>("model = \"itm\"\n[itm]\nreliability = 90").unwrap_err();
    assert!(
        typo.to_string().contains("unknown field `reliability`"),
        "{typo}"
    );
}

#[test]
fn hot_path_does_not_allocate() {
    let rows = read_table("p2p.csv");
    let profiles = read_profiles();
    let all: Vec<(ItmParams, &Vec<f64>)> =
        rows.iter().map(params_from_row).zip(&profiles).collect();
    let area_path = AreaPath {
        distance_m: 30_000.0,
        delta_h_m: 90.0,
        siting: [SitingCriteria::Careful; 2],
    };
    let model = Itm::new(ItmConfig::default()).unwrap();
    let flat: Vec<f64> = (0..=334)
        .map(|i| 300.0 + (i as f64 * 0.05).sin() * 3.0)
        .collect();
    let link = Link {
        freq_mhz: 900.0,
        distance_m: 30_000.0,
        tx_height_m: 30.0,
        rx_height_m: 1.5,
        profile_m: Some(&flat),
    };
    let before = alloc_counter::count();
    let mut total = 0.0;
    for (p, pfl) in &all {
        total += point_to_point(p, Profile::from_pfl(pfl).unwrap())
            .unwrap()
            .loss_db;
        total += area(p, &area_path).unwrap().loss_db;
    }
    let warned = model.path_loss(&link).unwrap();
    let after = alloc_counter::count();
    assert!(total.is_finite());
    assert!(warned.warnings.is_empty(), "{:?}", warned.warnings);
    assert_eq!(
        after - before,
        0,
        "ITM evaluations allocated {} times",
        after - before
    );
    // The counter itself works: a warning message is a heap allocation.
    let short = Link {
        distance_m: 500.0,
        ..link
    };
    let c0 = alloc_counter::count();
    assert!(!model.path_loss(&short).unwrap().warnings.is_empty());
    assert!(alloc_counter::count() > c0);
}
