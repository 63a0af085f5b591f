//! Targets stage: the points where service is judged, in a fixed order — every settlement,
//! the midpoint of each road piece (roads cut into equal pieces of at most `road_step_m` along
//! their geodesic length, so covered + uncovered km add up to the road's length), and the cells
//! of an optional regular grid. The coverage engine evaluates them; the gap analysis adds them up.

use geodata::Dataset;
use rayon::prelude::*;
use serde::Serialize;

use crate::geo::{geodesic_distance_m, interpolate, EARTH_RADIUS_M};

/// What a target stands for.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TargetKind {
    /// A settlement, by index into `Dataset::settlements`.
    Settlement { index: u32 },
    /// The midpoint of piece `piece` of road `road` (index into `Dataset::roads`); the piece is
    /// `length_m` long and starts `start_m` metres along the road.
    Road {
        road: u32,
        piece: u32,
        start_m: f64,
        length_m: f64,
    },
    /// Centre of grid cell (`col`, `row`).
    Grid { col: u32, row: u32 },
    /// A caller-given point (library users, e.g. the Python package), by its index in the
    /// caller's list.
    Point { index: u32 },
}

/// A point where service is evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Target {
    pub lon: f64,
    pub lat: f64,
    pub kind: TargetKind,
}

/// A regular lon/lat grid over a bounding box.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GridSpec {
    pub west_deg: f64,
    pub north_deg: f64,
    /// Cell width, degrees of longitude.
    pub dlon_deg: f64,
    /// Cell height, degrees of latitude.
    pub dlat_deg: f64,
    pub cols: u32,
    pub rows: u32,
}

impl GridSpec {
    /// Largest grid accepted (cells), so a typo in the resolution cannot exhaust memory.
    pub const MAX_CELLS: u64 = 50_000_000;

    /// Grid over exactly `[west, south, east, north]` (degrees) with cells about `resolution_m`
    /// metres on a side (the longitude step is sized at the box's central latitude). The cell
    /// count is rounded up and the cells shrunk to fit, so the grid (and `coverage.tif`) ends on
    /// the box's edges instead of overshooting them by up to a cell.
    pub fn new(bbox: [f64; 4], resolution_m: f64) -> Result<GridSpec, String> {
        let [west, south, east, north] = bbox;
        if !(bbox.iter().all(|v| v.is_finite())
            && west < east
            && south < north
            && south >= -90.0
            && north <= 90.0)
        {
            return Err(format!("grid bbox {bbox:?} must be [west, south, east, north] in degrees with west < east and south < north"));
        }
        if !(resolution_m.is_finite() && resolution_m > 0.0) {
            return Err(format!(
                "grid resolution_m = {resolution_m} must be a positive number of metres"
            ));
        }
        let m_per_deg_lat = EARTH_RADIUS_M.to_radians();
        let dlat = resolution_m / m_per_deg_lat;
        let mid = 0.5 * (south + north);
        let dlon = resolution_m / (m_per_deg_lat * mid.to_radians().cos().max(1e-6));
        let cols = ((east - west) / dlon).ceil().max(1.0);
        let rows = ((north - south) / dlat).ceil().max(1.0);
        if cols * rows > Self::MAX_CELLS as f64 {
            return Err(format!(
                "grid of {cols} × {rows} cells at {resolution_m} m exceeds {} cells: use a coarser resolution_m or a smaller bbox",
                Self::MAX_CELLS
            ));
        }
        Ok(GridSpec {
            west_deg: west,
            north_deg: north,
            dlon_deg: (east - west) / cols,
            dlat_deg: (north - south) / rows,
            cols: cols as u32,
            rows: rows as u32,
        })
    }

    /// `[west, south, east, north]` covered by the cells, degrees.
    pub fn bbox(&self) -> [f64; 4] {
        [
            self.west_deg,
            self.north_deg - self.rows as f64 * self.dlat_deg,
            self.west_deg + self.cols as f64 * self.dlon_deg,
            self.north_deg,
        ]
    }

    fn centre(&self, col: u32, row: u32) -> (f64, f64) {
        (
            self.west_deg + (col as f64 + 0.5) * self.dlon_deg,
            self.north_deg - (row as f64 + 0.5) * self.dlat_deg,
        )
    }
}

/// All targets of a run, in a fixed order: settlements, then road pieces road by road, then grid
/// cells row by row.
#[derive(Debug, Clone, Default)]
pub struct Targets {
    pub items: Vec<Target>,
    /// Number of settlement targets (they come first).
    pub settlements: usize,
    /// Range of `items` holding each road's pieces, by road index.
    pub road_ranges: Vec<std::ops::Range<usize>>,
    /// Grid, when one was requested; its cells are the last `cols × rows` items.
    pub grid: Option<GridSpec>,
}

/// One road piece: midpoint (lon, lat), start along the road (m), length (m).
pub type RoadPiece = ((f64, f64), f64, f64);

/// Splits a road into `n` equal pieces of at most `step_m` along its geodesic length; returns
/// `(midpoint, start_m, piece_length_m)` per piece.
pub fn road_pieces(coords: &[geo_types::Coord<f64>], step_m: f64) -> Vec<RoadPiece> {
    let cum = cumulative_lengths_m(coords);
    let total = *cum.last().unwrap_or(&0.0);
    if coords.len() < 2 || total <= 0.0 {
        return Vec::new();
    }
    let n = (total / step_m).ceil().max(1.0) as usize;
    let piece = total / n as f64;
    (0..n)
        .map(|i| {
            (
                point_along(coords, &cum, (i as f64 + 0.5) * piece),
                i as f64 * piece,
                piece,
            )
        })
        .collect()
}

/// Cumulative geodesic length at each vertex, metres (first = 0).
pub fn cumulative_lengths_m(coords: &[geo_types::Coord<f64>]) -> Vec<f64> {
    let mut cum = Vec::with_capacity(coords.len());
    let mut acc = 0.0;
    for (i, c) in coords.iter().enumerate() {
        if i > 0 {
            acc += geodesic_distance_m((coords[i - 1].x, coords[i - 1].y), (c.x, c.y));
        }
        cum.push(acc);
    }
    cum
}

/// Point `at_m` metres along a polyline with cumulative lengths `cum`.
pub fn point_along(coords: &[geo_types::Coord<f64>], cum: &[f64], at_m: f64) -> (f64, f64) {
    let i = cum
        .partition_point(|&c| c <= at_m)
        .clamp(1, coords.len() - 1);
    let (a, b) = (coords[i - 1], coords[i]);
    let seg = cum[i] - cum[i - 1];
    let t = if seg > 0.0 {
        ((at_m - cum[i - 1]) / seg).clamp(0.0, 1.0)
    } else {
        0.0
    };
    interpolate((a.x, a.y), (b.x, b.y), t)
}

/// One target per settlement, in dataset order.
pub fn settlement_targets(ds: &Dataset) -> Vec<Target> {
    ds.settlements
        .iter()
        .enumerate()
        .map(|(i, s)| Target {
            lon: s.lon,
            lat: s.lat,
            kind: TargetKind::Settlement { index: i as u32 },
        })
        .collect()
}

impl Targets {
    /// Settlements and road pieces of at most `road_step_m`, plus an optional grid.
    pub fn build(ds: &Dataset, road_step_m: f64, grid: Option<GridSpec>) -> Targets {
        let mut items = settlement_targets(ds);
        let settlements = items.len();
        let pieces: Vec<Vec<RoadPiece>> = ds
            .roads
            .par_iter()
            .map(|r| road_pieces(&r.geometry.0, road_step_m))
            .collect();
        let mut road_ranges = Vec::with_capacity(ds.roads.len());
        for (ri, p) in pieces.into_iter().enumerate() {
            let start = items.len();
            for (pi, ((lon, lat), start_m, length_m)) in p.into_iter().enumerate() {
                items.push(Target {
                    lon,
                    lat,
                    kind: TargetKind::Road {
                        road: ri as u32,
                        piece: pi as u32,
                        start_m,
                        length_m,
                    },
                });
            }
            road_ranges.push(start..items.len());
        }
        if let Some(g) = grid {
            for row in 0..g.rows {
                for col in 0..g.cols {
                    let (lon, lat) = g.centre(col, row);
                    items.push(Target {
                        lon,
                        lat,
                        kind: TargetKind::Grid { col, row },
                    });
                }
            }
        }
        Targets {
            items,
            settlements,
            road_ranges,
            grid,
        }
    }
}

/// Human description of a target for messages.
pub fn describe_kind(k: &TargetKind) -> String {
    match k {
        TargetKind::Settlement { index } => format!("settlement #{index}"),
        TargetKind::Road {
            road,
            piece,
            start_m,
            ..
        } => format!("road #{road} piece {piece} ({start_m:.0} m along)"),
        TargetKind::Grid { col, row } => format!("grid cell col {col}, row {row}"),
        TargetKind::Point { index } => format!("target #{index}"),
    }
}

#[cfg(test)]
mod grid_tests {
    use super::GridSpec;

    #[test]
    fn grid_ends_exactly_on_the_requested_box() {
        let b = [10.0, -0.05, 10.2, 0.05];
        let g = GridSpec::new(b, 1000.0).unwrap();
        // 0.2° of longitude at the equator is 22.2 km: 23 cells of 967 m, not 23 of 1 km.
        assert_eq!((g.cols, g.rows), (23, 12));
        let got = g.bbox();
        for k in 0..4 {
            assert!((got[k] - b[k]).abs() < 1e-12, "{got:?} vs {b:?}");
        }
        assert!(g.dlon_deg * 111_195.0 <= 1000.0 && g.dlat_deg * 111_195.0 <= 1000.0);
    }
}
