//! Candidate sites for planning: the user's list (towers to share, permitted plots, roofs),
//! existing sites without mobile Internet (upgrade by sharing), and sites generated at uncovered
//! settlements and along uncovered road stretches; and each candidate's coverage of the targets
//! that are still without mobile Internet, through the same coverage engine and link budget.

use std::path::Path;

use geodata::{Cell, Dataset, Site};
use rayon::prelude::*;
use serde::Serialize;

use crate::coverage::propagation::PropagationModel;
use crate::coverage::{CoverageSettings, Engine};
use crate::gaps::Gaps;
use crate::geo::PointIndex;
use crate::plan::cost::SiteType;
use crate::targets::Target;

/// Where a candidate came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The user's candidate list.
    User,
    /// An existing site lacking 3G/4G, upgraded on the same tower.
    ExistingSite,
    /// Generated at an uncovered settlement.
    Settlement,
    /// Generated along an uncovered road stretch.
    Road,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::User => "user",
            Source::ExistingSite => "existing_site",
            Source::Settlement => "settlement",
            Source::Road => "road",
        }
    }
}

/// A possible new site.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub id: String,
    pub lon: f64,
    pub lat: f64,
    pub site_type: SiteType,
    pub source: Source,
    /// Antenna height above ground, metres.
    pub height_m: f64,
}

impl Candidate {
    /// The site this candidate would become, with the standard cells.
    pub fn site(&self, cells: &[Cell]) -> Site {
        Site {
            id: self.id.clone(),
            lon: self.lon,
            lat: self.lat,
            height_m: self.height_m,
            operator: None,
            cells: cells.to_vec(),
        }
    }
}

/// Problems in a candidate CSV, all of them.
#[derive(Debug, thiserror::Error)]
#[error("candidate list {path} has {} problem(s):\n{}", problems.len(), problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
pub struct CandidateCsvError {
    pub path: String,
    pub problems: Vec<String>,
}

/// Reads a candidate CSV with header `id,lon,lat,type[,height_m]` (`type`: `new_build`,
/// `tower_sharing` or `rooftop`; `height_m` defaults to `default_height_m`).
pub fn read_csv(path: &Path, default_height_m: f64) -> Result<Vec<Candidate>, CandidateCsvError> {
    let fail = |problems: Vec<String>| CandidateCsvError {
        path: path.display().to_string(),
        problems,
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| fail(vec![format!("cannot read the file: {e}")]))?;
    parse_csv(&text, default_height_m).map_err(fail)
}

/// Id prefixes of generated candidates (`upgrade-<site>`, `cand-settlement-<id>`,
/// `cand-road-…`); user candidates may not use them, so every id names one candidate.
pub const RESERVED_ID_PREFIXES: [&str; 2] = ["cand-", "upgrade-"];

/// Parses candidate CSV text; errors name the line and field.
pub fn parse_csv(text: &str, default_height_m: f64) -> Result<Vec<Candidate>, Vec<String>> {
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = match rdr.headers() {
        Ok(h) => h.iter().map(|s| s.to_ascii_lowercase()).collect(),
        Err(e) => return Err(vec![format!("line 1: cannot read the header: {e}")]),
    };
    let col = |n: &str| headers.iter().position(|h| h == n);
    let mut problems = Vec::new();
    let (Some(ci), Some(cx), Some(cy), Some(ct)) = (col("id"), col("lon"), col("lat"), col("type"))
    else {
        return Err(vec![format!(
            "line 1: header must name the columns id, lon, lat, type (and optionally height_m); found: {}",
            headers.join(", ")
        )]);
    };
    let ch = col("height_m");
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeMap::new();
    for (n, rec) in rdr.records().enumerate() {
        let line = n + 2;
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                problems.push(format!("line {line}: {e}"));
                continue;
            }
        };
        let get = |i: usize| rec.get(i).unwrap_or("");
        let id = get(ci).to_string();
        let mut ok = true;
        if id.is_empty() {
            problems.push(format!(
                "line {line}: field `id` is empty; give each candidate a unique id"
            ));
            ok = false;
        } else if let Some(prefix) = RESERVED_ID_PREFIXES.iter().find(|p| id.starts_with(**p)) {
            problems.push(format!(
                "line {line}: field `id`: `{id}` starts with `{prefix}`, which generated candidates use; rename it (e.g. `user-{id}`) so picks cannot be confused"
            ));
            ok = false;
        } else if let Some(prev) = seen.insert(id.clone(), line) {
            problems.push(format!(
                "line {line}: field `id`: `{id}` repeats line {prev}; ids must be unique"
            ));
            ok = false;
        }
        let mut num = |field: &str, i: usize, lo: f64, hi: f64| -> Option<f64> {
            match get(i).parse::<f64>() {
                Ok(v) if v.is_finite() && (lo..=hi).contains(&v) => Some(v),
                _ => {
                    problems.push(format!(
                        "line {line}: field `{field}` = `{}` must be a number in [{lo}, {hi}]",
                        get(i)
                    ));
                    None
                }
            }
        };
        let lon = num("lon", cx, -180.0, 180.0);
        let lat = num("lat", cy, -90.0, 90.0);
        let height_m = match ch {
            Some(i) if !get(i).is_empty() => num("height_m", i, 1.0, 500.0),
            _ => Some(default_height_m),
        };
        let site_type = SiteType::parse(get(ct));
        if site_type.is_none() {
            problems.push(format!(
                "line {line}: field `type` = `{}` is not a site type; use new_build, tower_sharing or rooftop",
                get(ct)
            ));
        }
        if let (true, Some(lon), Some(lat), Some(height_m), Some(site_type)) =
            (ok, lon, lat, height_m, site_type)
        {
            out.push(Candidate {
                id,
                lon,
                lat,
                site_type,
                source: Source::User,
                height_m,
            });
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// Settings of candidate generation.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    pub existing_sites: bool,
    pub from_settlements: bool,
    /// Generate along uncovered stretches of international roads only, all roads, or none.
    pub from_roads: RoadCandidates,
    /// Spacing of generated candidates along an uncovered stretch, metres.
    pub road_spacing_m: f64,
    /// Generated candidates closer than this to an earlier candidate are dropped, metres.
    pub min_spacing_m: f64,
    /// Settlements at least this populous get a rooftop candidate instead of a new mast.
    pub rooftop_min_population: u64,
    pub height_m: f64,
    pub rooftop_height_m: f64,
}

/// Which uncovered road stretches get candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RoadCandidates {
    International,
    All,
    None,
}

/// Generates candidates from the first coverage run; `user` candidates come first.
pub fn generate(
    ds: &Dataset,
    cov: &crate::coverage::CoverageResult,
    gaps: &Gaps,
    g: &Generation,
    user: Vec<Candidate>,
) -> Vec<Candidate> {
    let mut out = user;
    let mut generated: Vec<Candidate> = Vec::new();
    if g.existing_sites {
        for s in &ds.sites {
            let internet = s
                .cells
                .iter()
                .any(|c| c.technology != geodata::Technology::G2);
            if !internet {
                generated.push(Candidate {
                    id: format!("upgrade-{}", s.id),
                    lon: s.lon,
                    lat: s.lat,
                    site_type: SiteType::TowerSharing,
                    source: Source::ExistingSite,
                    height_m: s.height_m,
                });
            }
        }
    }
    if g.from_settlements {
        for (i, s) in ds.settlements.iter().enumerate() {
            if cov.mobile_internet(i) {
                continue;
            }
            let rooftop = s.population >= g.rooftop_min_population;
            generated.push(Candidate {
                id: format!("cand-settlement-{}", s.id),
                lon: s.lon,
                lat: s.lat,
                site_type: if rooftop {
                    SiteType::Rooftop
                } else {
                    SiteType::NewBuild
                },
                source: Source::Settlement,
                height_m: if rooftop {
                    g.rooftop_height_m
                } else {
                    g.height_m
                },
            });
        }
    }
    if g.from_roads != RoadCandidates::None {
        for st in gaps
            .stretches
            .iter()
            .filter(|s| s.service == "mobile_internet" && !s.covered)
            .filter(|s| g.from_roads == RoadCandidates::All || s.international)
        {
            let cum = crate::targets::cumulative_lengths_m(
                &st.coords
                    .iter()
                    .map(|&(x, y)| geo_types::Coord { x, y })
                    .collect::<Vec<_>>(),
            );
            let len = *cum.last().unwrap_or(&0.0);
            let n = (len / g.road_spacing_m).ceil().max(1.0) as usize;
            let coords: Vec<geo_types::Coord<f64>> = st
                .coords
                .iter()
                .map(|&(x, y)| geo_types::Coord { x, y })
                .collect();
            for k in 0..n {
                let at = (k as f64 + 0.5) * len / n as f64;
                let (lon, lat) = crate::targets::point_along(&coords, &cum, at);
                generated.push(Candidate {
                    id: format!("cand-road-{}-{}-{k}", st.road_id, st.start_m.round() as i64),
                    lon,
                    lat,
                    site_type: SiteType::NewBuild,
                    source: Source::Road,
                    height_m: g.height_m,
                });
            }
        }
    }
    // Thin generated candidates: keep the first of any group closer than min_spacing_m (user
    // candidates are always kept; they are real plots). A hash of ECEF cells of that size finds
    // the neighbours; chord ≤ arc, so the 27 surrounding cells hold every point in range.
    let cell = g.min_spacing_m.max(1.0);
    let key = |lon: f64, lat: f64| {
        let p = crate::geo::to_ecef(lon, lat);
        [
            (p[0] / cell).floor() as i64,
            (p[1] / cell).floor() as i64,
            (p[2] / cell).floor() as i64,
        ]
    };
    let mut grid: std::collections::HashMap<[i64; 3], Vec<(f64, f64)>> = Default::default();
    for c in &out {
        grid.entry(key(c.lon, c.lat))
            .or_default()
            .push((c.lon, c.lat));
    }
    for c in generated {
        let k = key(c.lon, c.lat);
        let mut close = false;
        'n: for dx in -1..=1 {
            for dy in -1..=1 {
                for dz in -1..=1 {
                    if let Some(v) = grid.get(&[k[0] + dx, k[1] + dy, k[2] + dz]) {
                        if v.iter().any(|&p| {
                            crate::geo::geodesic_distance_m(p, (c.lon, c.lat)) < g.min_spacing_m
                        }) {
                            close = true;
                            break 'n;
                        }
                    }
                }
            }
        }
        if !close {
            grid.entry(k).or_default().push((c.lon, c.lat));
            out.push(c);
        }
    }
    out
}

/// For each candidate, the indices (into `elements`) of the targets it alone gives mobile
/// Internet, evaluated with the same model and link budget as the coverage run.
pub fn coverage_sets(
    ds: &Dataset,
    model: &dyn PropagationModel,
    settings: &CoverageSettings,
    cells: &[Cell],
    elements: &[Target],
    candidates: &[Candidate],
) -> Result<Vec<Vec<u32>>, crate::coverage::CoverageError> {
    let index = PointIndex::new(&elements.iter().map(|t| (t.lon, t.lat)).collect::<Vec<_>>());
    let hidden = indicatif::ProgressBar::hidden();
    // Each worker owns a one-site dataset sharing nothing mutable; the DEM is cloned per batch.
    let batches: Vec<Result<Vec<Vec<u32>>, _>> = candidates
        .par_chunks(16)
        .map(|batch| {
            let mut work = Dataset {
                dem: ds.dem.clone(),
                ..Default::default()
            };
            let mut sets = Vec::with_capacity(batch.len());
            let mut near = Vec::new();
            for c in batch {
                work.sites = vec![c.site(cells)];
                let engine = Engine::new(&work, model, settings.clone())?;
                near.clear();
                index.within_m((c.lon, c.lat), engine.max_range_m(), &mut near);
                near.sort_unstable_by_key(|&(i, _)| i);
                let subset: Vec<Target> = near.iter().map(|&(i, _)| elements[i as usize]).collect();
                let r = engine.evaluate(&subset, &hidden)?;
                sets.push(
                    near.iter()
                        .enumerate()
                        .filter(|(k, _)| r.mobile_internet(*k))
                        .map(|(_, &(i, _))| i)
                        .collect(),
                );
            }
            Ok(sets)
        })
        .collect();
    let mut out = Vec::with_capacity(candidates.len());
    for b in batches {
        out.extend(b?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rejections_name_line_and_field() {
        let text = "id,lon,lat,type,height_m\na,69.1,41.2,tower_sharing,\na,69.2,41.3,new_build,35\nb,abc,41.0,roof,\nc,69.0,41.0,castle,2000\n";
        let e = parse_csv(text, 30.0).unwrap_err();
        assert_eq!(
            e,
            vec![
                "line 3: field `id`: `a` repeats line 2; ids must be unique".to_string(),
                "line 4: field `lon` = `abc` must be a number in [-180, 180]".to_string(),
                "line 5: field `height_m` = `2000` must be a number in [1, 500]".to_string(),
                "line 5: field `type` = `castle` is not a site type; use new_build, tower_sharing or rooftop".to_string(),
            ]
        );
        let ok = parse_csv("ID,Lon,Lat,Type\nx,69,41,rooftop\n", 25.0).unwrap();
        assert_eq!(ok[0].site_type, SiteType::Rooftop);
        assert_eq!(ok[0].height_m, 25.0);
        let e = parse_csv("name,x,y\n", 30.0).unwrap_err();
        assert!(e[0].starts_with("line 1: header must name the columns id, lon, lat, type"));
    }

    // Regression: a user candidate named like a generated one could be picked up as the
    // wrong site when picks were looked up again by id.
    #[test]
    fn generated_id_prefixes_are_reserved() {
        let e = parse_csv(
            "id,lon,lat,type
cand-settlement-s1,69,41,new_build
upgrade-m1,69,41,new_build
my-cand-1,69,41,new_build
",
            30.0,
        )
        .unwrap_err();
        assert_eq!(e.len(), 2, "{e:#?}");
        assert!(e[0].starts_with("line 2: field `id`: `cand-settlement-s1` starts with `cand-`, which generated candidates use; rename it (e.g. `user-cand-settlement-s1`)"), "{e:?}");
        assert!(
            e[1].starts_with("line 3: field `id`: `upgrade-m1` starts with `upgrade-`"),
            "{e:?}"
        );
    }
}
