//! Format readers: each turns one file into a [`RawLayer`] of attribute maps and WGS84
//! geometries, so the layer builders (the `layers` module, one level up) work the same on
//! every format.
//!
//! GeoJSON and CSV are read natively (they are WGS84 lon/lat by definition); every other
//! extension goes to GDAL ([`gdal_vector`]), which also reprojects other CRSs to WGS84.

pub mod csv;
pub mod gdal_vector;
pub mod geojson;
pub mod osm;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use geo_types::Geometry;

use crate::error::{Location, Problem, Problems};

/// An attribute value as the source holds it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
}

impl Value {
    /// The value as text, `None` for null or blank text.
    pub fn as_text(&self) -> Option<String> {
        match self {
            Value::Null => None,
            Value::Bool(b) => Some(b.to_string()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Text(s) => {
                let t = s.trim();
                (!t.is_empty()).then(|| t.to_owned())
            }
        }
    }

    /// How the value is quoted in messages.
    pub fn describe(&self) -> String {
        match self {
            Value::Null => "null".into(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Text(s) => format!("{s:?}"),
        }
    }
}

/// One feature (or CSV row) before it is turned into a model type.
#[derive(Debug, Clone)]
pub struct RawFeature {
    /// Feature index or CSV line, for messages.
    pub location: Location,
    pub attrs: BTreeMap<String, Value>,
    /// WGS84 lon/lat geometry; `None` when the feature has none (or it could not be read,
    /// which the reader has already reported).
    pub geometry: Option<Geometry<f64>>,
    /// True when the reader already reported why `geometry` is missing, so the layer
    /// builders do not report it a second time.
    pub geometry_reported: bool,
}

/// Everything read from one file/layer.
#[derive(Debug, Clone, Default)]
pub struct RawLayer {
    /// The file as named in messages.
    pub file: String,
    /// Field names the layer declares (CSV header, GDAL layer fields, union of GeoJSON
    /// property keys). A mapped field missing here is reported once for the whole file.
    pub fields: BTreeSet<String>,
    /// True when features may carry keys not declared in `fields` (GDAL OSM `other_tags`),
    /// so a missing column cannot be reported up front.
    pub open_schema: bool,
    pub features: Vec<RawFeature>,
    /// Problems found while reading (unreadable rows, bad geometries, bad coordinates).
    pub problems: Problems,
    /// Things the user should know that do not stop reading (e.g. a layer without a CRS).
    pub warnings: Vec<Problem>,
}

/// The kind of file, chosen by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    GeoJson,
    Csv,
    /// OpenStreetMap XML or PBF, read by GDAL's OSM driver.
    Osm,
    /// Anything else GDAL can open (GeoPackage, Shapefile, FlatGeobuf, KML …).
    Gdal,
}

impl Format {
    pub fn from_path(path: &Path) -> Format {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        if name.ends_with(".geojson") || name.ends_with(".json") {
            Format::GeoJson
        } else if name.ends_with(".csv") {
            Format::Csv
        } else if name.ends_with(".osm") || name.ends_with(".osm.pbf") || name.ends_with(".pbf") {
            Format::Osm
        } else {
            Format::Gdal
        }
    }
}

/// What a layer will be used for; GDAL's OSM driver needs it to pick `points`, `lines` or
/// `multipolygons`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerKind {
    Points,
    Lines,
    Polygons,
}

/// True when `bytes` hold nothing but white space (and a UTF-8 byte-order mark).
pub(crate) fn is_blank(bytes: &[u8]) -> bool {
    let b = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    b.iter().all(u8::is_ascii_whitespace)
}

/// A layer whose only problem is that its file is empty (said as such, not as a parser's
/// "EOF at column 0").
pub(crate) fn empty_file(file: &str) -> RawLayer {
    RawLayer {
        file: file.to_owned(),
        problems: Problems(vec![Problem::new(
            file,
            Location::None,
            None,
            "empty file",
            "the file has no content: export the layer again, or leave it out of the inputs",
        )]),
        ..Default::default()
    }
}

/// Reads any supported file. `lonlat` names the CSV coordinate columns; `layer` picks a GDAL
/// layer by name (default: the first layer, or the OSM layer matching `kind`).
pub fn read_path(
    path: &Path,
    layer: Option<&str>,
    kind: LayerKind,
    lonlat: (&str, &str),
) -> Result<RawLayer, crate::GeodataError> {
    read_path_in(path, layer, kind, lonlat, None)
}

/// Like [`read_path`], with a CSV's coordinate columns in `crs` (see [`csv::read_bytes_in`]).
pub fn read_path_in(
    path: &Path,
    layer: Option<&str>,
    kind: LayerKind,
    lonlat: (&str, &str),
    crs: Option<&str>,
) -> Result<RawLayer, crate::GeodataError> {
    if std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() == 0) {
        return Ok(empty_file(&path.display().to_string()));
    }
    match Format::from_path(path) {
        Format::GeoJson => {
            let bytes = std::fs::read(path).map_err(|e| crate::GeodataError::io(path, e))?;
            Ok(geojson::read_bytes(&path.display().to_string(), &bytes))
        }
        Format::Csv => {
            let bytes = std::fs::read(path).map_err(|e| crate::GeodataError::io(path, e))?;
            Ok(csv::read_bytes_in(
                &path.display().to_string(),
                &bytes,
                lonlat,
                crs,
            ))
        }
        Format::Osm => {
            let name = layer.unwrap_or(osm::layer_for(kind));
            gdal_vector::read_path(path, Some(name))
        }
        Format::Gdal => gdal_vector::read_path(path, layer),
    }
}
