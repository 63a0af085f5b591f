//! Gap analysis: who and which road kilometres have no service, per technology and for mobile
//! Internet (3G or better), per region and per route, and where the uncovered stretches are.
//!
//! Road lengths come from the road pieces of [`crate::targets::Targets`]: each piece is judged
//! by its midpoint and counts its whole geodesic length, so covered + uncovered = road length.

use std::collections::BTreeMap;

use geo::{BoundingRect, Intersects};
use geodata::{Dataset, Technology};
use rstar::{RTree, AABB};
use serde::Serialize;

use crate::coverage::CoverageResult;
use crate::numbers::round;
use crate::targets::{TargetKind, Targets};

/// A service judged at each target: one technology, or mobile Internet (3G or better).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Service {
    Tech(Technology),
    MobileInternet,
}

impl Service {
    /// The five services in report order.
    pub const ALL: [Service; 5] = [
        Service::Tech(Technology::G2),
        Service::Tech(Technology::G3),
        Service::Tech(Technology::G4),
        Service::Tech(Technology::G5),
        Service::MobileInternet,
    ];

    /// Key used in JSON and CSV: `2g` … `5g`, `mobile_internet`.
    pub fn key(self) -> &'static str {
        match self {
            Service::Tech(t) => t.as_str(),
            Service::MobileInternet => "mobile_internet",
        }
    }

    /// Whether the service reaches target `i`.
    pub fn covered(self, cov: &CoverageResult, i: usize) -> bool {
        match self {
            Service::Tech(t) => cov.covered(i, t),
            Service::MobileInternet => cov.mobile_internet(i),
        }
    }
}

/// Region code used for places outside every region polygon.
pub const NO_REGION: &str = "";

/// Assigns points to regions by point-in-polygon over an R-tree of region bounding boxes.
#[derive(Debug)]
pub struct RegionLocator<'a> {
    ds: &'a Dataset,
    tree: RTree<rstar::primitives::GeomWithData<rstar::primitives::Rectangle<[f64; 2]>, usize>>,
}

impl<'a> RegionLocator<'a> {
    pub fn new(ds: &'a Dataset) -> Self {
        let items = ds
            .regions
            .iter()
            .enumerate()
            .filter_map(|(i, r)| {
                let b = r.geometry.bounding_rect()?;
                Some(rstar::primitives::GeomWithData::new(
                    rstar::primitives::Rectangle::from_corners(
                        [b.min().x, b.min().y],
                        [b.max().x, b.max().y],
                    ),
                    i,
                ))
            })
            .collect();
        RegionLocator {
            ds,
            tree: RTree::bulk_load(items),
        }
    }

    /// Index of the region containing (lon, lat); the lowest index when borders overlap.
    pub fn locate(&self, lon: f64, lat: f64) -> Option<usize> {
        let p = geo_types::Point::new(lon, lat);
        let env = AABB::from_point([lon, lat]);
        let mut hits: Vec<usize> = self
            .tree
            .locate_in_envelope_intersecting(&env)
            .map(|g| g.data)
            .collect();
        hits.sort_unstable();
        hits.into_iter()
            .find(|&i| self.ds.regions[i].geometry.intersects(&p))
    }

    /// Region code of a settlement: its own attribute when present, else point-in-polygon.
    pub fn settlement_region(&self, i: usize) -> String {
        let s = &self.ds.settlements[i];
        match &s.region {
            Some(r) => r.clone(),
            None => self
                .locate(s.lon, s.lat)
                .map(|r| self.ds.regions[r].code.clone())
                .unwrap_or_default(),
        }
    }
}

/// Totals of one service over the whole dataset.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ServiceSummary {
    pub settlements_total: u64,
    pub settlements_covered: u64,
    pub settlements_uncovered: u64,
    pub settlements_covered_pct: f64,
    pub population_total: u64,
    pub population_covered: u64,
    pub population_uncovered: u64,
    pub population_covered_pct: f64,
    pub road_km: f64,
    pub road_km_covered: f64,
    pub road_km_uncovered: f64,
    pub road_km_covered_pct: f64,
    pub international_road_km: f64,
    pub international_road_km_covered: f64,
    pub international_road_km_uncovered: f64,
    pub international_road_km_covered_pct: f64,
    pub international_road_km_uncovered_pct: f64,
    /// Number of merged uncovered stretches on all roads.
    pub uncovered_stretches: u64,
}

/// One region × service row.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RegionRow {
    /// ISO 3166-2 code; empty for places outside every region polygon.
    pub region: String,
    pub name: String,
    pub service: &'static str,
    pub settlements_total: u64,
    pub settlements_covered: u64,
    pub settlements_uncovered: u64,
    pub population_total: u64,
    pub population_covered: u64,
    pub population_uncovered: u64,
    pub population_covered_pct: f64,
    pub road_km: f64,
    pub road_km_covered: f64,
    pub road_km_uncovered: f64,
    pub international_road_km: f64,
    pub international_road_km_covered: f64,
    pub international_road_km_uncovered: f64,
}

/// One route × service row.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RouteRow {
    /// Route reference as in the data, e.g. `E40`, `AH5`, `M39`.
    pub route: String,
    /// Whether any road of the route is flagged international.
    pub international: bool,
    pub service: &'static str,
    pub road_km: f64,
    pub road_km_covered: f64,
    pub road_km_uncovered: f64,
    pub road_km_covered_pct: f64,
}

/// A run of consecutive road pieces with the same coverage state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stretch {
    pub service: &'static str,
    pub covered: bool,
    /// Index into `Dataset::roads`.
    pub road: usize,
    pub road_id: String,
    pub refs: Vec<String>,
    pub international: bool,
    /// Region of the stretch's first piece.
    pub region: String,
    /// Start along the road, metres.
    pub start_m: f64,
    pub length_m: f64,
    /// Line geometry, lon/lat degrees.
    pub coords: Vec<(f64, f64)>,
}

/// The headline figure: share of international highway km without mobile Internet.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Headline {
    pub text: String,
    pub international_road_km: f64,
    pub international_road_km_without_mobile_internet: f64,
    pub percent_without_mobile_internet: f64,
}

/// Everything the gap analysis finds.
#[derive(Debug, Clone, Default)]
pub struct Gaps {
    /// Per service in [`Service::ALL`] order.
    pub services: Vec<(Service, ServiceSummary)>,
    pub by_region: Vec<RegionRow>,
    pub by_route: Vec<RouteRow>,
    /// Covered and uncovered stretches per service, road by road.
    pub stretches: Vec<Stretch>,
    pub headline: Headline,
    /// Region code per settlement (empty when outside every region).
    pub settlement_region: Vec<String>,
}

fn pct(part: f64, total: f64) -> f64 {
    if total > 0.0 {
        round(100.0 * part / total, 2)
    } else {
        0.0
    }
}

/// Runs the gap analysis over a coverage result.
pub fn analyze(ds: &Dataset, targets: &Targets, cov: &CoverageResult) -> Gaps {
    let locator = RegionLocator::new(ds);
    let settlement_region: Vec<String> = (0..ds.settlements.len())
        .map(|i| locator.settlement_region(i))
        .collect();
    // Region of every road piece, by point-in-polygon of its midpoint.
    let piece_region: Vec<String> = {
        use rayon::prelude::*;
        let road_items = targets.settlements
            ..targets
                .road_ranges
                .last()
                .map(|r| r.end)
                .unwrap_or(targets.settlements);
        targets.items[road_items]
            .par_iter()
            .map(|t| {
                locator
                    .locate(t.lon, t.lat)
                    .map(|r| ds.regions[r].code.clone())
                    .unwrap_or_default()
            })
            .collect()
    };
    let region_names: BTreeMap<String, String> = ds
        .regions
        .iter()
        .map(|r| (r.code.clone(), r.name_en.clone()))
        .collect();

    let mut services = Vec::new();
    let mut by_region = Vec::new();
    let mut by_route = Vec::new();
    let mut stretches = Vec::new();
    for svc in Service::ALL {
        let mut sum = ServiceSummary::default();
        let mut regions: BTreeMap<String, RegionRow> = ds
            .regions
            .iter()
            .map(|r| {
                (
                    r.code.clone(),
                    RegionRow {
                        region: r.code.clone(),
                        name: r.name_en.clone(),
                        service: svc.key(),
                        ..Default::default()
                    },
                )
            })
            .collect();
        for (i, s) in ds.settlements.iter().enumerate() {
            let c = svc.covered(cov, i);
            let code = &settlement_region[i];
            let row = regions
                .entry(code.clone())
                .or_insert_with(|| new_row(code, &region_names, svc));
            sum.settlements_total += 1;
            sum.population_total += s.population;
            row.settlements_total += 1;
            row.population_total += s.population;
            if c {
                sum.settlements_covered += 1;
                sum.population_covered += s.population;
                row.settlements_covered += 1;
                row.population_covered += s.population;
            }
        }
        let mut routes: BTreeMap<String, RouteRow> = BTreeMap::new();
        for (ri, range) in targets.road_ranges.iter().enumerate() {
            let road = &ds.roads[ri];
            let mut run: Option<Stretch> = None;
            for ti in range.clone() {
                let TargetKind::Road {
                    start_m, length_m, ..
                } = targets.items[ti].kind
                else {
                    continue;
                };
                let c = svc.covered(cov, ti);
                let km = length_m / 1000.0;
                let code = &piece_region[ti - targets.settlements];
                let row = regions
                    .entry(code.clone())
                    .or_insert_with(|| new_row(code, &region_names, svc));
                sum.road_km += km;
                row.road_km += km;
                if c {
                    sum.road_km_covered += km;
                    row.road_km_covered += km;
                }
                if road.international {
                    sum.international_road_km += km;
                    row.international_road_km += km;
                    if c {
                        sum.international_road_km_covered += km;
                        row.international_road_km_covered += km;
                    }
                }
                for r in &road.refs {
                    let rr = routes.entry(r.clone()).or_insert_with(|| RouteRow {
                        route: r.clone(),
                        service: svc.key(),
                        ..Default::default()
                    });
                    rr.international |= road.international;
                    rr.road_km += km;
                    if c {
                        rr.road_km_covered += km;
                    }
                }
                match &mut run {
                    Some(st) if st.covered == c => st.length_m += length_m,
                    _ => {
                        if let Some(st) = run.take() {
                            stretches.push(st);
                        }
                        run = Some(Stretch {
                            service: svc.key(),
                            covered: c,
                            road: ri,
                            road_id: road.id.clone(),
                            refs: road.refs.clone(),
                            international: road.international,
                            region: code.clone(),
                            start_m,
                            length_m,
                            coords: Vec::new(),
                        });
                    }
                }
            }
            if let Some(st) = run.take() {
                stretches.push(st);
            }
        }
        sum.uncovered_stretches = stretches
            .iter()
            .filter(|s| s.service == svc.key() && !s.covered)
            .count() as u64;
        finish_summary(&mut sum);
        for row in regions.values_mut() {
            row.settlements_uncovered = row.settlements_total - row.settlements_covered;
            row.population_uncovered = row.population_total - row.population_covered;
            row.population_covered_pct =
                pct(row.population_covered as f64, row.population_total as f64);
            for v in [
                &mut row.road_km,
                &mut row.road_km_covered,
                &mut row.international_road_km,
                &mut row.international_road_km_covered,
            ] {
                *v = round(*v, 3);
            }
            row.road_km_uncovered = round(row.road_km - row.road_km_covered, 3);
            row.international_road_km_uncovered = round(
                row.international_road_km - row.international_road_km_covered,
                3,
            );
        }
        by_region.extend(regions.into_values());
        for mut r in routes.into_values() {
            r.road_km = round(r.road_km, 3);
            r.road_km_covered = round(r.road_km_covered, 3);
            r.road_km_uncovered = round(r.road_km - r.road_km_covered, 3);
            r.road_km_covered_pct = pct(r.road_km_covered, r.road_km);
            by_route.push(r);
        }
        services.push((svc, sum));
    }
    // Geometry of every stretch, cut from its road between start and end.
    let cum: Vec<Vec<f64>> = ds
        .roads
        .iter()
        .map(|r| crate::targets::cumulative_lengths_m(&r.geometry.0))
        .collect();
    for st in &mut stretches {
        st.coords = cut_line(
            &ds.roads[st.road].geometry.0,
            &cum[st.road],
            st.start_m,
            st.start_m + st.length_m,
        );
        st.length_m = round(st.length_m, 3);
        st.start_m = round(st.start_m, 3);
    }
    let mi = &services
        .iter()
        .find(|(s, _)| *s == Service::MobileInternet)
        .expect("all services")
        .1;
    let without = round(
        mi.international_road_km - mi.international_road_km_covered,
        3,
    );
    // Same figure as the summary's uncovered share (computed before rounding the km values).
    let p = mi.international_road_km_uncovered_pct;
    let headline = Headline {
        text: format!(
            "{p:.1} % of international highway km has no mobile Internet ({without:.1} of {:.1} km)",
            mi.international_road_km
        ),
        international_road_km: mi.international_road_km,
        international_road_km_without_mobile_internet: without,
        percent_without_mobile_internet: p,
    };
    Gaps {
        services,
        by_region,
        by_route,
        stretches,
        headline,
        settlement_region,
    }
}

fn new_row(code: &str, names: &BTreeMap<String, String>, svc: Service) -> RegionRow {
    RegionRow {
        region: code.to_string(),
        name: names
            .get(code)
            .cloned()
            .unwrap_or_else(|| "(outside regions)".to_string()),
        service: svc.key(),
        ..Default::default()
    }
}

fn finish_summary(s: &mut ServiceSummary) {
    s.settlements_uncovered = s.settlements_total - s.settlements_covered;
    s.population_uncovered = s.population_total - s.population_covered;
    s.settlements_covered_pct = pct(s.settlements_covered as f64, s.settlements_total as f64);
    s.population_covered_pct = pct(s.population_covered as f64, s.population_total as f64);
    s.road_km_covered_pct = pct(s.road_km_covered, s.road_km);
    s.international_road_km_covered_pct =
        pct(s.international_road_km_covered, s.international_road_km);
    s.international_road_km_uncovered_pct = if s.international_road_km > 0.0 {
        round(100.0 - s.international_road_km_covered_pct, 2)
    } else {
        0.0
    };
    for v in [
        &mut s.road_km,
        &mut s.road_km_covered,
        &mut s.international_road_km,
        &mut s.international_road_km_covered,
    ] {
        *v = round(*v, 3);
    }
    s.road_km_uncovered = round(s.road_km - s.road_km_covered, 3);
    s.international_road_km_uncovered =
        round(s.international_road_km - s.international_road_km_covered, 3);
}

/// The part of a polyline between `from_m` and `to_m` metres along it (lon/lat degrees).
pub fn cut_line(
    coords: &[geo_types::Coord<f64>],
    cum: &[f64],
    from_m: f64,
    to_m: f64,
) -> Vec<(f64, f64)> {
    let mut out = vec![crate::targets::point_along(coords, cum, from_m)];
    for (c, &d) in coords.iter().zip(cum) {
        if d > from_m && d < to_m {
            out.push((c.x, c.y));
        }
    }
    out.push(crate::targets::point_along(coords, cum, to_m));
    out
}
