//! Sector antenna radiation pattern (3GPP TR 36.814 / TR 38.901 style) and the site → target
//! angles it is evaluated at.
//!
//! # Conventions
//! - Azimuths and bearings: degrees clockwise from true north (0 = N, 90 = E).
//! - Tilt: degrees **below** the horizon, positive = down (electrical + mechanical downtilt).
//! - Elevation angle of a target: degrees above the transmitter's local horizontal plane
//!   (negative = below), including Earth curvature with effective radius factor k.
//! - Gains are **relative** to boresight, in dB (≤ 0); the boresight gain is already in the
//!   cell's EIRP.
//!
//! # Pattern
//! A_H(φ) = −min(12 (φ/φ3dB)², A_m), A_V(θ) = −min(12 ((θ − θtilt)/θ3dB)², SLA_V), and the
//! combined A(φ, θ) = −min(−(A_H + A_V), A_m), with φ the angle off boresight azimuth,
//! θ the depression angle of the target (= −elevation), φ3dB the horizontal half-power beamwidth
//! (full width), θ3dB = 10°, A_m = 25 dB, SLA_V = 20 dB. A cell without azimuth or beamwidth is
//! omnidirectional: 0 dB in every direction (its vertical pattern is taken as folded into EIRP).

use crate::coverage::propagation::terrain::EARTH_RADIUS_M;
use ::geo::{Bearing, Geodesic, Point};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Why a cell's antenna parameters cannot form a pattern.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum AntennaError {
    #[error("antenna {field} = {value} is invalid: {reason}")]
    Invalid {
        field: &'static str,
        value: f64,
        reason: &'static str,
    },
}

/// Horizontal beamwidth assumed for a sector whose source gives an azimuth but no beamwidth,
/// degrees: the usual three-sector macro panel.
pub const DEFAULT_SECTOR_BEAMWIDTH_DEG: f64 = 65.0;

/// A sector (or omni) antenna pattern.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AntennaPattern {
    /// Boresight azimuth, degrees clockwise from north; `None` = omnidirectional.
    pub azimuth_deg: Option<f64>,
    /// Horizontal half-power beamwidth φ3dB (full width), degrees.
    pub beamwidth_deg: f64,
    /// Downtilt θtilt, degrees below the horizon.
    pub tilt_deg: f64,
    /// Vertical half-power beamwidth θ3dB, degrees (3GPP: 10°).
    pub vertical_beamwidth_deg: f64,
    /// Maximum attenuation / front-to-back ratio A_m, dB (3GPP: 25 dB).
    pub max_attenuation_db: f64,
    /// Vertical side-lobe level SLA_V, dB (3GPP: 20 dB).
    pub side_lobe_v_db: f64,
}

impl AntennaPattern {
    /// 0 dB everywhere.
    pub fn omni() -> Self {
        AntennaPattern {
            azimuth_deg: None,
            beamwidth_deg: 360.0,
            tilt_deg: 0.0,
            vertical_beamwidth_deg: 10.0,
            max_attenuation_db: 25.0,
            side_lobe_v_db: 20.0,
        }
    }

    /// A 3GPP sector with the default vertical pattern.
    pub fn sector(
        azimuth_deg: f64,
        beamwidth_deg: f64,
        tilt_deg: f64,
    ) -> Result<Self, AntennaError> {
        check(
            azimuth_deg.is_finite(),
            "azimuth_deg",
            azimuth_deg,
            "must be a finite bearing in degrees clockwise from north",
        )?;
        check(
            beamwidth_deg.is_finite() && beamwidth_deg > 0.0 && beamwidth_deg <= 360.0,
            "beamwidth_deg",
            beamwidth_deg,
            "must be in (0, 360] degrees",
        )?;
        check(
            tilt_deg.is_finite() && (-90.0..=90.0).contains(&tilt_deg),
            "tilt_deg",
            tilt_deg,
            "must be in [-90, 90] degrees (positive = down)",
        )?;
        Ok(AntennaPattern {
            azimuth_deg: Some(azimuth_deg.rem_euclid(360.0)),
            beamwidth_deg,
            tilt_deg,
            ..Self::omni()
        })
    }

    /// Pattern of a cell: a sector when an azimuth is given (beamwidth defaulting to
    /// [`DEFAULT_SECTOR_BEAMWIDTH_DEG`], the common macro panel, when the source omits it), omni
    /// otherwise; a missing tilt is 0°.
    pub fn from_cell(cell: &geodata::Cell) -> Result<Self, AntennaError> {
        match cell.azimuth_deg {
            Some(az) => Self::sector(
                az,
                cell.beamwidth_deg.unwrap_or(DEFAULT_SECTOR_BEAMWIDTH_DEG),
                cell.tilt_deg.unwrap_or(0.0),
            ),
            None => Ok(Self::omni()),
        }
    }

    /// Horizontal attenuation A_H (dB, ≤ 0) at a target bearing (degrees from north).
    #[inline]
    pub fn horizontal_db(&self, bearing_deg: f64) -> f64 {
        match self.azimuth_deg {
            None => 0.0,
            Some(az) => {
                let phi = angle_diff_deg(bearing_deg, az);
                -(12.0 * (phi / self.beamwidth_deg).powi(2)).min(self.max_attenuation_db)
            }
        }
    }

    /// Vertical attenuation A_V (dB, ≤ 0) at a target elevation angle (degrees, negative below
    /// the horizon).
    #[inline]
    pub fn vertical_db(&self, elevation_deg: f64) -> f64 {
        if self.azimuth_deg.is_none() {
            return 0.0;
        }
        let off = -elevation_deg - self.tilt_deg;
        -(12.0 * (off / self.vertical_beamwidth_deg).powi(2)).min(self.side_lobe_v_db)
    }

    /// Relative gain (dB) from a site to a target: initial geodesic bearing and the elevation
    /// angle from the antenna tops (metres above sea level) over `distance_m` with Earth
    /// curvature factor `k_factor`. Positions are (lon, lat) degrees.
    pub fn gain_towards_db(
        &self,
        site: (f64, f64),
        site_top_m: f64,
        target: (f64, f64),
        target_top_m: f64,
        distance_m: f64,
        k_factor: f64,
    ) -> f64 {
        if self.azimuth_deg.is_none() {
            return 0.0;
        }
        let bearing = initial_bearing_deg(site, target);
        self.gain_db(
            bearing,
            elevation_angle_deg(site_top_m, target_top_m, distance_m, k_factor),
        )
    }

    /// Combined relative gain in dB (≤ 0, ≥ −A_m) towards a target.
    #[inline]
    pub fn gain_db(&self, bearing_deg: f64, elevation_deg: f64) -> f64 {
        if self.azimuth_deg.is_none() {
            return 0.0;
        }
        -(-(self.horizontal_db(bearing_deg) + self.vertical_db(elevation_deg)))
            .min(self.max_attenuation_db)
    }
}

fn check(
    ok: bool,
    field: &'static str,
    value: f64,
    reason: &'static str,
) -> Result<(), AntennaError> {
    if ok {
        Ok(())
    } else {
        Err(AntennaError::Invalid {
            field,
            value,
            reason,
        })
    }
}

/// Signed smallest difference a − b in degrees, in [−180, 180).
#[inline]
pub fn angle_diff_deg(a: f64, b: f64) -> f64 {
    (a - b + 180.0).rem_euclid(360.0) - 180.0
}

/// Initial geodesic (WGS84) bearing from `from` to `to`, both (lon, lat) degrees; degrees
/// clockwise from north in [0, 360).
pub fn initial_bearing_deg(from: (f64, f64), to: (f64, f64)) -> f64 {
    Geodesic.bearing(Point::new(from.0, from.1), Point::new(to.0, to.1))
}

/// Elevation angle (degrees, negative below the horizontal) of a target whose antenna top is at
/// `rx_top_m` seen from a transmitter antenna top at `tx_top_m` (both metres above sea level),
/// `distance_m` away along the ground, over an Earth of effective radius k·R.
///
/// The target drops below the transmitter's horizontal plane by d²/(2kR) because of curvature,
/// which subtracts d/(2kR) radians from the flat-Earth angle.
#[inline]
pub fn elevation_angle_deg(tx_top_m: f64, rx_top_m: f64, distance_m: f64, k_factor: f64) -> f64 {
    let d = distance_m.max(1e-3);
    ((rx_top_m - tx_top_m) / d - d / (2.0 * k_factor * EARTH_RADIUS_M))
        .atan()
        .to_degrees()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn horizontal_pattern_values() {
        let a = AntennaPattern::sector(90.0, 65.0, 0.0).unwrap();
        assert_eq!(a.horizontal_db(90.0), 0.0);
        assert!((a.horizontal_db(90.0 + 32.5) + 3.0).abs() < 1e-12);
        assert!((a.horizontal_db(90.0 - 32.5) + 3.0).abs() < 1e-12);
        assert_eq!(a.horizontal_db(270.0), -25.0);
        // Wrap-around across north.
        let n = AntennaPattern::sector(350.0, 60.0, 0.0).unwrap();
        assert!((n.horizontal_db(20.0) + 3.0).abs() < 1e-12);
    }

    #[test]
    fn combined_pattern_boresight_half_beam_back_lobe() {
        let a = AntennaPattern::sector(0.0, 65.0, 6.0).unwrap();
        // Target exactly at the tilt: boresight 0 dB.
        assert!(a.gain_db(0.0, -6.0).abs() < 1e-12);
        assert!((a.gain_db(32.5, -6.0) + 3.0).abs() < 1e-12);
        // Vertical half-beamwidth (5° off the tilt) is −3 dB.
        assert!((a.gain_db(0.0, -1.0) + 3.0).abs() < 1e-12);
        assert!((a.gain_db(0.0, -11.0) + 3.0).abs() < 1e-12);
        // Back lobe is capped at A_m = 25 dB even with vertical attenuation on top.
        assert_eq!(a.gain_db(180.0, -6.0), -25.0);
        assert_eq!(a.gain_db(180.0, 40.0), -25.0);
        // Vertical side lobe floor at 20 dB.
        assert_eq!(a.vertical_db(60.0), -20.0);
    }

    #[test]
    fn omni_and_from_cell() {
        let mut cell = geodata::Cell {
            technology: geodata::Technology::G4,
            band_mhz: 1800.0,
            eirp_dbm: 60.0,
            azimuth_deg: None,
            beamwidth_deg: Some(65.0),
            tilt_deg: Some(4.0),
        };
        let o = AntennaPattern::from_cell(&cell).unwrap();
        assert_eq!(o.gain_db(123.0, -30.0), 0.0);
        cell.azimuth_deg = Some(-90.0);
        let s = AntennaPattern::from_cell(&cell).unwrap();
        assert_eq!(s.azimuth_deg, Some(270.0));
        assert_eq!(s.tilt_deg, 4.0);
        cell.beamwidth_deg = Some(0.0);
        let e = AntennaPattern::from_cell(&cell).unwrap_err();
        assert_eq!(
            e.to_string(),
            "antenna beamwidth_deg = 0 is invalid: must be in (0, 360] degrees"
        );
        let e = AntennaPattern::sector(0.0, 65.0, 95.0).unwrap_err();
        assert!(e.to_string().contains("tilt_deg = 95"), "{e}");
    }

    #[test]
    fn gain_towards_a_target() {
        // East-pointing sector tilted 2° down; target 5 km due east: depression ≈ 0.34° +
        // curvature, i.e. ~1.6° above the tilt → small vertical loss only.
        let a = AntennaPattern::sector(90.0, 65.0, 2.0).unwrap();
        let site = (69.0, 41.0);
        let east = (69.0 + 5000.0 / (111_320.0 * 41f64.to_radians().cos()), 41.0);
        let g = a.gain_towards_db(site, 430.0, east, 401.5, 5000.0, 4.0 / 3.0);
        let elev = elevation_angle_deg(430.0, 401.5, 5000.0, 4.0 / 3.0);
        assert!((g - a.gain_db(initial_bearing_deg(site, east), elev)).abs() < 1e-12);
        assert!(g > -1.5 && g < 0.0, "{g}");
        // Same target due west: back lobe.
        let west = (2.0 * site.0 - east.0, 41.0);
        assert_eq!(
            a.gain_towards_db(site, 430.0, west, 401.5, 5000.0, 4.0 / 3.0),
            -25.0
        );
        assert_eq!(
            AntennaPattern::omni().gain_towards_db(site, 430.0, west, 401.5, 5000.0, 4.0 / 3.0),
            0.0
        );
    }

    #[test]
    fn bearings_and_elevation() {
        assert!((initial_bearing_deg((69.0, 41.0), (69.0, 42.0)) - 0.0).abs() < 1e-9);
        assert!((initial_bearing_deg((69.0, 0.0), (70.0, 0.0)) - 90.0).abs() < 1e-9);
        assert!((initial_bearing_deg((69.0, 41.0), (68.0, 41.0)) - 270.0).abs() < 1.0);
        // Across the antimeridian: east is east.
        assert!((initial_bearing_deg((179.5, 0.0), (-179.5, 0.0)) - 90.0).abs() < 1e-9);
        // Flat-earth angle minus curvature: 30 m mast to 1.5 m handset at 3 km.
        let e = elevation_angle_deg(130.0, 101.5, 3000.0, 4.0 / 3.0);
        let expected = ((101.5 - 130.0) / 3000.0 - 3000.0 / (2.0 * 4.0 / 3.0 * EARTH_RADIUS_M))
            .atan()
            .to_degrees();
        assert!((e - expected).abs() < 1e-12);
        assert!((e + 0.5544).abs() < 0.01, "{e}");
        // Equal heights far away: the target sinks below the horizontal plane.
        assert!(elevation_angle_deg(100.0, 100.0, 50_000.0, 4.0 / 3.0) < -0.1);
    }
}
