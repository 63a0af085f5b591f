//! The report's provenance block: when and by which version it was made, where every data
//! layer comes from and under which licence, the propagation model per frequency band with the
//! range where it is valid and its key parameters, and the link budget's signal classes.

use std::collections::BTreeMap;
use std::fmt::Write;

use geodata::{Dataset, Technology};
use serde_json::Value;

use super::svg::esc;
use crate::report::ReportData;
use crate::summary::group;

/// Credits of the embedded default's sources (geodata/data/uz/ATTRIBUTION.md), shown whenever
/// a layer was read from it.
const EMBEDDED_CREDITS: [(&str, &str); 7] = [
    ("roads", "© OpenStreetMap contributors, Open Database Licence (ODbL 1.0), www.openstreetmap.org/copyright"),
    ("settlements", "GeoNames (CC BY 4.0, www.geonames.org/) and SimpleMaps World Cities Basic (CC BY 4.0, simplemaps.com/data/world-cities), modified"),
    ("regions", "Made with Natural Earth (public domain), 1:10m admin-1, simplified"),
    ("context", "Neighbouring countries, map background only: made with Natural Earth (public domain), 1:10m admin-1 dissolved per country, clipped, simplified"),
    ("dem", "NOAA GLOBE 30-arc-second elevation (public domain)"),
    ("sites", "SYNTHETIC: invented by the project's seeded generator; operator names from mcc-mnc-list (MIT)"),
    ("fixed_nodes", "SYNTHETIC: invented by the project's seeded generator"),
];

/// Validity of the empirical and physical models by frequency (the `auto` model picks one of
/// them per link; see planner/src/coverage/propagation/auto.rs).
fn models_for_band(model: &str, mhz: f64) -> String {
    let itm = if (20.0..=20_000.0).contains(&mhz) {
        "ITM (Longley-Rice) over the DEM: valid 20 MHz–20 GHz, 1–2,000 km, antennas 0.5–3,000 m"
    } else {
        "outside ITM's 20 MHz–20 GHz"
    };
    let hata = if (150.0..=1500.0).contains(&mhz) {
        "Hata (150–1,500 MHz, 1–20 km, base 30–200 m, mobile 1–10 m) valid"
    } else if (1500.0..=2000.0).contains(&mhz) {
        "COST-231 Hata (1,500–2,000 MHz, 1–20 km, base 30–200 m, mobile 1–10 m) valid"
    } else {
        "outside Hata/COST-231 (150–2,000 MHz): not used"
    };
    match model {
        "auto" => format!("{itm}; {hata}; paths < 1 km or outside ITM's conditions: free space + knife-edge diffraction over the DEM"),
        "itm" => itm.to_string(),
        m if m.starts_with("hata") || m.starts_with("cost231") => hata.to_string(),
        "free_space" => "free space (Friis): valid at any frequency in line of sight, optimistic over terrain".into(),
        "terrain" => "free space + knife-edge diffraction over the DEM profile (Deygout / Epstein-Peterson)".into(),
        m => m.to_string(),
    }
}

fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, x, out);
            }
        }
        Value::Null => {}
        Value::String(s) => out.push((prefix.to_string(), s.clone())),
        x => out.push((prefix.to_string(), x.to_string())),
    }
}

/// Short version line for the page header.
pub fn generated_line(r: &ReportData) -> String {
    format!(
        "Generated {} by planner {}",
        esc(&r.generated_utc),
        env!("CARGO_PKG_VERSION")
    )
}

/// The "Sources, models and version" section.
pub fn section(ds: &Dataset, r: &ReportData) -> String {
    let mut o = String::from("<h2 id=\"provenance\">Sources, models and version</h2>");
    let _ = write!(
        o,
        "<p id=\"generated\">{} (<code>planner report</code>) from the dataset <b>{}</b>. The interactive map uses Leaflet {} (BSD 2-Clause, © Volodymyr Agafonkin), embedded in this file.</p>",
        generated_line(r),
        esc(&ds.name),
        super::map::LEAFLET_VERSION
    );
    o.push_str("<h3>Data sources and attribution</h3><table id=\"attribution\"><tr><th class=\"t\">layer</th><th>features</th><th class=\"t\">read from</th><th class=\"t\">source and licence</th></tr>");
    let counts: BTreeMap<&str, usize> = [
        ("regions", ds.regions.len()),
        ("settlements", ds.settlements.len()),
        ("roads", ds.roads.len()),
        ("sites", ds.sites.len()),
        ("fixed_nodes", ds.fixed_nodes.len()),
        ("dem", usize::from(ds.dem.is_some())),
        ("context", ds.context.len()),
    ]
    .into_iter()
    .collect();
    for (layer, n) in &counts {
        let from = ds
            .sources
            .get(*layer)
            .cloned()
            .unwrap_or_else(|| "—".into());
        // geodata labels the embedded default's layers `embedded:<dataset>/<file>` (and the
        // in-memory files of its unit tests `mem:<file>`).
        let embedded = from.starts_with("embedded:") || from.starts_with("mem:");
        let credit = EMBEDDED_CREDITS
            .iter()
            .find(|(l, _)| l == layer)
            .filter(|_| embedded)
            .map(|(_, c)| c.to_string())
            .unwrap_or_else(|| {
                if ds.is_synthetic(layer) {
                    "SYNTHETIC (generated, not observed)".into()
                } else {
                    "user-supplied; see its own licence".into()
                }
            });
        let _ = write!(
            o,
            "<tr><td class=\"t\">{}</td><td>{}</td><td class=\"t\">{}</td><td class=\"t\">{}</td></tr>",
            esc(layer),
            group(*n as u64),
            esc(if embedded { "embedded default dataset" } else { &from }),
            esc(&credit)
        );
    }
    o.push_str("</table>");
    // Model per band.
    let before = &r.plan.prepared.before;
    let mut bands: BTreeMap<(Technology, u64), (usize, f64, f64)> = BTreeMap::new();
    for s in &ds.sites {
        for c in &s.cells {
            let e = bands
                .entry((c.technology, c.band_mhz.round() as u64))
                .or_insert((0, f64::INFINITY, f64::NEG_INFINITY));
            e.0 += 1;
            e.1 = e.1.min(c.eirp_dbm);
            e.2 = e.2.max(c.eirp_dbm);
        }
    }
    let b = &r.budget;
    let _ = write!(
        o,
        "<h3>Propagation model per band</h3><p>Model <b>{}</b>; receiver {} m above ground. Signal classes: <b>strong</b> at ≥ threshold + {} dB, <b>variable</b> from the threshold up to that, <b>none</b> below the threshold.</p><table id=\"models\"><tr><th class=\"t\">technology</th><th>band</th><th>cells</th><th>EIRP</th><th>threshold</th><th class=\"t\">models used and where they are valid</th></tr>",
        esc(&before.model),
        b.rx_height_m,
        b.strong_margin_db
    );
    for ((t, mhz), (n, lo, hi)) in &bands {
        let eirp = if (hi - lo).abs() < 0.05 {
            format!("{lo:.0} dBm")
        } else {
            format!("{lo:.0}–{hi:.0} dBm")
        };
        let _ = write!(
            o,
            "<tr><td class=\"t\">{}</td><td>{} MHz</td><td>{}</td><td>{}</td><td>{} dBm</td><td class=\"t\">{}</td></tr>",
            t.as_str().to_uppercase(),
            group(*mhz),
            group(*n as u64),
            eirp,
            b.threshold_dbm(*t),
            esc(&models_for_band(&r.model.model, *mhz as f64))
        );
    }
    o.push_str("</table>");
    let links = &before.coverage.stats.links_by_model;
    if !links.is_empty() {
        let total: u64 = links.values().sum();
        let parts: Vec<String> = links
            .iter()
            .map(|(m, n)| {
                format!(
                    "{} {} ({:.0} %)",
                    esc(m),
                    group(*n),
                    100.0 * *n as f64 / total.max(1) as f64
                )
            })
            .collect();
        let _ = write!(
            o,
            "<p id=\"links-by-model\">Links evaluated today, by the model that computed them: {}.</p>",
            parts.join(", ")
        );
    }
    let mut params = Vec::new();
    flatten(
        "",
        &serde_json::to_value(&r.model).unwrap_or(Value::Null),
        &mut params,
    );
    if !params.is_empty() {
        o.push_str("<p id=\"model-parameters\" class=\"note\">Model parameters in force: ");
        let p: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("<code>{}&nbsp;=&nbsp;{}</code>", esc(k), esc(v)))
            .collect();
        o.push_str(&p.join(", "));
        o.push_str(".</p>");
    }
    o
}
