//! Terrain profiles from CSV for `planner link --profile`: a `distance_m,elevation_m` header,
//! the first row at distance 0 (the transmitter), distances strictly increasing. A profile
//! with uneven spacing is resampled linearly at its smallest spacing (models need uniform
//! samples). Every problem is reported with its file, line and field.

use std::path::{Path, PathBuf};

use thiserror::Error;

/// Largest number of samples a resampled profile may have.
const MAX_PROFILE_SAMPLES: usize = 200_000;

/// A terrain profile read from CSV.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileCsv {
    /// Path length (last distance), metres.
    pub distance_m: f64,
    /// Uniformly spaced elevations, metres above sea level.
    pub elevations_m: Vec<f64>,
    /// True when the input spacing was uneven and the profile was resampled.
    pub resampled: bool,
}

/// Why a profile CSV was rejected; lists every problem found.
#[derive(Debug, Error)]
pub enum ProfileCsvError {
    #[error("cannot read terrain profile {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("terrain profile {path} is invalid:\n  {}", problems.join("\n  "))]
    Invalid {
        path: PathBuf,
        problems: Vec<String>,
    },
}

/// Reads a `distance_m,elevation_m` profile CSV (`#` comments allowed).
pub fn read_profile_csv(path: &Path) -> Result<ProfileCsv, ProfileCsvError> {
    let text = std::fs::read_to_string(path).map_err(|source| ProfileCsvError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_profile_csv(&text, path)
}

/// Parses profile CSV text; `path` is only used in messages.
pub fn parse_profile_csv(text: &str, path: &Path) -> Result<ProfileCsv, ProfileCsvError> {
    let invalid = |problems: Vec<String>| ProfileCsvError::Invalid {
        path: path.to_path_buf(),
        problems,
    };
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = rdr
        .headers()
        .map_err(|e| invalid(vec![format!("header: {e}")]))?
        .clone();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let mut problems = Vec::new();
    for h in headers.iter() {
        if h != "distance_m" && h != "elevation_m" {
            problems.push(format!(
                "line 1: unknown column `{h}`; the header must be distance_m,elevation_m"
            ));
        }
    }
    let (Some(di), Some(ei)) = (col("distance_m"), col("elevation_m")) else {
        problems.push(format!(
            "line 1: header is `{}`; it must name the columns distance_m and elevation_m",
            headers.iter().collect::<Vec<_>>().join(",")
        ));
        return Err(invalid(problems));
    };
    let mut dist = Vec::new();
    let mut elev = Vec::new();
    // Last parsed distance, even from a row rejected for its elevation, so ordering errors are
    // reported against the row the user sees above.
    let mut last_d: Option<f64> = None;
    for rec in rdr.records() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                problems.push(format!("{e}"));
                continue;
            }
        };
        let line = rec.position().map_or(0, |p| p.line());
        if rec.len() != headers.len() {
            problems.push(format!(
                "line {line}: {} fields, expected {} (distance_m,elevation_m)",
                rec.len(),
                headers.len()
            ));
            continue;
        }
        let num = |idx: usize, field: &str, problems: &mut Vec<String>| -> Option<f64> {
            let raw = &rec[idx];
            match raw.parse::<f64>() {
                Ok(v) if v.is_finite() => Some(v),
                _ => {
                    problems.push(format!(
                        "line {line}, field {field}: `{raw}` is not a finite number"
                    ));
                    None
                }
            }
        };
        let d = num(di, "distance_m", &mut problems);
        let z = num(ei, "elevation_m", &mut problems);
        if let Some(z) = z {
            if !(-500.0..=9000.0).contains(&z) {
                problems.push(format!("line {line}, field elevation_m: {z} m is outside -500..9000 m (wrong units or a no-data value?)"));
            }
        }
        if let Some(d) = d {
            if last_d.is_none() && d != 0.0 {
                problems.push(format!("line {line}, field distance_m: the first row must be at distance 0 (the transmitter), found {d}"));
            }
            if let Some(prev) = last_d {
                if d <= prev {
                    problems.push(format!("line {line}, field distance_m: {d} does not increase (previous row {prev}); rows must be in order from transmitter to receiver"));
                }
            }
        }
        if d.is_some() {
            last_d = d;
        }
        if let (Some(d), Some(z)) = (d, z) {
            dist.push(d);
            elev.push(z);
        }
        if problems.len() >= 50 {
            problems.push("… stopping after 50 problems".into());
            return Err(invalid(problems));
        }
    }
    if problems.is_empty() && dist.len() < 2 {
        problems.push(format!(
            "{} data row(s); a profile needs at least 2 (transmitter and receiver)",
            dist.len()
        ));
    }
    if !problems.is_empty() {
        return Err(invalid(problems));
    }
    let total = *dist.last().expect("≥ 2 rows");
    let n = dist.len();
    let uniform_step = total / (n - 1) as f64;
    let uniform = dist
        .iter()
        .enumerate()
        .all(|(i, &d)| (d - i as f64 * uniform_step).abs() <= 1e-6 * total.max(1.0));
    if uniform {
        return Ok(ProfileCsv {
            distance_m: total,
            elevations_m: elev,
            resampled: false,
        });
    }
    let min_step = dist
        .windows(2)
        .map(|w| w[1] - w[0])
        .fold(f64::INFINITY, f64::min);
    let intervals = ((total / min_step).ceil() as usize).clamp(1, MAX_PROFILE_SAMPLES - 1);
    let step = total / intervals as f64;
    let mut out = Vec::with_capacity(intervals + 1);
    let mut j = 0;
    for i in 0..=intervals {
        let x = (i as f64 * step).min(total);
        while j + 2 < n && dist[j + 1] < x {
            j += 1;
        }
        let t = ((x - dist[j]) / (dist[j + 1] - dist[j])).clamp(0.0, 1.0);
        out.push(elev[j] + t * (elev[j + 1] - elev[j]));
    }
    Ok(ProfileCsv {
        distance_m: total,
        elevations_m: out,
        resampled: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write_csv(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
        let p = dir.path().join(name);
        std::fs::File::create(&p)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        p
    }

    #[test]
    fn profile_csv_rejections_name_file_line_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let cases: &[(&str, &[&str])] = &[
            (
                "distance,elev\n0,1\n",
                &[
                    "line 1: unknown column `distance`",
                    "must name the columns distance_m and elevation_m",
                ],
            ),
            (
                "distance_m,elevation_m\n5,100\n10,100\n",
                &["line 2, field distance_m: the first row must be at distance 0"],
            ),
            (
                "distance_m,elevation_m\n0,100\n100,abc\n50,100\n",
                &[
                    "line 3, field elevation_m: `abc` is not a finite number",
                    "line 4, field distance_m: 50 does not increase",
                ],
            ),
            (
                "distance_m,elevation_m\n0,100\n100,-32768\n",
                &["line 3, field elevation_m: -32768 m is outside -500..9000 m"],
            ),
            (
                "distance_m,elevation_m\n0,100\n",
                &["1 data row(s); a profile needs at least 2"],
            ),
            (
                "distance_m,elevation_m\n0,100\n100\n",
                &["line 3: 1 fields, expected 2"],
            ),
            (
                "distance_m,elevation_m,clutter\n0,1,2\n",
                &["line 1: unknown column `clutter`"],
            ),
        ];
        for (i, (text, needles)) in cases.iter().enumerate() {
            let path = write_csv(&dir, &format!("bad{i}.csv"), text);
            let e = read_profile_csv(&path).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("terrain profile {} is invalid:", path.display())),
                "{e}"
            );
            for n in *needles {
                assert!(e.contains(n), "case {i}: `{n}` missing in {e}");
            }
        }
        let e = read_profile_csv(&dir.path().join("missing.csv"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("cannot read terrain profile") && e.contains("missing.csv"),
            "{e}"
        );
    }

    #[test]
    fn uneven_profile_is_resampled() {
        let p = parse_profile_csv(
            "# comment\ndistance_m,elevation_m\n0,100\n50,150\n200,0\n",
            Path::new("x.csv"),
        )
        .unwrap();
        assert!(p.resampled);
        assert_eq!(p.distance_m, 200.0);
        assert_eq!(p.elevations_m, vec![100.0, 150.0, 100.0, 50.0, 0.0]);
        let p = parse_profile_csv(
            "distance_m,elevation_m\n0,1\n10,2\n20,3\n",
            Path::new("x.csv"),
        )
        .unwrap();
        assert!(!p.resampled);
        assert_eq!(p.elevations_m, vec![1.0, 2.0, 3.0]);
    }
}
