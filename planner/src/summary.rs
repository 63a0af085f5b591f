//! Dataset summary: what a dataset holds (regions, settlements, population, road and route
//! kilometres, sites and cells by technology, synthetic layers), for reports and `--json`.

use std::collections::BTreeMap;

use geodata::{Dataset, Technology};
use serde::Serialize;

use crate::numbers::round;

/// Extent and resolution of the DEM.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DemSummary {
    pub source: String,
    pub cols: usize,
    pub rows: usize,
    pub west_deg: f64,
    pub south_deg: f64,
    pub east_deg: f64,
    pub north_deg: f64,
    /// Cell size, arc-seconds of latitude.
    pub cell_arcsec: f64,
}

/// The `dataset` object of the analysis JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DatasetSummary {
    pub name: String,
    /// Number of regions.
    pub regions: usize,
    /// Number of settlements.
    pub settlements: usize,
    /// Total population of all settlements (persons).
    pub population: u64,
    /// Total geodesic length of all roads, km.
    pub road_km: f64,
    /// Length of roads flagged international, km.
    pub international_road_km: f64,
    /// Route reference → km of roads carrying it inside the dataset's area.
    pub routes: BTreeMap<String, f64>,
    /// Number of sites.
    pub sites: usize,
    /// Sites carrying at least one cell of each technology (`2g` … `5g`).
    pub sites_by_technology: BTreeMap<String, usize>,
    /// Cells per technology.
    pub cells_by_technology: BTreeMap<String, usize>,
    /// Total number of cells.
    pub cells: usize,
    pub fixed_nodes: usize,
    /// Fixed-broadband ports installed / in use over all nodes.
    pub fixed_ports_total: u64,
    pub fixed_ports_used: u64,
    pub dem: Option<DemSummary>,
    /// Layers that are synthetic (generated, not observed).
    pub synthetic_layers: Vec<String>,
}

/// Summarises a dataset.
pub fn summarize(ds: &Dataset) -> DatasetSummary {
    // The figures come from geodata's Dataset helpers; this only rounds and labels them for JSON.
    let by_label = |m: BTreeMap<Technology, usize>| {
        Technology::ALL
            .iter()
            .map(|t| (t.as_str().to_string(), m.get(t).copied().unwrap_or(0)))
            .collect::<BTreeMap<_, _>>()
    };
    let sites_by = by_label(ds.sites_by_technology());
    let cells_by = by_label(ds.cells_by_technology());
    DatasetSummary {
        name: ds.name.clone(),
        regions: ds.regions.len(),
        settlements: ds.settlements.len(),
        population: ds.total_population(),
        road_km: round(ds.road_km(), 3),
        international_road_km: round(ds.international_road_km(), 3),
        routes: ds
            .route_km()
            .into_iter()
            .map(|(k, v)| (k, round(v, 3)))
            .collect(),
        sites: ds.sites.len(),
        sites_by_technology: sites_by,
        cells: ds.sites.iter().map(|s| s.cells.len()).sum(),
        cells_by_technology: cells_by,
        fixed_nodes: ds.fixed_nodes.len(),
        fixed_ports_total: ds.fixed_nodes.iter().map(|n| n.ports_total as u64).sum(),
        fixed_ports_used: ds.fixed_nodes.iter().map(|n| n.ports_used as u64).sum(),
        dem: ds.dem.as_ref().map(|d| DemSummary {
            source: d.source.clone(),
            cols: d.cols,
            rows: d.rows,
            west_deg: d.west_deg,
            north_deg: d.north_deg,
            east_deg: d.west_deg + d.cols as f64 * d.dlon_deg,
            south_deg: d.north_deg - d.rows as f64 * d.dlat_deg,
            cell_arcsec: round(d.dlat_deg * 3600.0, 3),
        }),
        synthetic_layers: ds.synthetic_layers.clone(),
    }
}

/// Human-readable dataset summary (several lines).
pub fn render_text(s: &DatasetSummary) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let _ = writeln!(o, "Dataset: {}", s.name);
    let _ = writeln!(o, "  regions            {}", s.regions);
    let _ = writeln!(
        o,
        "  settlements        {}  (population {})",
        s.settlements,
        group(s.population)
    );
    let _ = writeln!(
        o,
        "  roads              {:.1} km  ({:.1} km international)",
        s.road_km, s.international_road_km
    );
    if !s.routes.is_empty() {
        let _ = writeln!(o, "  km per route:");
        for (r, km) in &s.routes {
            let _ = writeln!(o, "    {r:<8} {km:>9.1} km");
        }
    }
    let techs: Vec<String> = s
        .cells_by_technology
        .iter()
        .map(|(t, n)| {
            format!(
                "{t}: {} sites / {n} cells",
                s.sites_by_technology.get(t).copied().unwrap_or(0)
            )
        })
        .collect();
    let _ = writeln!(
        o,
        "  sites              {}  ({} cells; {})",
        s.sites,
        s.cells,
        techs.join(", ")
    );
    let _ = writeln!(
        o,
        "  fixed nodes        {}  (ports {} installed, {} used)",
        s.fixed_nodes,
        group(s.fixed_ports_total),
        group(s.fixed_ports_used)
    );
    match &s.dem {
        Some(d) => {
            let _ = writeln!(
                o,
                "  DEM                {} × {} cells of {}\" ({:.2}–{:.2}° E, {:.2}–{:.2}° N) from {}",
                d.cols, d.rows, d.cell_arcsec, d.west_deg, d.east_deg, d.south_deg, d.north_deg, d.source
            );
        }
        None => {
            let _ = writeln!(o, "  DEM                none");
        }
    }
    if !s.synthetic_layers.is_empty() {
        let _ = writeln!(
            o,
            "  synthetic layers   {} (generated, not observed data)",
            s.synthetic_layers.join(", ")
        );
    }
    o
}

/// Formats an integer with thousands separators: 11700000 → `11,700,000`.
pub fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(group(0), "0");
        assert_eq!(group(999), "999");
        assert_eq!(group(1000), "1,000");
        assert_eq!(group(11_700_000), "11,700,000");
    }
}
