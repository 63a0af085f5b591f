//! Route references: normalising `ref`/`int_ref` values and deciding which roads are
//! international (E-roads, Asian Highways, or routes a route table marks international).
//!
//! Normalisation removes spaces, dashes and dots and upper-cases, so `E 40` → `E40`,
//! `M-39` → `M39`, `a-380` → `A380`; `;` separates several refs (`E 40;AH 5`).

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{GeodataError, Location, Problem, Problems};

/// Normalises one or more `;`-separated route refs; empty parts are dropped.
///
/// ```
/// assert_eq!(geodata::routes::normalize_refs("E 40;AH 5"), vec!["E40", "AH5"]);
/// assert_eq!(geodata::routes::normalize_refs("M-39"), vec!["M39"]);
/// ```
pub fn normalize_refs(raw: &str) -> Vec<String> {
    raw.split(';').filter_map(normalize_ref).collect()
}

/// Normalises a single ref (`A-380` → `A380`); `None` when nothing is left.
pub fn normalize_ref(raw: &str) -> Option<String> {
    let n: String = raw
        .chars()
        .filter(|c| {
            !matches!(
                c,
                ' ' | '-' | '.' | '_' | '\u{a0}' | '\u{2013}' | '\u{2011}'
            )
        })
        .flat_map(char::to_uppercase)
        .collect();
    (!n.is_empty()).then_some(n)
}

/// True for an E-road (`E` + digits) or an Asian Highway (`AH` + digits), normalised form.
pub fn is_international_ref(r: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    r.strip_prefix("AH").is_some_and(digits) || r.strip_prefix('E').is_some_and(digits)
}

/// One waypoint of a route, in the order the route passes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Waypoint {
    pub seq: u32,
    pub name: String,
    pub lon: f64,
    pub lat: f64,
}

/// A route of the route table.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// Normalised route ref, e.g. `AH63`.
    pub route: String,
    /// Other refs signed on the same road, normalised, e.g. `A380`.
    pub aliases: Vec<String>,
    pub international: bool,
    /// Waypoints sorted by `seq`.
    pub waypoints: Vec<Waypoint>,
}

/// Routes known by name: read from a CSV `route,aliases,international,seq,waypoint,lat,lon`
/// (one row per waypoint; the route-level columns repeat on each row; aliases `;`-separated).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RouteTable {
    pub routes: Vec<Route>,
}

const ROUTE_COLUMNS: [&str; 7] = [
    "route",
    "aliases",
    "international",
    "seq",
    "waypoint",
    "lat",
    "lon",
];

fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" | "y" | "t" => Some(true),
        "false" | "no" | "0" | "n" | "f" | "" => Some(false),
        _ => None,
    }
}

impl RouteTable {
    /// Reads a route table CSV from disk.
    pub fn from_path(path: &Path) -> Result<RouteTable, GeodataError> {
        let bytes = std::fs::read(path).map_err(|e| GeodataError::io(path, e))?;
        RouteTable::from_csv_bytes(&path.display().to_string(), &bytes)
    }

    /// Reads a route table CSV held in memory; `file` names it in error messages.
    pub fn from_csv_bytes(file: &str, bytes: &[u8]) -> Result<RouteTable, GeodataError> {
        let mut problems = Problems::new();
        let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
        let header = match rdr.headers() {
            Ok(h) => h.clone(),
            Err(e) => {
                problems.push(Problem::new(
                    file,
                    Location::Line(1),
                    None,
                    format!("cannot read the CSV header: {e}"),
                    "save the file as UTF-8 CSV",
                ));
                return Err(GeodataError::Invalid(problems));
            }
        };
        let col = |name: &str| {
            header
                .iter()
                .position(|h| h.trim().eq_ignore_ascii_case(name))
        };
        let mut idx = [0usize; 7];
        for (i, name) in ROUTE_COLUMNS.iter().enumerate() {
            match col(name) {
                Some(c) => idx[i] = c,
                None => problems.push(Problem::new(
                    file,
                    Location::Line(1),
                    Some(name),
                    "column is missing from the header",
                    format!(
                        "the route table needs the columns {}",
                        ROUTE_COLUMNS.join(",")
                    ),
                )),
            }
        }
        if !problems.is_empty() {
            return Err(GeodataError::Invalid(problems));
        }
        let mut by_route: BTreeMap<String, Route> = BTreeMap::new();
        let mut order: Vec<String> = Vec::new();
        for (row_no, rec) in rdr.records().enumerate() {
            let line = row_no as u64 + 2;
            let loc = Location::Line(line);
            let rec = match rec {
                Ok(r) => r,
                Err(e) => {
                    problems.push(Problem::new(
                        file,
                        loc,
                        None,
                        format!("unreadable CSV row: {e}"),
                        "fix the quoting or encoding of this row",
                    ));
                    continue;
                }
            };
            let get = |i: usize| rec.get(idx[i]).unwrap_or("").trim();
            let Some(route) = normalize_ref(get(0)) else {
                problems.push(Problem::new(
                    file,
                    loc,
                    Some("route"),
                    "route ref is empty",
                    "give the route's ref, e.g. E40 or M39",
                ));
                continue;
            };
            let international = match parse_bool(get(2)) {
                Some(b) => b,
                None => {
                    problems.push(Problem::new(
                        file,
                        loc.clone(),
                        Some("international"),
                        format!("{:?} is not true/false", get(2)),
                        "write true or false",
                    ));
                    false
                }
            };
            let seq = match get(3).parse::<u32>() {
                Ok(s) => Some(s),
                Err(_) => {
                    problems.push(Problem::new(
                        file,
                        loc.clone(),
                        Some("seq"),
                        format!("{:?} is not a whole number", get(3)),
                        "number the waypoints of each route 1, 2, 3 …",
                    ));
                    None
                }
            };
            let mut coord = |i: usize, name: &str, lim: f64| match get(i).parse::<f64>() {
                Ok(v) if v.is_finite() && v.abs() <= lim => Some(v),
                _ => {
                    problems.push(Problem::new(
                        file,
                        loc.clone(),
                        Some(name),
                        format!("{:?} is not a valid {name}", get(i)),
                        format!("give decimal degrees between -{lim} and {lim} (WGS84)"),
                    ));
                    None
                }
            };
            let lat = coord(5, "lat", 90.0);
            let lon = coord(6, "lon", 180.0);
            let aliases = normalize_refs(get(1));
            let entry = by_route.entry(route.clone()).or_insert_with(|| {
                order.push(route.clone());
                Route {
                    route: route.clone(),
                    aliases: Vec::new(),
                    international,
                    waypoints: Vec::new(),
                }
            });
            entry.international |= international;
            for a in aliases {
                if !entry.aliases.contains(&a) {
                    entry.aliases.push(a);
                }
            }
            if let (Some(seq), Some(lat), Some(lon)) = (seq, lat, lon) {
                if entry.waypoints.iter().any(|w| w.seq == seq) {
                    problems.push(Problem::new(
                        file,
                        loc,
                        Some("seq"),
                        format!("route {route} has waypoint seq {seq} twice"),
                        "give each waypoint of a route its own seq",
                    ));
                    continue;
                }
                entry.waypoints.push(Waypoint {
                    seq,
                    name: get(4).to_owned(),
                    lon,
                    lat,
                });
            }
        }
        problems.into_result()?;
        let routes = order
            .into_iter()
            .filter_map(|r| by_route.remove(&r))
            .map(|mut r| {
                r.waypoints.sort_by_key(|w| w.seq);
                r
            })
            .collect();
        Ok(RouteTable { routes })
    }

    /// The route whose ref or alias is `r` (normalised).
    pub fn find(&self, r: &str) -> Option<&Route> {
        self.routes
            .iter()
            .find(|x| x.route == r || x.aliases.iter().any(|a| a == r))
    }

    /// True when `r` is an international route by pattern or by this table.
    pub fn is_international(&self, r: &str) -> bool {
        is_international_ref(r) || self.find(r).is_some_and(|x| x.international)
    }
}

/// Normalises raw ref strings (each may hold `;`-separated refs), adds the table route of every
/// alias (a road signed `A380` is also on `AH63` when the table says so), de-duplicates keeping
/// first-seen order, and says whether any ref is international.
///
/// ```
/// let (refs, intl) = geodata::routes::classify_refs(&["M-39", "E 40;AH 5"], None);
/// assert_eq!(refs, vec!["M39", "E40", "AH5"]);
/// assert!(intl);
/// ```
pub fn classify_refs(raw: &[&str], table: Option<&RouteTable>) -> (Vec<String>, bool) {
    let mut refs: Vec<String> = Vec::new();
    let push = |r: String, refs: &mut Vec<String>| {
        if !refs.contains(&r) {
            refs.push(r);
        }
    };
    for r in raw.iter().flat_map(|s| normalize_refs(s)) {
        push(r.clone(), &mut refs);
        if let Some(route) = table.and_then(|t| t.find(&r)) {
            push(route.route.clone(), &mut refs);
        }
    }
    let international = refs
        .iter()
        .any(|r| table.map_or_else(|| is_international_ref(r), |t| t.is_international(r)));
    (refs, international)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_refs() {
        assert_eq!(normalize_refs("E 40;AH 5"), vec!["E40", "AH5"]);
        assert_eq!(normalize_refs("M-39"), vec!["M39"]);
        assert_eq!(normalize_refs("A-380; ;"), vec!["A380"]);
        assert_eq!(normalize_refs("4R-12"), vec!["4R12"]);
        assert!(normalize_refs("").is_empty());
    }

    #[test]
    fn international_patterns() {
        for r in ["E40", "E004", "AH5", "AH63"] {
            assert!(is_international_ref(r), "{r}");
        }
        for r in ["M39", "A380", "E", "AH", "EA40", "AHX", "4R12"] {
            assert!(!is_international_ref(r), "{r}");
        }
    }

    const TABLE: &str = "route,aliases,international,seq,waypoint,lat,lon\n\
        AH63,A-380,true,2,Bukhara,39.7747,64.4286\n\
        AH63,A-380,true,1,Nukus,42.4531,59.6103\n\
        M34,,false,1,Tashkent,41.2646,69.2163\n\
        M34,,false,2,Gulistan,40.4897,68.7842\n\
        M39,,yes,1,Tashkent,41.2646,69.2163\n";

    #[test]
    fn route_table_aliases_and_flags() {
        let t = RouteTable::from_csv_bytes("routes.csv", TABLE.as_bytes()).unwrap();
        assert_eq!(t.routes.len(), 3);
        let ah63 = t.find("A380").unwrap();
        assert_eq!(ah63.route, "AH63");
        assert_eq!(ah63.waypoints[0].name, "Nukus");
        assert!(!t.is_international("M34"));
        assert!(t.is_international("M39"));
        let (refs, intl) = classify_refs(&["A-380"], Some(&t));
        assert_eq!(refs, vec!["A380", "AH63"]);
        assert!(intl);
        let (refs, intl) = classify_refs(&["M-34"], Some(&t));
        assert_eq!(refs, vec!["M34"]);
        assert!(!intl);
    }

    #[test]
    fn route_table_reports_every_bad_row() {
        let bad = "route,aliases,international,seq,waypoint,lat,lon\n\
            ,,true,1,X,1,1\n\
            M1,,maybe,x,Y,91,200\n";
        let e = RouteTable::from_csv_bytes("routes.csv", bad.as_bytes()).unwrap_err();
        let s = e.to_string();
        assert!(
            s.contains("routes.csv: line 2: field \"route\": route ref is empty"),
            "{s}"
        );
        assert!(
            s.contains("routes.csv: line 3: field \"international\": \"maybe\" is not true/false"),
            "{s}"
        );
        assert!(s.contains("line 3: field \"seq\""), "{s}");
        assert!(
            s.contains("line 3: field \"lat\": \"91\" is not a valid lat"),
            "{s}"
        );
        assert!(s.contains("line 3: field \"lon\""), "{s}");
        let e = RouteTable::from_csv_bytes("r.csv", b"route,seq\nM1,1\n").unwrap_err();
        assert!(
            e.to_string()
                .contains("r.csv: line 1: field \"aliases\": column is missing"),
            "{e}"
        );
    }
}
