//! Fixed broadband: port demand per settlement (households × take-up), which settlements a fixed
//! node reaches (by technology), port deficit per region, and the new ports and fibre needed to
//! reach unserved settlements — along the road network where it connects, in a straight line
//! otherwise (each settlement says which) — against a national new-ports target.
//!
//! Demand is `households × take_up`, with households `population / household_size` when the data
//! has none. A settlement is served when a node of technology T lies within T's reach (geodesic
//! distance). A region's port deficit is its demand minus the ports installed on nodes inside it
//! (never negative). Fibre to an unserved settlement starts at the nearest fibre node along the
//! road graph (vertices of all roads, joined where roads share a vertex; Dijkstra from every fibre
//! node at once), with straight access legs to the nearest road vertex at each end.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap, HashMap};

use geodata::{Dataset, FixedTechnology};
use serde::{Deserialize, Serialize};

use crate::gaps::RegionLocator;
use crate::geo::{geodesic_distance_m, PointIndex};
use crate::numbers::round;

/// Reach of each access technology from its node, km.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReachKm {
    pub ftth: f64,
    pub dsl: f64,
    pub docsis: f64,
    pub fwa: f64,
}

impl Default for ReachKm {
    fn default() -> Self {
        // GPON optical budget ~20 km; ADSL/VDSL useful rates within ~3–5 km of copper; cable
        // plant a few km; fixed wireless ~10 km.
        ReachKm {
            ftth: 20.0,
            dsl: 4.0,
            docsis: 5.0,
            fwa: 10.0,
        }
    }
}

impl ReachKm {
    pub fn get(&self, t: FixedTechnology) -> f64 {
        match t {
            FixedTechnology::Ftth => self.ftth,
            FixedTechnology::Dsl => self.dsl,
            FixedTechnology::Docsis => self.docsis,
            FixedTechnology::Fwa => self.fwa,
        }
    }
}

/// Broadband prices (for the investment summary).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BroadbandCost {
    /// One new subscriber port with its share of node and drop, per port.
    pub port_capex: f64,
    /// Feeder fibre per km.
    pub fibre_capex_per_km: f64,
    /// A new access node (OLT cabinet) for a settlement reached by new fibre.
    pub new_node_capex: f64,
}

impl Default for BroadbandCost {
    fn default() -> Self {
        BroadbandCost {
            port_capex: 150.0,
            fibre_capex_per_km: 12_000.0,
            new_node_capex: 25_000.0,
        }
    }
}

/// `[broadband]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BroadbandConfig {
    /// Persons per household, to derive households when the data has none.
    pub household_size: f64,
    /// Share of households that take a fixed connection (0–1).
    pub take_up: f64,
    pub reach_km: ReachKm,
    /// National target of new ports.
    pub ports_target: u64,
    /// Farthest a settlement or node may be from a road vertex to use the road network, metres.
    pub road_snap_max_m: f64,
    /// Fixed-node technologies that are fibre points of presence.
    pub fibre_node_technologies: Vec<String>,
    pub cost: BroadbandCost,
}

impl Default for BroadbandConfig {
    fn default() -> Self {
        BroadbandConfig {
            household_size: 4.5,
            take_up: 0.6,
            reach_km: ReachKm::default(),
            ports_target: 1_000_000,
            road_snap_max_m: 5_000.0,
            fibre_node_technologies: vec!["ftth".into()],
            cost: BroadbandCost::default(),
        }
    }
}

impl BroadbandConfig {
    /// Every rule on values, checked at once.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if !(self.household_size.is_finite() && self.household_size >= 1.0) {
            p.push(format!(
                "broadband.household_size = {} must be at least 1 person",
                self.household_size
            ));
        }
        if !(self.take_up.is_finite() && (0.0..=1.0).contains(&self.take_up)) {
            p.push(format!(
                "broadband.take_up = {} must be a share in [0, 1] (e.g. 0.6 for 60 %)",
                self.take_up
            ));
        }
        let r = &self.reach_km;
        for (k, v) in [
            ("ftth", r.ftth),
            ("dsl", r.dsl),
            ("docsis", r.docsis),
            ("fwa", r.fwa),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                p.push(format!("broadband.reach_km.{k} = {v} must be ≥ 0 km"));
            }
        }
        if !(self.road_snap_max_m.is_finite() && self.road_snap_max_m >= 0.0) {
            p.push(format!(
                "broadband.road_snap_max_m = {} must be ≥ 0 metres",
                self.road_snap_max_m
            ));
        }
        let c = &self.cost;
        for (k, v) in [
            ("port_capex", c.port_capex),
            ("fibre_capex_per_km", c.fibre_capex_per_km),
            ("new_node_capex", c.new_node_capex),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                p.push(format!(
                    "broadband.cost.{k} = {v} must be a finite number ≥ 0"
                ));
            }
        }
        for t in &self.fibre_node_technologies {
            if FixedTechnology::parse(t).is_none() {
                p.push(format!(
                    "broadband.fibre_node_technologies: `{t}` is not a fixed technology (ftth, dsl, docsis, fwa)"
                ));
            }
        }
        p
    }
}

/// How a fibre length was measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FibreMethod {
    /// Along the road graph (plus straight access legs ≤ `road_snap_max_m`).
    Road,
    /// Straight line: no connected road within reach.
    Straight,
}

/// One settlement's fixed-broadband status.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SettlementBroadband {
    pub id: String,
    pub name: String,
    pub region: String,
    pub lon: f64,
    pub lat: f64,
    pub households: u64,
    /// True when households were derived from population.
    pub households_derived: bool,
    pub demand_ports: u64,
    pub served: bool,
    /// Node serving it (nearest in reach).
    pub node: Option<String>,
    pub node_technology: Option<FixedTechnology>,
    pub node_distance_km: Option<f64>,
    /// For unserved settlements: fibre from this node.
    pub fibre_from: Option<String>,
    pub fibre_km: Option<f64>,
    pub fibre_method: Option<FibreMethod>,
    /// Route of the new fibre (lon/lat), unserved settlements only.
    #[serde(skip)]
    pub fibre_route: Vec<(f64, f64)>,
}

/// One region's fixed-broadband figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RegionBroadband {
    pub region: String,
    pub name: String,
    pub settlements: u64,
    pub settlements_served: u64,
    pub settlements_unserved: u64,
    pub households: u64,
    pub demand_ports: u64,
    pub demand_ports_unserved: u64,
    pub nodes: u64,
    pub ports_total: u64,
    pub ports_used: u64,
    /// max(0, demand − ports installed).
    pub port_deficit: u64,
    pub fibre_km_to_unserved: f64,
}

/// National totals.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BroadbandTotals {
    pub settlements: u64,
    pub settlements_served: u64,
    pub settlements_unserved: u64,
    pub population_unserved: u64,
    pub households: u64,
    pub demand_ports: u64,
    pub ports_total: u64,
    pub ports_used: u64,
    pub port_deficit: u64,
    /// National target of new ports.
    pub ports_target: u64,
    /// Ports to build: the larger of the deficit and the target.
    pub ports_to_build: u64,
    /// Deficit as a share of the target, %.
    pub deficit_pct_of_target: f64,
    pub fibre_km_to_unserved: f64,
    pub fibre_km_along_roads: f64,
    pub fibre_km_straight: f64,
}

/// Result of the fixed-broadband analysis.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Broadband {
    pub settlements: Vec<SettlementBroadband>,
    pub by_region: Vec<RegionBroadband>,
    pub totals: BroadbandTotals,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Dist(f64, usize);
impl Eq for Dist {}
impl PartialOrd for Dist {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Dist {
    fn cmp(&self, o: &Self) -> Ordering {
        // Min-heap on distance, then on vertex index for a deterministic order.
        o.0.total_cmp(&self.0).then_with(|| o.1.cmp(&self.1))
    }
}

/// Undirected graph over road vertices; roads sharing a vertex (to 1e-6°) are joined there.
#[derive(Debug, Default)]
pub struct RoadGraph {
    pub points: Vec<(f64, f64)>,
    adj: Vec<Vec<(usize, f64)>>,
    index: Option<PointIndex>,
}

impl RoadGraph {
    pub fn build(ds: &Dataset) -> RoadGraph {
        let mut ids: HashMap<(i64, i64), usize> = HashMap::new();
        let mut g = RoadGraph::default();
        for r in &ds.roads {
            let mut prev: Option<usize> = None;
            for c in &r.geometry.0 {
                let key = ((c.x * 1e6).round() as i64, (c.y * 1e6).round() as i64);
                let v = *ids.entry(key).or_insert_with(|| {
                    g.points.push((c.x, c.y));
                    g.adj.push(Vec::new());
                    g.points.len() - 1
                });
                if let Some(u) = prev {
                    if u != v {
                        let d = geodesic_distance_m(g.points[u], g.points[v]);
                        g.adj[u].push((v, d));
                        g.adj[v].push((u, d));
                    }
                }
                prev = Some(v);
            }
        }
        g.index = Some(PointIndex::new(&g.points));
        g
    }

    /// Nearest vertex within `max_m`: (vertex, metres).
    pub fn nearest(&self, p: (f64, f64), max_m: f64) -> Option<(usize, f64)> {
        let idx = self.index.as_ref()?;
        let mut out = Vec::new();
        idx.within_m(p, max_m, &mut out);
        out.into_iter()
            .map(|(i, d)| (i as usize, d))
            .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)))
    }

    /// Multi-source Dijkstra: distance (m) and predecessor per vertex, and which source reached it.
    pub fn from_sources(
        &self,
        sources: &[(usize, f64, usize)],
    ) -> (Vec<f64>, Vec<usize>, Vec<usize>) {
        let n = self.points.len();
        let mut dist = vec![f64::INFINITY; n];
        let mut pred = vec![usize::MAX; n];
        let mut origin = vec![usize::MAX; n];
        let mut heap = BinaryHeap::new();
        for &(v, d0, src) in sources {
            if d0 < dist[v] {
                dist[v] = d0;
                origin[v] = src;
                heap.push(Dist(d0, v));
            }
        }
        while let Some(Dist(d, u)) = heap.pop() {
            if d > dist[u] {
                continue;
            }
            for &(v, w) in &self.adj[u] {
                let nd = d + w;
                if nd < dist[v] {
                    dist[v] = nd;
                    pred[v] = u;
                    origin[v] = origin[u];
                    heap.push(Dist(nd, v));
                }
            }
        }
        (dist, pred, origin)
    }
}

/// Runs the fixed-broadband analysis.
pub fn analyze(ds: &Dataset, cfg: &BroadbandConfig) -> Broadband {
    let locator = RegionLocator::new(ds);
    let region_of: Vec<String> = (0..ds.settlements.len())
        .map(|i| locator.settlement_region(i))
        .collect();
    let max_reach_m = 1000.0
        * [
            cfg.reach_km.ftth,
            cfg.reach_km.dsl,
            cfg.reach_km.docsis,
            cfg.reach_km.fwa,
        ]
        .into_iter()
        .fold(0.0, f64::max);
    let node_index = PointIndex::new(
        &ds.fixed_nodes
            .iter()
            .map(|n| (n.lon, n.lat))
            .collect::<Vec<_>>(),
    );
    let fibre_techs: Vec<FixedTechnology> = cfg
        .fibre_node_technologies
        .iter()
        .filter_map(|t| FixedTechnology::parse(t))
        .collect();
    let fibre_nodes: Vec<usize> = (0..ds.fixed_nodes.len())
        .filter(|&i| fibre_techs.contains(&ds.fixed_nodes[i].technology))
        .collect();
    let graph = RoadGraph::build(ds);
    let sources: Vec<(usize, f64, usize)> = fibre_nodes
        .iter()
        .filter_map(|&ni| {
            let n = &ds.fixed_nodes[ni];
            graph
                .nearest((n.lon, n.lat), cfg.road_snap_max_m)
                .map(|(v, d)| (v, d, ni))
        })
        .collect();
    let (dist, pred, origin) = graph.from_sources(&sources);

    let mut out = Vec::with_capacity(ds.settlements.len());
    let mut near = Vec::new();
    for (i, s) in ds.settlements.iter().enumerate() {
        let (households, derived) = match s.households {
            Some(h) => (h, false),
            None => (
                (s.population as f64 / cfg.household_size).round() as u64,
                true,
            ),
        };
        let demand = (households as f64 * cfg.take_up).round() as u64;
        near.clear();
        node_index.within_m((s.lon, s.lat), max_reach_m, &mut near);
        let serving = near
            .iter()
            .filter(|&&(ni, d)| {
                d <= 1000.0 * cfg.reach_km.get(ds.fixed_nodes[ni as usize].technology)
            })
            .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)))
            .copied();
        let mut sb = SettlementBroadband {
            id: s.id.clone(),
            name: s.name.clone(),
            region: region_of[i].clone(),
            lon: s.lon,
            lat: s.lat,
            households,
            households_derived: derived,
            demand_ports: demand,
            served: serving.is_some(),
            node: serving.map(|(ni, _)| ds.fixed_nodes[ni as usize].id.clone()),
            node_technology: serving.map(|(ni, _)| ds.fixed_nodes[ni as usize].technology),
            node_distance_km: serving.map(|(_, d)| round(d / 1000.0, 3)),
            fibre_from: None,
            fibre_km: None,
            fibre_method: None,
            fibre_route: Vec::new(),
        };
        if serving.is_none() && !fibre_nodes.is_empty() {
            let road = graph
                .nearest((s.lon, s.lat), cfg.road_snap_max_m)
                .filter(|&(v, _)| dist[v].is_finite());
            match road {
                Some((v, snap)) => {
                    let ni = origin[v];
                    let n = &ds.fixed_nodes[ni];
                    let mut route = vec![(s.lon, s.lat)];
                    let mut u = v;
                    loop {
                        route.push(graph.points[u]);
                        if pred[u] == usize::MAX {
                            break;
                        }
                        u = pred[u];
                    }
                    route.push((n.lon, n.lat));
                    route.reverse();
                    sb.fibre_from = Some(n.id.clone());
                    sb.fibre_km = Some(round((dist[v] + snap) / 1000.0, 3));
                    sb.fibre_method = Some(FibreMethod::Road);
                    sb.fibre_route = route;
                }
                None => {
                    let (ni, d) = fibre_nodes
                        .iter()
                        .map(|&ni| {
                            let n = &ds.fixed_nodes[ni];
                            (ni, geodesic_distance_m((n.lon, n.lat), (s.lon, s.lat)))
                        })
                        .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)))
                        .expect("fibre nodes not empty");
                    let n = &ds.fixed_nodes[ni];
                    sb.fibre_from = Some(n.id.clone());
                    sb.fibre_km = Some(round(d / 1000.0, 3));
                    sb.fibre_method = Some(FibreMethod::Straight);
                    sb.fibre_route = vec![(n.lon, n.lat), (s.lon, s.lat)];
                }
            }
        }
        out.push(sb);
    }

    let mut regions: BTreeMap<String, RegionBroadband> = ds
        .regions
        .iter()
        .map(|r| {
            (
                r.code.clone(),
                RegionBroadband {
                    region: r.code.clone(),
                    name: r.name_en.clone(),
                    ..Default::default()
                },
            )
        })
        .collect();
    let row = |regions: &mut BTreeMap<String, RegionBroadband>, code: &str| {
        regions
            .entry(code.to_string())
            .or_insert_with(|| RegionBroadband {
                region: code.to_string(),
                name: "(outside regions)".into(),
                ..Default::default()
            })
            .region
            .clone()
    };
    for n in &ds.fixed_nodes {
        let code = locator
            .locate(n.lon, n.lat)
            .map(|r| ds.regions[r].code.clone())
            .unwrap_or_default();
        let k = row(&mut regions, &code);
        let r = regions.get_mut(&k).expect("inserted");
        r.nodes += 1;
        r.ports_total += n.ports_total as u64;
        r.ports_used += n.ports_used as u64;
    }
    let mut t = BroadbandTotals {
        ports_target: cfg.ports_target,
        ..Default::default()
    };
    for (sb, s) in out.iter().zip(&ds.settlements) {
        let k = row(&mut regions, &sb.region);
        let r = regions.get_mut(&k).expect("inserted");
        r.settlements += 1;
        r.households += sb.households;
        r.demand_ports += sb.demand_ports;
        if sb.served {
            r.settlements_served += 1;
        } else {
            r.settlements_unserved += 1;
            r.demand_ports_unserved += sb.demand_ports;
            t.population_unserved += s.population;
            let km = sb.fibre_km.unwrap_or(0.0);
            r.fibre_km_to_unserved += km;
            match sb.fibre_method {
                Some(FibreMethod::Road) => t.fibre_km_along_roads += km,
                Some(FibreMethod::Straight) => t.fibre_km_straight += km,
                None => {}
            }
        }
    }
    for r in regions.values_mut() {
        r.port_deficit = r.demand_ports.saturating_sub(r.ports_total);
        r.fibre_km_to_unserved = round(r.fibre_km_to_unserved, 3);
        t.settlements += r.settlements;
        t.settlements_served += r.settlements_served;
        t.settlements_unserved += r.settlements_unserved;
        t.households += r.households;
        t.demand_ports += r.demand_ports;
        t.ports_total += r.ports_total;
        t.ports_used += r.ports_used;
        t.port_deficit += r.port_deficit;
        t.fibre_km_to_unserved += r.fibre_km_to_unserved;
    }
    t.ports_to_build = t.port_deficit.max(t.ports_target);
    t.deficit_pct_of_target = if t.ports_target > 0 {
        round(100.0 * t.port_deficit as f64 / t.ports_target as f64, 2)
    } else {
        0.0
    };
    t.fibre_km_to_unserved = round(t.fibre_km_to_unserved, 3);
    t.fibre_km_along_roads = round(t.fibre_km_along_roads, 3);
    t.fibre_km_straight = round(t.fibre_km_straight, 3);
    Broadband {
        settlements: out,
        by_region: regions.into_values().collect(),
        totals: t,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::{Coord, LineString};
    use geodata::{FixedNode, Road, RoadClass, Settlement};

    fn settlement(id: &str, lon: f64, pop: u64, households: Option<u64>) -> Settlement {
        Settlement {
            id: id.into(),
            name: id.into(),
            lon,
            lat: 0.0,
            population: pop,
            households,
            region: Some("R".into()),
        }
    }

    /// Nodes and settlements on the equator, where 0.01° ≈ 1.113 km.
    fn dataset() -> Dataset {
        Dataset {
            settlements: vec![
                settlement("near", 0.05, 900, None), // 5.6 km from the OLT: FTTH reach
                settlement("dsl-only", 1.03, 450, Some(200)), // 3.3 km from the DSLAM
                settlement("far-road", 0.5, 4500, None), // 55 km: unserved, road exists
                settlement("far-noroad", -0.6, 90, None), // unserved, no road nearby
            ],
            fixed_nodes: vec![
                FixedNode {
                    id: "olt".into(),
                    lon: 0.0,
                    lat: 0.0,
                    kind: "olt".into(),
                    technology: FixedTechnology::Ftth,
                    ports_total: 100,
                    ports_used: 80,
                },
                FixedNode {
                    id: "dslam".into(),
                    lon: 1.0,
                    lat: 0.0,
                    kind: "dslam".into(),
                    technology: FixedTechnology::Dsl,
                    ports_total: 50,
                    ports_used: 50,
                },
            ],
            roads: vec![Road {
                id: "r1".into(),
                // A detour north: the road path is longer than the straight line.
                geometry: LineString(vec![
                    Coord { x: 0.0, y: 0.0 },
                    Coord { x: 0.25, y: 0.1 },
                    Coord { x: 0.5, y: 0.0 },
                ]),
                class: RoadClass::Primary,
                refs: vec![],
                international: false,
                name: None,
            }],
            ..Default::default()
        }
    }

    #[test]
    fn demand_reach_deficit_and_fibre() {
        let ds = dataset();
        let b = analyze(&ds, &BroadbandConfig::default());
        let s = &b.settlements;
        assert_eq!(s[0].households, 200); // 900 / 4.5
        assert!(s[0].households_derived);
        assert_eq!(s[0].demand_ports, 120);
        assert!(s[0].served && s[0].node.as_deref() == Some("olt"));
        assert_eq!(s[1].households, 200);
        assert!(!s[1].households_derived);
        assert!(s[1].served && s[1].node_technology == Some(FixedTechnology::Dsl));
        assert!(!s[2].served);
        assert_eq!(s[2].fibre_method, Some(FibreMethod::Road));
        let road_km = s[2].fibre_km.unwrap();
        let leg = geodesic_distance_m((0.0, 0.0), (0.25, 0.1)) / 1000.0;
        assert!(
            (road_km - 2.0 * leg).abs() < 0.01,
            "{road_km} vs {}",
            2.0 * leg
        );
        assert!(road_km > geodesic_distance_m((0.0, 0.0), (0.5, 0.0)) / 1000.0);
        assert_eq!(s[2].fibre_route.len(), 5);
        assert_eq!(s[3].fibre_method, Some(FibreMethod::Straight));
        let straight = geodesic_distance_m((0.0, 0.0), (-0.6, 0.0)) / 1000.0;
        assert!((s[3].fibre_km.unwrap() - straight).abs() < 0.01);
        let t = &b.totals;
        assert_eq!((t.settlements_served, t.settlements_unserved), (2, 2));
        // Demand 120 + 120 + 600 + 12 = 852 ports. The nodes lie outside every region polygon
        // (there are none), so their 150 ports offset no region's demand.
        assert_eq!(t.demand_ports, 852);
        assert_eq!((t.ports_total, t.ports_used), (150, 130));
        assert_eq!(t.port_deficit, 852);
        assert_eq!(t.ports_to_build, 1_000_000);
        assert_eq!(b.by_region.len(), 2); // "R" from the attribute, "" for nodes outside regions
    }

    #[test]
    fn bad_settings_are_all_reported() {
        let c = BroadbandConfig {
            household_size: 0.0,
            take_up: 1.5,
            fibre_node_technologies: vec!["smoke".into()],
            ..Default::default()
        };
        let p = c.problems();
        assert_eq!(p.len(), 3, "{p:?}");
        assert_eq!(
            p[0],
            "broadband.household_size = 0 must be at least 1 person"
        );
        assert!(p[1].starts_with("broadband.take_up = 1.5 must be a share in [0, 1]"));
        assert!(p[2].contains("`smoke` is not a fixed technology"));
        let e = toml::from_str::<BroadbandConfig>("takeup = 0.5")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `takeup`"), "{e}");
    }
}
