//! Seeded synthetic country-size datasets for benchmarks and scale tests: clustered settlements,
//! sites around them, a random-walk road network and a smooth synthetic DEM.
//!
//! Everything derives from one `u64` seed through SplitMix64, so the same seed gives the same
//! dataset on every machine.

use geo_types::{Coord, LineString};
use geodata::{Cell, Dataset, Dem, Road, RoadClass, Settlement, Site, Technology};

/// SplitMix64: tiny, fast and good enough for synthetic geometry.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.unit().max(1e-12);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

/// Size and place of a synthetic country.
#[derive(Debug, Clone, Copy)]
pub struct CountrySpec {
    pub seed: u64,
    /// `[west, south, east, north]`, degrees.
    pub bbox: [f64; 4],
    pub settlements: usize,
    pub sites: usize,
    /// Total road length to generate, km.
    pub road_km: f64,
    /// Add a synthetic DEM (needed by terrain models).
    pub dem: bool,
}

impl Default for CountrySpec {
    /// A country the size of Uzbekistan: 100k settlements, 20k sites, 50k road-km.
    fn default() -> Self {
        CountrySpec {
            seed: 42,
            bbox: [58.0, 37.5, 72.0, 45.0],
            settlements: 100_000,
            sites: 20_000,
            road_km: 50_000.0,
            dem: true,
        }
    }
}

fn km_to_deg(lat: f64) -> (f64, f64) {
    let lat_deg_per_km = 1.0 / 111.2;
    (lat_deg_per_km / lat.to_radians().cos(), lat_deg_per_km)
}

/// Smooth synthetic terrain, metres: a few hundred metres of rolling relief.
pub fn terrain_m(lon: f64, lat: f64) -> f64 {
    400.0
        + 250.0 * (lon * 1.3).sin() * (lat * 1.7).cos()
        + 120.0 * (lon * 7.1 + lat * 5.3).sin()
        + 40.0 * (lon * 31.0 - lat * 23.0).cos()
}

/// Generates the dataset.
pub fn country(spec: &CountrySpec) -> Dataset {
    let mut rng = Rng::new(spec.seed);
    let [w, s, e, n] = spec.bbox;
    let towns: Vec<(f64, f64)> = (0..(spec.settlements / 50).max(1))
        .map(|_| (rng.range(w, e), rng.range(s, n)))
        .collect();
    let clamp = |lon: f64, lat: f64| (lon.clamp(w, e), lat.clamp(s, n));
    let settlements: Vec<Settlement> = (0..spec.settlements)
        .map(|i| {
            let t = towns[(rng.next_u64() % towns.len() as u64) as usize];
            let (dlon, dlat) = km_to_deg(t.1);
            let (lon, lat) = clamp(
                t.0 + rng.normal() * 10.0 * dlon,
                t.1 + rng.normal() * 10.0 * dlat,
            );
            Settlement {
                id: format!("s{i}"),
                name: format!("Settlement {i}"),
                lon,
                lat,
                population: (50.0 * (rng.unit() * 8.0).exp()) as u64,
                households: None,
                region: None,
            }
        })
        .collect();
    let sites: Vec<Site> = (0..spec.sites)
        .map(|i| {
            let (lon, lat) = if rng.unit() < 0.7 {
                let st = &settlements[(rng.next_u64() % settlements.len() as u64) as usize];
                let (dlon, dlat) = km_to_deg(st.lat);
                clamp(
                    st.lon + rng.normal() * 2.0 * dlon,
                    st.lat + rng.normal() * 2.0 * dlat,
                )
            } else {
                (rng.range(w, e), rng.range(s, n))
            };
            let az0 = rng.range(0.0, 120.0);
            let mut cells = vec![
                Cell {
                    technology: Technology::G2,
                    band_mhz: 900.0,
                    eirp_dbm: 57.0,
                    azimuth_deg: None,
                    beamwidth_deg: None,
                    tilt_deg: None,
                },
                Cell {
                    technology: Technology::G3,
                    band_mhz: 2100.0,
                    eirp_dbm: 58.0,
                    azimuth_deg: None,
                    beamwidth_deg: None,
                    tilt_deg: None,
                },
            ];
            for k in 0..3 {
                cells.push(Cell {
                    technology: Technology::G4,
                    band_mhz: 1800.0,
                    eirp_dbm: 60.0,
                    azimuth_deg: Some((az0 + 120.0 * k as f64) % 360.0),
                    beamwidth_deg: Some(65.0),
                    tilt_deg: Some(2.0),
                });
            }
            Site {
                id: format!("site{i}"),
                lon,
                lat,
                height_m: rng.range(25.0, 45.0),
                operator: None,
                cells,
            }
        })
        .collect();
    let mut roads = Vec::new();
    let mut total_km = 0.0;
    let segment_km = 2.5;
    while total_km < spec.road_km {
        let i = roads.len();
        let (mut lon, mut lat) = (rng.range(w, e), rng.range(s, n));
        let mut heading = rng.range(0.0, 360.0_f64).to_radians();
        let mut coords = vec![Coord { x: lon, y: lat }];
        for _ in 0..40 {
            heading += rng.normal() * 0.3;
            let (dlon, dlat) = km_to_deg(lat);
            (lon, lat) = clamp(
                lon + heading.sin() * segment_km * dlon,
                lat + heading.cos() * segment_km * dlat,
            );
            coords.push(Coord { x: lon, y: lat });
        }
        let ls = LineString(coords);
        total_km += geodata::line_length_m(&ls) / 1000.0;
        let international = i % 10 == 0;
        roads.push(Road {
            id: format!("road{i}"),
            geometry: ls,
            class: if international {
                RoadClass::Trunk
            } else {
                RoadClass::Secondary
            },
            refs: if international {
                vec![format!("E{}", 100 + i / 10)]
            } else {
                vec![]
            },
            international,
            name: None,
        });
    }
    let dem = spec.dem.then(|| {
        let cell = 1.0 / 120.0; // 30 arc-seconds, like GLOBE.
        let (west, north) = (w - 0.5, n + 0.5);
        let cols = ((e - w + 1.0) / cell).ceil() as usize;
        let rows = ((n - s + 1.0) / cell).ceil() as usize;
        let data_m = (0..rows)
            .flat_map(|r| {
                (0..cols).map(move |c| {
                    terrain_m(
                        west + (c as f64 + 0.5) * cell,
                        north - (r as f64 + 0.5) * cell,
                    ) as f32
                })
            })
            .collect();
        Dem {
            west_deg: west,
            north_deg: north,
            dlon_deg: cell,
            dlat_deg: cell,
            cols,
            rows,
            data_m,
            source: "synthetic".into(),
        }
    });
    Dataset {
        name: format!("synthetic country (seed {})", spec.seed),
        settlements,
        sites,
        roads,
        dem,
        synthetic_layers: vec![
            "settlements".into(),
            "sites".into(),
            "roads".into(),
            "dem".into(),
        ],
        ..Dataset::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_dataset_and_requested_sizes() {
        let spec = CountrySpec {
            settlements: 500,
            sites: 100,
            road_km: 1000.0,
            dem: false,
            ..CountrySpec::default()
        };
        let (a, b) = (country(&spec), country(&spec));
        assert_eq!(a.settlements, b.settlements);
        assert_eq!(a.sites, b.sites);
        assert_eq!(a.roads, b.roads);
        assert_eq!(a.settlements.len(), 500);
        assert_eq!(a.sites.len(), 100);
        let km: f64 = a
            .roads
            .iter()
            .map(|r| geodata::line_length_m(&r.geometry))
            .sum::<f64>()
            / 1000.0;
        assert!((1000.0..1200.0).contains(&km), "{km}");
        let c = country(&CountrySpec { seed: 7, ..spec });
        assert_ne!(a.settlements, c.settlements);
    }
}
