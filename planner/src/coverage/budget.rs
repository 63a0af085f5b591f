//! Downlink link budget per technology: received power from EIRP, antenna pattern and path
//! loss, and the strong / variable / none signal classes against per-technology thresholds.
//!
//! # What "received power" means per technology
//! The quantity compared with the threshold is the one phones report:
//! - **2G** RxLev: power of the BCCH carrier, transmitted at full power → EIRP − loss.
//! - **3G** RSCP: power of the CPICH pilot, a fraction of the carrier power (typically 10 %,
//!   [`BudgetConfig::umts_cpich_fraction_db`] = −10 dB) → EIRP + fraction − loss.
//! - **4G / 5G** RSRP: power of one resource element; the carrier's power is spread evenly over
//!   12 · N_RB subcarriers → EIRP − 10 log10(12 · N_RB) − loss, with N_RB = 50 for LTE (10 MHz)
//!   and 273 for NR (100 MHz at 30 kHz spacing) by default.
//!
//! The cell's EIRP is the total carrier power in the main beam; the antenna pattern's relative
//! gain (≤ 0 dB, [`crate::coverage::antenna`]) is added, then receiver antenna gain and losses
//! (body/cable), both 0 dB by default for a handset.
//!
//! Classes: **strong** ≥ threshold + margin (10 dB by default), **variable** ≥ threshold,
//! **none** below. Default thresholds (GSMA-style outdoor coverage): RxLev −104 dBm, RSCP
//! −105 dBm, RSRP −110 dBm.

use geodata::Technology;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Per-technology value, serialised with the `2g` … `5g` keys.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerTechnology<T> {
    #[serde(rename = "2g")]
    pub g2: T,
    #[serde(rename = "3g")]
    pub g3: T,
    #[serde(rename = "4g")]
    pub g4: T,
    #[serde(rename = "5g")]
    pub g5: T,
}

impl<T: Copy> PerTechnology<T> {
    pub fn get(&self, tech: Technology) -> T {
        match tech {
            Technology::G2 => self.g2,
            Technology::G3 => self.g3,
            Technology::G4 => self.g4,
            Technology::G5 => self.g5,
        }
    }
}

/// Coverage thresholds in dBm (RxLev, RSCP, RSRP, RSRP).
pub const DEFAULT_THRESHOLDS_DBM: PerTechnology<f64> = PerTechnology {
    g2: -104.0,
    g3: -105.0,
    g4: -110.0,
    g5: -110.0,
};

/// Link budget settings; every field has a default, unknown keys are rejected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BudgetConfig {
    /// Coverage threshold per technology, dBm.
    pub thresholds_dbm: PerTechnology<f64>,
    /// Margin above the threshold for the `strong` class, dB (≥ 0).
    pub strong_margin_db: f64,
    /// Receiver antenna height above ground, metres (> 0).
    pub rx_height_m: f64,
    /// Receiver antenna gain, dBi.
    pub rx_antenna_gain_dbi: f64,
    /// Receiver-side losses (body, cable, penetration if wanted), dB (≥ 0).
    pub rx_losses_db: f64,
    /// LTE resource blocks over which the carrier power is spread (1–110; 50 = 10 MHz).
    pub lte_n_rb: u32,
    /// NR resource blocks (1–275; 273 = 100 MHz at 30 kHz).
    pub nr_n_rb: u32,
    /// Share of the UMTS carrier power on the CPICH pilot, dB (≤ 0; −10 dB = 10 %).
    pub umts_cpich_fraction_db: f64,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        BudgetConfig {
            thresholds_dbm: DEFAULT_THRESHOLDS_DBM,
            strong_margin_db: 10.0,
            rx_height_m: 1.5,
            rx_antenna_gain_dbi: 0.0,
            rx_losses_db: 0.0,
            lte_n_rb: 50,
            nr_n_rb: 273,
            umts_cpich_fraction_db: -10.0,
        }
    }
}

/// Every problem with a budget config, one per line.
#[derive(Debug, Error, Clone, PartialEq)]
#[error("invalid link budget config ({} problem(s)):\n  {}", problems.len(), problems.join("\n  "))]
pub struct BudgetError {
    pub problems: Vec<String>,
}

/// Coverage class of a received level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalClass {
    None,
    Variable,
    Strong,
}

impl SignalClass {
    pub fn as_str(self) -> &'static str {
        match self {
            SignalClass::None => "none",
            SignalClass::Variable => "variable",
            SignalClass::Strong => "strong",
        }
    }
}

impl BudgetConfig {
    /// Checks every field and reports all problems at once.
    pub fn validate(&self) -> Result<(), BudgetError> {
        let mut p = Vec::new();
        for tech in Technology::ALL {
            let t = self.thresholds_dbm.get(tech);
            if !(t.is_finite() && (-160.0..=-20.0).contains(&t)) {
                p.push(format!("thresholds_dbm.{tech} = {t}: must be a level in dBm between -160 and -20 (default {})", DEFAULT_THRESHOLDS_DBM.get(tech)));
            }
        }
        if !(self.strong_margin_db.is_finite() && self.strong_margin_db >= 0.0) {
            p.push(format!(
                "strong_margin_db = {}: must be a finite number of dB ≥ 0 (default 10)",
                self.strong_margin_db
            ));
        }
        if !(self.rx_height_m.is_finite() && self.rx_height_m > 0.0 && self.rx_height_m <= 1000.0) {
            p.push(format!(
                "rx_height_m = {}: must be in (0, 1000] metres above ground (default 1.5)",
                self.rx_height_m
            ));
        }
        if !(self.rx_antenna_gain_dbi.is_finite() && self.rx_antenna_gain_dbi.abs() <= 50.0) {
            p.push(format!(
                "rx_antenna_gain_dbi = {}: must be within ±50 dBi (default 0)",
                self.rx_antenna_gain_dbi
            ));
        }
        if !(self.rx_losses_db.is_finite() && self.rx_losses_db >= 0.0) {
            p.push(format!(
                "rx_losses_db = {}: must be a finite number of dB ≥ 0 (default 0)",
                self.rx_losses_db
            ));
        }
        if !(1..=110).contains(&self.lte_n_rb) {
            p.push(format!(
                "lte_n_rb = {}: must be 1–110 resource blocks (50 = 10 MHz, 100 = 20 MHz)",
                self.lte_n_rb
            ));
        }
        if !(1..=275).contains(&self.nr_n_rb) {
            p.push(format!(
                "nr_n_rb = {}: must be 1–275 resource blocks (273 = 100 MHz at 30 kHz)",
                self.nr_n_rb
            ));
        }
        if !(self.umts_cpich_fraction_db.is_finite()
            && (-30.0..=0.0).contains(&self.umts_cpich_fraction_db))
        {
            p.push(format!("umts_cpich_fraction_db = {}: must be between -30 and 0 dB (default -10 = 10 % of carrier power)", self.umts_cpich_fraction_db));
        }
        if p.is_empty() {
            Ok(())
        } else {
            Err(BudgetError { problems: p })
        }
    }

    /// Offset from carrier EIRP to the measured reference signal, dB (≤ 0): 0 for 2G, the CPICH
    /// fraction for 3G, −10 log10(12 N_RB) for 4G / 5G.
    pub fn reference_signal_offset_db(&self, tech: Technology) -> f64 {
        match tech {
            Technology::G2 => 0.0,
            Technology::G3 => self.umts_cpich_fraction_db,
            Technology::G4 => -10.0 * (12.0 * self.lte_n_rb as f64).log10(),
            Technology::G5 => -10.0 * (12.0 * self.nr_n_rb as f64).log10(),
        }
    }

    /// Received reference-signal level in dBm (RxLev / RSCP / RSRP).
    ///
    /// `eirp_dbm` is the cell's carrier EIRP in the main beam, `pattern_gain_db` the antenna
    /// pattern's relative gain towards the target (≤ 0), `path_loss_db` the basic transmission
    /// loss.
    ///
    /// ```
    /// use planner::coverage::budget::BudgetConfig;
    /// let b = BudgetConfig::default();
    /// // 4G, 60 dBm EIRP, boresight, 130 dB loss: 60 − 27.78 − 130
    /// let rsrp = b.received_dbm(geodata::Technology::G4, 60.0, 0.0, 130.0);
    /// assert!((rsrp + 97.78).abs() < 0.01);
    /// ```
    #[inline]
    pub fn received_dbm(
        &self,
        tech: Technology,
        eirp_dbm: f64,
        pattern_gain_db: f64,
        path_loss_db: f64,
    ) -> f64 {
        eirp_dbm + pattern_gain_db + self.reference_signal_offset_db(tech) - path_loss_db
            + self.rx_antenna_gain_dbi
            - self.rx_losses_db
    }

    /// Coverage threshold for a technology, dBm.
    pub fn threshold_dbm(&self, tech: Technology) -> f64 {
        self.thresholds_dbm.get(tech)
    }

    /// Class of a received level.
    #[inline]
    pub fn classify(&self, tech: Technology, received_dbm: f64) -> SignalClass {
        let t = self.threshold_dbm(tech);
        if received_dbm >= t + self.strong_margin_db {
            SignalClass::Strong
        } else if received_dbm >= t {
            SignalClass::Variable
        } else {
            SignalClass::None
        }
    }

    /// Largest path loss (dB) at which a cell still reaches the threshold at boresight: the loss
    /// budget coverage uses to bound the search range.
    pub fn max_path_loss_db(&self, tech: Technology, eirp_dbm: f64) -> f64 {
        eirp_dbm + self.reference_signal_offset_db(tech) + self.rx_antenna_gain_dbi
            - self.rx_losses_db
            - self.threshold_dbm(tech)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_documented_values() {
        let b = BudgetConfig::default();
        b.validate().unwrap();
        assert_eq!(b.threshold_dbm(Technology::G2), -104.0);
        assert_eq!(b.threshold_dbm(Technology::G3), -105.0);
        assert_eq!(b.threshold_dbm(Technology::G4), -110.0);
        assert_eq!(b.threshold_dbm(Technology::G5), -110.0);
        assert_eq!(b.rx_height_m, 1.5);
        assert!((b.reference_signal_offset_db(Technology::G4) + 27.7815).abs() < 1e-3);
        assert!((b.reference_signal_offset_db(Technology::G5) + 35.1534).abs() < 1e-3);
        assert_eq!(b.reference_signal_offset_db(Technology::G3), -10.0);
        assert_eq!(b.reference_signal_offset_db(Technology::G2), 0.0);
    }

    #[test]
    fn received_power_and_classes() {
        let b = BudgetConfig::default();
        // 2G: 58 dBm EIRP, −3 dB off boresight, 150 dB loss → −95 dBm: variable (−104…−94).
        let rx = b.received_dbm(Technology::G2, 58.0, -3.0, 150.0);
        assert_eq!(rx, -95.0);
        assert_eq!(b.classify(Technology::G2, rx), SignalClass::Variable);
        assert_eq!(b.classify(Technology::G2, -94.0), SignalClass::Strong);
        assert_eq!(b.classify(Technology::G2, -104.0), SignalClass::Variable);
        assert_eq!(b.classify(Technology::G2, -104.01), SignalClass::None);
        // 4G RSRP threshold −110: strong from −100.
        assert_eq!(b.classify(Technology::G4, -100.0), SignalClass::Strong);
        assert_eq!(b.classify(Technology::G4, -100.5), SignalClass::Variable);
        // Max path loss inverts received_dbm at the threshold.
        let l = b.max_path_loss_db(Technology::G4, 60.0);
        assert!((b.received_dbm(Technology::G4, 60.0, 0.0, l) - (-110.0)).abs() < 1e-9);
        // Receiver gain and losses enter with their signs.
        let c = BudgetConfig {
            rx_antenna_gain_dbi: 2.0,
            rx_losses_db: 3.0,
            ..BudgetConfig::default()
        };
        assert_eq!(c.received_dbm(Technology::G2, 58.0, 0.0, 150.0), -93.0);
    }

    #[test]
    fn toml_parsing_is_strict_with_defaults() {
        let b: BudgetConfig = toml::from_str(
            "strong_margin_db = 6\n[thresholds_dbm]\n2g = -100\n3g = -102\n4g = -115\n5g = -112\n",
        )
        .unwrap();
        assert_eq!(b.strong_margin_db, 6.0);
        assert_eq!(b.thresholds_dbm.g4, -115.0);
        assert_eq!(b.rx_height_m, 1.5);
        let e = toml::from_str::<BudgetConfig>("rx_heigth_m = 2\n").unwrap_err();
        assert!(e.to_string().contains("unknown field `rx_heigth_m`"), "{e}");
        let e =
            toml::from_str::<BudgetConfig>("[thresholds_dbm]\n2g = -100\n6g = -1\n").unwrap_err();
        assert!(e.to_string().contains("unknown field `6g`"), "{e}");
    }

    #[test]
    fn validate_reports_every_problem() {
        let b = BudgetConfig {
            thresholds_dbm: PerTechnology {
                g2: -104.0,
                g3: f64::NAN,
                g4: 10.0,
                g5: -110.0,
            },
            strong_margin_db: -1.0,
            rx_height_m: 0.0,
            rx_antenna_gain_dbi: 0.0,
            rx_losses_db: -2.0,
            lte_n_rb: 0,
            nr_n_rb: 300,
            umts_cpich_fraction_db: 3.0,
        };
        let e = b.validate().unwrap_err();
        assert_eq!(e.problems.len(), 8, "{e}");
        let s = e.to_string();
        assert!(
            s.starts_with("invalid link budget config (8 problem(s)):"),
            "{s}"
        );
        for needle in [
            "thresholds_dbm.3g = NaN",
            "thresholds_dbm.4g = 10",
            "strong_margin_db = -1",
            "rx_height_m = 0",
            "rx_losses_db = -2",
            "lte_n_rb = 0",
            "nr_n_rb = 300",
            "umts_cpich_fraction_db = 3",
        ] {
            assert!(s.contains(needle), "missing {needle} in {s}");
        }
    }
}
