//! The typed domain model shared by every part of the planner.
//!
//! Coordinates are WGS84 longitude/latitude in degrees everywhere; inputs in other CRSs are
//! reprojected on read. Heights and distances are metres, powers dBm, frequencies MHz.

use geo_types::{LineString, MultiPolygon};
use serde::{Deserialize, Serialize};

/// A populated place that should receive service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settlement {
    /// Unique identifier within the dataset.
    pub id: String,
    pub name: String,
    /// Longitude, degrees east (WGS84).
    pub lon: f64,
    /// Latitude, degrees north (WGS84).
    pub lat: f64,
    /// Residents (persons).
    pub population: u64,
    /// Households, when the source gives them; otherwise derived later from population.
    pub households: Option<u64>,
    /// ISO 3166-2 code of the region the settlement lies in (e.g. `UZ-TO`), when known.
    pub region: Option<String>,
}

/// Functional road class, ordered from most to least important (OSM `highway=*` vocabulary).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RoadClass {
    Motorway,
    Trunk,
    Primary,
    Secondary,
    Tertiary,
    Other,
}

/// A road segment (polyline) with its route memberships.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Road {
    pub id: String,
    /// Geometry in lon/lat degrees.
    pub geometry: LineString<f64>,
    pub class: RoadClass,
    /// Route references, normalised without spaces or dashes: `E40`, `AH5`, `M39`.
    pub refs: Vec<String>,
    /// True when the road belongs to at least one international route (E-road, Asian Highway,
    /// or listed as international in the route table).
    pub international: bool,
    pub name: Option<String>,
}

/// An administrative region (first-level subdivision).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Region {
    /// ISO 3166-2 code, e.g. `UZ-SA`.
    pub code: String,
    pub name_en: String,
    pub name_local: Option<String>,
    pub name_ru: Option<String>,
    /// Boundary in lon/lat degrees.
    pub geometry: MultiPolygon<f64>,
}

/// A neighbouring country drawn as map context around the dataset (background only: never a
/// target, a region or part of any analysis).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContextCountry {
    /// ISO 3166-1 alpha-2 code, e.g. `KZ`.
    pub iso_a2: String,
    /// English name, e.g. `Kazakhstan`.
    pub name_en: String,
    /// Outline in lon/lat degrees, usually clipped to the area around the dataset.
    pub geometry: MultiPolygon<f64>,
}

/// Radio access technology generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Technology {
    #[serde(rename = "2g")]
    G2,
    #[serde(rename = "3g")]
    G3,
    #[serde(rename = "4g")]
    G4,
    #[serde(rename = "5g")]
    G5,
}

impl Technology {
    pub const ALL: [Technology; 4] = [
        Technology::G2,
        Technology::G3,
        Technology::G4,
        Technology::G5,
    ];

    /// Lower-case label used in files, JSON and metrics: `2g` … `5g`.
    pub fn as_str(self) -> &'static str {
        match self {
            Technology::G2 => "2g",
            Technology::G3 => "3g",
            Technology::G4 => "4g",
            Technology::G5 => "5g",
        }
    }

    /// Parses `2g`, `2G`, `GSM`, `UMTS`, `LTE`, `NR` and similar spellings.
    pub fn parse(s: &str) -> Option<Technology> {
        match s.trim().to_ascii_lowercase().as_str() {
            "2g" | "gsm" | "edge" | "gprs" | "cdma" => Some(Technology::G2),
            "3g" | "umts" | "wcdma" | "hspa" | "hspa+" => Some(Technology::G3),
            "4g" | "lte" | "lte-a" => Some(Technology::G4),
            "5g" | "nr" | "5g nr" => Some(Technology::G5),
            _ => None,
        }
    }
}

impl std::fmt::Display for Technology {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One radio carrier/sector on a site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    pub technology: Technology,
    /// Carrier frequency, MHz.
    pub band_mhz: f64,
    /// Effective isotropic radiated power in the main beam, dBm.
    pub eirp_dbm: f64,
    /// Boresight azimuth, degrees clockwise from true north; `None` for an omni antenna.
    pub azimuth_deg: Option<f64>,
    /// Horizontal half-power beamwidth, degrees; `None` for an omni antenna.
    pub beamwidth_deg: Option<f64>,
    /// Downtilt, degrees below the horizon (positive = down); `None` for no tilt.
    pub tilt_deg: Option<f64>,
}

/// A cell site (mast/tower) with its cells.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Site {
    pub id: String,
    pub lon: f64,
    pub lat: f64,
    /// Antenna height above ground level, metres.
    pub height_m: f64,
    pub operator: Option<String>,
    pub cells: Vec<Cell>,
}

/// Access technology of a fixed-broadband node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FixedTechnology {
    /// Fibre to the home (GPON/XGS-PON OLT).
    Ftth,
    /// Copper DSL (DSLAM/MSAN).
    Dsl,
    /// Cable (DOCSIS CMTS).
    Docsis,
    /// Fixed wireless access base station.
    Fwa,
}

impl FixedTechnology {
    pub fn as_str(self) -> &'static str {
        match self {
            FixedTechnology::Ftth => "ftth",
            FixedTechnology::Dsl => "dsl",
            FixedTechnology::Docsis => "docsis",
            FixedTechnology::Fwa => "fwa",
        }
    }

    pub fn parse(s: &str) -> Option<FixedTechnology> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ftth" | "fttx" | "gpon" | "xgs-pon" | "fibre" | "fiber" => Some(FixedTechnology::Ftth),
            "dsl" | "adsl" | "vdsl" | "xdsl" => Some(FixedTechnology::Dsl),
            "docsis" | "cable" => Some(FixedTechnology::Docsis),
            "fwa" | "wireless" => Some(FixedTechnology::Fwa),
            _ => None,
        }
    }
}

/// A fixed-broadband access node (OLT, DSLAM, …) with port capacity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FixedNode {
    pub id: String,
    pub lon: f64,
    pub lat: f64,
    /// Node kind as the operator names it (`olt`, `dslam`, `msan`, `cmts`, …).
    pub kind: String,
    pub technology: FixedTechnology,
    /// Subscriber ports installed.
    pub ports_total: u32,
    /// Subscriber ports in use.
    pub ports_used: u32,
}
