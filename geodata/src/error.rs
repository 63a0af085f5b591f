//! Error types of the geodata crate: one precise [`Problem`] per bad feature or value, collected
//! into [`Problems`] so a user sees every mistake in one run instead of fixing them one by one.
//!
//! A problem names the file, the place in it (feature index, CSV line or dataset item), the
//! field, what is wrong and what to do, e.g.
//! `roads.geojson: feature 12: field "population": "abc" is not a number — give a whole number of residents`.

use std::fmt;
use std::path::{Path, PathBuf};

/// Where in a file a problem sits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Location {
    /// The file (or layer) as a whole.
    None,
    /// A feature of a vector layer: its 0-based index in reading order (the GeoJSON `features`
    /// array index, or the n-th feature GDAL returns), shown 1-based ("feature 1" is the first,
    /// as a person counts and as QGIS's attribute table numbers rows).
    Feature(usize),
    /// A CSV line, 1-based, counting the header as line 1 (what a text editor shows).
    Line(u64),
    /// An item of an already loaded dataset layer: its 0-based index (shown 1-based) and its id.
    Item { index: usize, id: String },
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::None => Ok(()),
            Location::Feature(i) => write!(f, "feature {}", i + 1),
            Location::Line(l) => write!(f, "line {l}"),
            Location::Item { index, id } => write!(f, "item {} (id {id:?})", index + 1),
        }
    }
}

/// One thing wrong (or suspicious, when used as a [`Warning`]) with an input.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Problem {
    /// The file (path as the user gave it, or `embedded:…`, or a layer label).
    pub file: String,
    pub location: Location,
    /// The attribute/column concerned, when there is one.
    pub field: Option<String>,
    /// What is wrong, quoting the offending value.
    pub message: String,
    /// What the user should do about it.
    pub hint: String,
}

/// A problem that does not stop loading (e.g. a default applied, a value outside its usual
/// range); counted and shown, never silent.
pub type Warning = Problem;

impl Problem {
    pub fn new(
        file: impl Into<String>,
        location: Location,
        field: Option<&str>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Problem {
        Problem {
            file: file.into(),
            location,
            field: field.map(str::to_owned),
            message: message.into(),
            hint: hint.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if self.location != Location::None {
            write!(f, ": {}", self.location)?;
        }
        if let Some(field) = &self.field {
            write!(f, ": field {field:?}")?;
        }
        write!(f, ": {}", self.message)?;
        if !self.hint.is_empty() {
            write!(f, " — {}", self.hint)?;
        }
        Ok(())
    }
}

/// Every problem found in one reading/validation pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    pub fn new() -> Problems {
        Problems(Vec::new())
    }

    pub fn push(&mut self, p: Problem) {
        self.0.push(p);
    }

    pub fn extend(&mut self, other: impl IntoIterator<Item = Problem>) {
        self.0.extend(other);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Problem> {
        self.0.iter()
    }

    /// `Ok(())` when nothing was found, otherwise one error listing every problem.
    pub fn into_result(self) -> Result<(), GeodataError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(GeodataError::Invalid(self))
        }
    }
}

impl IntoIterator for Problems {
    type Item = Problem;
    type IntoIter = std::vec::IntoIter<Problem>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Problems {
    type Item = &'a Problem;
    type IntoIter = std::slice::Iter<'a, Problem>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(
            f,
            "{n} problem{} in the input data:",
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.0 {
            write!(f, "\n  - {p}")?;
        }
        Ok(())
    }
}

/// Anything that can go wrong reading or validating geodata.
#[derive(Debug, thiserror::Error)]
pub enum GeodataError {
    /// The data was read but is wrong; every problem found is listed.
    #[error("{0}")]
    Invalid(Problems),
    /// A file could not be read or written.
    #[error("{}: {source} — check that the file exists and is readable", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// GDAL could not open or read a file.
    #[error("{}: GDAL: {source} — check the path and that GDAL supports this format (`ogrinfo --formats`, `gdalinfo --formats`)", path.display())]
    Gdal {
        path: PathBuf,
        #[source]
        source: gdal::errors::GdalError,
    },
    /// A DEM sample (profile point, target) lies outside the raster; never defaulted to sea level.
    /// `dem` names the raster (file path or `embedded:…`).
    #[error("{dem}: point (lon {lon:.5}, lat {lat:.5}) is outside the DEM, which covers {extent} — use a DEM that covers the whole area or remove the points outside it")]
    OutsideDem {
        dem: String,
        lon: f64,
        lat: f64,
        extent: String,
    },
    /// A DEM sample hits a no-data cell (void, sea mask …); never defaulted to sea level.
    #[error("{dem}: no elevation data at (lon {lon:.5}, lat {lat:.5}) — fill the voids in the DEM (e.g. `gdal_fillnodata.py`) or use a DEM without gaps there")]
    DemNoData { dem: String, lon: f64, lat: f64 },
    /// A raster that cannot serve as a DEM (rotated, no CRS …) or a bad DEM request.
    #[error("{dem}: {message}")]
    DemInvalid { dem: String, message: String },
    #[error("{0}")]
    Other(String),
}

impl GeodataError {
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> GeodataError {
        GeodataError::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    pub fn gdal(path: impl AsRef<Path>, source: gdal::errors::GdalError) -> GeodataError {
        GeodataError::Gdal {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    /// The individual problems when this is an [`GeodataError::Invalid`] error, else empty.
    pub fn problems(&self) -> &[Problem] {
        match self {
            GeodataError::Invalid(p) => &p.0,
            _ => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_display_names_file_feature_field_and_hint() {
        let p = Problem::new(
            "roads.geojson",
            Location::Feature(11),
            Some("population"),
            "\"abc\" is not a number",
            "give a whole number of residents",
        );
        assert_eq!(
            p.to_string(),
            "roads.geojson: feature 12: field \"population\": \"abc\" is not a number — give a whole number of residents"
        );
        let p = Problem::new("s.csv", Location::None, None, "empty", "");
        assert_eq!(p.to_string(), "s.csv: empty");
    }

    #[test]
    fn problems_display_lists_every_problem() {
        let mut ps = Problems::new();
        ps.push(Problem::new(
            "a.csv",
            Location::Line(3),
            Some("lon"),
            "m1",
            "h1",
        ));
        ps.push(Problem::new("b.csv", Location::Line(4), None, "m2", "h2"));
        let e = ps.into_result().unwrap_err();
        let s = e.to_string();
        assert!(s.starts_with("2 problems in the input data:"), "{s}");
        assert!(s.contains("a.csv: line 3: field \"lon\": m1 — h1"), "{s}");
        assert!(s.contains("b.csv: line 4: m2 — h2"), "{s}");
        assert_eq!(e.problems().len(), 2);
    }
}
