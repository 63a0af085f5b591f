//! The `planner link` report as text or JSON: the path, every parameter in force, the terrain
//! findings and, per model, the loss and per technology the received level, its margin over
//! the threshold and over the `strong` level, and the class. Distances are rounded for people
//! (metres to 1 m, kilometres to 0.01 km).

use std::fmt::Write as _;

use geodata::Technology;

use crate::coverage::propagation::PropagationMode;
use crate::link::LinkReport;

/// The report as text (`json = false`) or pretty JSON.
pub fn render(report: &LinkReport, json: bool) -> String {
    if json {
        let mut s = serde_json::to_string_pretty(report).expect("report serialises");
        s.push('\n');
        s
    } else {
        text(report)
    }
}

fn mode_str(m: PropagationMode) -> &'static str {
    match m {
        PropagationMode::Unspecified => "-",
        PropagationMode::LineOfSight => "line of sight",
        PropagationMode::Diffraction => "diffraction",
        PropagationMode::Troposcatter => "troposcatter",
    }
}

/// A distance for people: `850 m` below 1 km, `36.16 km` above.
pub fn distance(m: f64) -> String {
    if m.abs() < 1000.0 {
        format!("{m:.0} m")
    } else {
        format!("{:.2} km", m / 1000.0)
    }
}

fn technology_label(t: Technology) -> &'static str {
    match t {
        Technology::G2 => "2G RxLev",
        Technology::G3 => "3G RSCP",
        Technology::G4 => "4G RSRP",
        Technology::G5 => "5G RSRP",
    }
}

/// Human-readable report.
pub fn text(r: &LinkReport) -> String {
    let mut s = String::new();
    let ground = |g: Option<f64>| g.map_or(String::new(), |g| format!(", ground {g:.0} m"));
    let _ = writeln!(s, "Point-to-point link");
    if let (Some(a), Some(b)) = (r.from, r.to) {
        let _ = writeln!(
            s,
            "  transmitter  {:.6}, {:.6}  antenna {:.1} m{}",
            a.lat,
            a.lon,
            r.tx_height_m,
            ground(r.tx_ground_m)
        );
        let _ = writeln!(
            s,
            "  receiver     {:.6}, {:.6}  antenna {:.1} m{}",
            b.lat,
            b.lon,
            r.rx_height_m,
            ground(r.rx_ground_m)
        );
    } else {
        let _ = writeln!(
            s,
            "  transmitter  antenna {:.1} m{}",
            r.tx_height_m,
            ground(r.tx_ground_m)
        );
        let _ = writeln!(
            s,
            "  receiver     antenna {:.1} m{}",
            r.rx_height_m,
            ground(r.rx_ground_m)
        );
    }
    let _ = write!(s, "  distance     {}", distance(r.distance_m));
    if let Some(b) = r.bearing_deg {
        let _ = write!(s, ", bearing {b:.1}°");
    }
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "  frequency    {} MHz, EIRP {:.1} dBm",
        r.freq_mhz, r.eirp_dbm
    );
    match &r.terrain_source {
        Some(src) => {
            let _ = writeln!(
                s,
                "  terrain      {src} ({} samples{}{})",
                r.profile_samples,
                r.parameters
                    .profile_step_m
                    .map_or(String::new(), |st| format!(" every {st:.1} m")),
                if r.profile_resampled {
                    ", resampled to uniform spacing"
                } else {
                    ""
                }
            );
        }
        None => {
            let _ = writeln!(
                s,
                "  terrain      none (no DEM or profile): terrain-aware models skipped"
            );
        }
    }

    let p = &r.parameters;
    let itm = &p.itm;
    let b = &p.budget;
    let _ = writeln!(s, "\nParameters in force");
    let _ = writeln!(
        s,
        "  earth        k = {:.4} (effective radius factor); diffraction {} (up to {} edges)",
        p.k_factor, p.diffraction_method, p.diffraction_max_edges
    );
    let _ = writeln!(
        s,
        "  ITM          climate {}, N0 {} N-units, ground ε {} / σ {} S/m, polarisation {}",
        serde_plain(&itm.climate),
        itm.surface_refractivity_n_units,
        itm.ground_permittivity,
        itm.ground_conductivity_s_per_m,
        serde_plain(&itm.polarization)
    );
    let _ = writeln!(
        s,
        "               variability {}{}{}; reliability {} %, confidence {} %, location {} %",
        serde_plain(&itm.variability_mode),
        if itm.no_location_variability {
            " without location variability"
        } else {
            ""
        },
        if itm.no_situation_variability {
            " without situation variability"
        } else {
            ""
        },
        itm.reliability_pct,
        itm.confidence_pct,
        itm.location_pct
    );
    let _ = writeln!(
        s,
        "  auto         Hata environment {}, empirical models with terrain: {}, area-mode Δh {} m",
        p.auto.environment,
        if p.auto.empirical_with_terrain {
            "yes"
        } else {
            "no"
        },
        p.auto.area_delta_h_m
    );
    let _ = writeln!(
        s,
        "  budget       receiver {:.1} m, gain {} dBi, losses {} dB; strong = threshold + {} dB",
        b.rx_height_m, b.rx_antenna_gain_dbi, b.rx_losses_db, b.strong_margin_db
    );
    let _ = writeln!(
        s,
        "               LTE N_RB {}, NR N_RB {}, UMTS CPICH share {} dB",
        b.lte_n_rb, b.nr_n_rb, b.umts_cpich_fraction_db
    );
    let _ = write!(s, "               thresholds");
    for t in Technology::ALL {
        let off = p
            .reference_offset_db
            .iter()
            .find(|(x, _)| *x == t)
            .map_or(0.0, |x| x.1);
        let _ = write!(
            s,
            " {} {:.0} dBm (offset {:+.2} dB);",
            technology_label(t),
            b.thresholds_dbm.get(t),
            off
        );
    }
    let _ = writeln!(s);

    if let Some(t) = &r.terrain {
        let _ = writeln!(s, "\nTerrain");
        let _ = writeln!(
            s,
            "  line of sight       {}",
            if t.line_of_sight { "yes" } else { "no" }
        );
        if let (Some(c), Some(at)) = (t.min_fresnel_clearance_ratio, t.min_clearance_distance_m) {
            let _ = writeln!(
                s,
                "  Fresnel zone        minimum clearance {:.2} × r1 at {} ({:+.1} m, r1 = {:.1} m; {} the 60 % rule)",
                c,
                distance(at),
                t.min_clearance_m.unwrap_or(f64::NAN),
                t.fresnel_radius_m.unwrap_or(f64::NAN),
                if t.fresnel_60_clear { "meets" } else { "fails" }
            );
        }
        let _ = writeln!(
            s,
            "  elevation angle     {:.3}° (transmitter to receiver antenna)",
            t.elevation_angle_deg
        );
        let _ = writeln!(s, "  highest terrain     {:.0} m", t.highest_terrain_m);
        if t.obstructions.is_empty() {
            let _ = writeln!(s, "  obstructions        none");
        } else {
            let _ = writeln!(s, "  obstructions        {}", t.obstructions.len());
            for o in &t.obstructions {
                let _ = writeln!(
                    s,
                    "    {} – {}  peak {:.0} m at {}, {:.1} m above the ray, ν = {:.2}",
                    distance(o.start_m),
                    distance(o.end_m),
                    o.peak_elevation_m,
                    distance(o.peak_distance_m),
                    o.height_above_los_m,
                    o.nu
                );
            }
        }
        let _ = writeln!(
            s,
            "  diffraction         {:.2} dB ({}, {} edge(s))",
            t.diffraction_loss_db,
            t.diffraction_method,
            t.diffraction_edges.len()
        );
        for e in &t.diffraction_edges {
            let _ = writeln!(
                s,
                "    edge at {}  ν = {:.2}  J = {:.2} dB",
                distance(e.distance_m),
                e.nu,
                e.loss_db
            );
        }
    }

    let _ = writeln!(
        s,
        "\nPath loss and received level (receiver in the main beam; margin over the threshold)"
    );
    let _ = write!(s, "  {:<24} {:>8}  {:<13}", "model", "loss dB", "mode");
    for tech in Technology::ALL {
        let _ = write!(s, " {:>22}", technology_label(tech));
    }
    let _ = writeln!(s);
    for m in &r.models {
        let name = match &m.served_by {
            Some(by) => format!("{} ({by})", m.model),
            None => m.model.clone(),
        };
        match (m.loss_db, &m.error) {
            (Some(l), _) => {
                let _ = write!(
                    s,
                    "  {:<24} {:>8.2}  {:<13}",
                    name,
                    l,
                    m.mode.map_or("-", mode_str)
                );
                for lv in &m.levels {
                    let _ = write!(
                        s,
                        " {:>22}",
                        format!(
                            "{:.1} {:+.1} {}",
                            lv.received_dbm,
                            lv.margin_db,
                            lv.class.as_str()
                        )
                    );
                }
                let _ = writeln!(s);
            }
            (None, Some(e)) => {
                let _ = writeln!(s, "  {name:<24} error: {e}");
            }
            (None, None) => {}
        }
        for w in &m.warnings {
            let _ = writeln!(s, "      warning [{}]: {}", w.code, w.message);
        }
    }
    let _ = writeln!(
        s,
        "  levels in dBm, then the margin over the threshold in dB and the class (strong ≥ threshold + {} dB)",
        b.strong_margin_db
    );
    s
}

/// The config spelling of a serde enum (`continental_temperate`, `vertical`, …).
fn serde_plain<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}
