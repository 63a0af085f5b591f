//! Attribute mapping: which field of a user's file holds each model attribute.
//!
//! Every mapping deserialises strictly (unknown keys are rejected, so a typo such as
//! `populaton = "pop"` is an error, not a silently ignored setting) and starts from defaults
//! that match the project's own files. [`SettlementMapping::osm`] and [`RoadMapping::osm`] give
//! the OpenStreetMap tag names (`place`, `population`, `name`, `highway`, `ref`, `int_ref`).

use serde::{Deserialize, Serialize};

use crate::model::Technology;

fn s(v: &str) -> String {
    v.to_owned()
}

/// Fields of a settlements layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SettlementMapping {
    /// Unique id. When the field is absent from a file, ids are `<layer>-<feature index>`.
    pub id: String,
    pub name: String,
    /// Residents, a whole number.
    pub population: String,
    /// Households (optional in the data).
    pub households: String,
    /// ISO 3166-2 region code (optional in the data).
    pub region: String,
    /// CSV only: longitude column, degrees (WGS84).
    pub lon: String,
    /// CSV only: latitude column, degrees (WGS84).
    pub lat: String,
    /// When set, only features with a non-empty value in this field are settlements (OSM:
    /// `place`); others (shops, bus stops …) are skipped without comment.
    pub place: Option<String>,
    /// Skip features without a usable population instead of failing: missing values are
    /// counted in one warning, unparsable ones warned about one by one.
    /// OpenStreetMap tags population on few places, so the OSM mapping turns this on.
    pub skip_without_population: bool,
}

impl Default for SettlementMapping {
    fn default() -> Self {
        SettlementMapping {
            id: s("id"),
            name: s("name"),
            population: s("population"),
            households: s("households"),
            region: s("region"),
            lon: s("lon"),
            lat: s("lat"),
            place: None,
            skip_without_population: false,
        }
    }
}

impl SettlementMapping {
    /// OpenStreetMap `points` layer as GDAL's OSM driver presents it.
    pub fn osm() -> Self {
        SettlementMapping {
            id: s("osm_id"),
            place: Some(s("place")),
            skip_without_population: true,
            ..Default::default()
        }
    }
}

/// Fields of a roads layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoadMapping {
    /// Unique id. When absent, ids are `<layer>-<feature index>`; parts of a MultiLineString
    /// get `#<part>` appended.
    pub id: String,
    pub name: String,
    /// Functional class (`motorway`, `trunk`, `primary`, … OSM `highway` vocabulary).
    pub class: String,
    /// National/other route refs, `;`-separated (OSM `ref`).
    pub route_ref: String,
    /// International route refs, `;`-separated (OSM `int_ref`).
    pub int_ref: String,
    /// Optional boolean field that marks a road international whatever its refs say.
    pub international: String,
    /// Skip features whose class field is empty (OSM: lines without `highway` are rivers,
    /// power lines …, not roads). Otherwise such roads get class `other` with a warning.
    pub skip_without_class: bool,
    /// When non-empty, keep only these classes (e.g. `["motorway","trunk","primary"]`).
    pub keep_classes: Vec<String>,
}

impl Default for RoadMapping {
    fn default() -> Self {
        RoadMapping {
            id: s("id"),
            name: s("name"),
            class: s("class"),
            route_ref: s("refs"),
            int_ref: s("int_ref"),
            international: s("international"),
            skip_without_class: false,
            keep_classes: Vec::new(),
        }
    }
}

impl RoadMapping {
    /// OpenStreetMap `lines` layer as GDAL's OSM driver presents it.
    pub fn osm() -> Self {
        RoadMapping {
            id: s("osm_id"),
            class: s("highway"),
            route_ref: s("ref"),
            skip_without_class: true,
            ..Default::default()
        }
    }
}

/// Fields of a regions layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegionMapping {
    /// ISO 3166-2 code (required, unique).
    pub code: String,
    pub name_en: String,
    pub name_local: String,
    pub name_ru: String,
}

impl Default for RegionMapping {
    fn default() -> Self {
        RegionMapping {
            code: s("code"),
            name_en: s("name_en"),
            name_local: s("name_local"),
            name_ru: s("name_ru"),
        }
    }
}

/// Fields of a context (neighbouring countries) layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContextMapping {
    /// ISO 3166-1 alpha-2 country code (required).
    pub iso_a2: String,
    /// Country name shown on maps; default: the code.
    pub name_en: String,
}

impl Default for ContextMapping {
    fn default() -> Self {
        ContextMapping {
            iso_a2: s("iso_a2"),
            name_en: s("name_en"),
        }
    }
}

/// Layout of a site file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SiteFormat {
    /// OpenCelliD when the header has `radio`, `mcc`, `net`, `cell`; cells otherwise.
    #[default]
    Auto,
    /// One row/feature per cell, grouped into sites by the site id field.
    Cells,
    /// OpenCelliD's cell export: one omni site per row with default height and EIRP.
    Opencellid,
}

/// Defaults applied to OpenCelliD rows, which carry no antenna data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OpencellidDefaults {
    /// Antenna height above ground, metres.
    pub height_m: f64,
    /// EIRP per technology, dBm.
    pub eirp_2g_dbm: f64,
    pub eirp_3g_dbm: f64,
    pub eirp_4g_dbm: f64,
    pub eirp_5g_dbm: f64,
    /// Carrier frequency per technology, MHz.
    pub band_2g_mhz: f64,
    pub band_3g_mhz: f64,
    pub band_4g_mhz: f64,
    pub band_5g_mhz: f64,
}

impl Default for OpencellidDefaults {
    fn default() -> Self {
        // Typical rural macro values: 30 m masts, ~43–46 dBm transmitters into ~15–18 dBi
        // sector antennas (EIRP ≈ 58–63 dBm), the most common band of each generation.
        OpencellidDefaults {
            height_m: 30.0,
            eirp_2g_dbm: 60.0,
            eirp_3g_dbm: 60.0,
            eirp_4g_dbm: 61.0,
            eirp_5g_dbm: 63.0,
            band_2g_mhz: 900.0,
            band_3g_mhz: 2100.0,
            band_4g_mhz: 1800.0,
            band_5g_mhz: 3500.0,
        }
    }
}

impl OpencellidDefaults {
    pub fn eirp_dbm(&self, t: Technology) -> f64 {
        match t {
            Technology::G2 => self.eirp_2g_dbm,
            Technology::G3 => self.eirp_3g_dbm,
            Technology::G4 => self.eirp_4g_dbm,
            Technology::G5 => self.eirp_5g_dbm,
        }
    }

    pub fn band_mhz(&self, t: Technology) -> f64 {
        match t {
            Technology::G2 => self.band_2g_mhz,
            Technology::G3 => self.band_3g_mhz,
            Technology::G4 => self.band_4g_mhz,
            Technology::G5 => self.band_5g_mhz,
        }
    }
}

/// Fields of a sites/cells layer (one row or feature per cell).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SiteMapping {
    pub format: SiteFormat,
    pub site_id: String,
    /// CSV only: longitude/latitude columns, degrees (WGS84).
    pub lon: String,
    pub lat: String,
    /// Antenna height above ground, metres.
    pub height: String,
    pub operator: String,
    /// `2g`…`5g`, or GSM/UMTS/LTE/NR.
    pub technology: String,
    /// Carrier frequency, MHz.
    pub band: String,
    /// EIRP, dBm.
    pub eirp: String,
    /// Azimuth, degrees from north; empty = omni.
    pub azimuth: String,
    /// Horizontal beamwidth, degrees; empty = omni.
    pub beamwidth: String,
    /// Downtilt, degrees; empty = none.
    pub tilt: String,
    pub opencellid: OpencellidDefaults,
}

impl Default for SiteMapping {
    fn default() -> Self {
        SiteMapping {
            format: SiteFormat::Auto,
            site_id: s("site_id"),
            lon: s("lon"),
            lat: s("lat"),
            height: s("height_m"),
            operator: s("operator"),
            technology: s("technology"),
            band: s("band_mhz"),
            eirp: s("eirp_dbm"),
            azimuth: s("azimuth_deg"),
            beamwidth: s("beamwidth_deg"),
            tilt: s("tilt_deg"),
            opencellid: OpencellidDefaults::default(),
        }
    }
}

/// Fields of a fixed-broadband nodes layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FixedNodeMapping {
    pub id: String,
    /// CSV only: longitude/latitude columns, degrees (WGS84).
    pub lon: String,
    pub lat: String,
    pub kind: String,
    /// `ftth`, `dsl`, `docsis`, `fwa` (or GPON, VDSL, cable …).
    pub technology: String,
    pub ports_total: String,
    pub ports_used: String,
}

impl Default for FixedNodeMapping {
    fn default() -> Self {
        FixedNodeMapping {
            id: s("id"),
            lon: s("lon"),
            lat: s("lat"),
            kind: s("kind"),
            technology: s("technology"),
            ports_total: s("ports_total"),
            ports_used: s("ports_used"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_rejects_unknown_keys_and_keeps_defaults() {
        let m: SettlementMapping = serde_json::from_str(r#"{"population":"pop"}"#).unwrap();
        assert_eq!(m.population, "pop");
        assert_eq!(m.name, "name");
        let e = serde_json::from_str::<SettlementMapping>(r#"{"populaton":"pop"}"#).unwrap_err();
        assert!(e.to_string().contains("unknown field `populaton`"), "{e}");
        let e = serde_json::from_str::<SiteMapping>(r#"{"opencellid":{"height":3}}"#).unwrap_err();
        assert!(e.to_string().contains("unknown field `height`"), "{e}");
    }

    #[test]
    fn osm_defaults_use_osm_tags() {
        let r = RoadMapping::osm();
        assert_eq!(
            (r.class.as_str(), r.route_ref.as_str(), r.int_ref.as_str()),
            ("highway", "ref", "int_ref")
        );
        let p = SettlementMapping::osm();
        assert_eq!(p.place.as_deref(), Some("place"));
        assert_eq!(
            (p.population.as_str(), p.name.as_str()),
            ("population", "name")
        );
    }
}
