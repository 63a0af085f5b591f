//! Typed ITM inputs (climate, polarisation, variability mode, siting), its warning flags and
//! its error codes, so callers never juggle ITM's bare integers.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The seven radio climates of ITM. They select the curves for the long-term (hourly median)
/// fading statistics: how much the loss varies over the year depends strongly on climate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Climate {
    /// ITM climate 1.
    Equatorial,
    /// ITM climate 2.
    ContinentalSubtropical,
    /// ITM climate 3.
    MaritimeSubtropical,
    /// ITM climate 4.
    Desert,
    /// ITM climate 5; the usual choice for mid-latitude inland areas.
    #[default]
    ContinentalTemperate,
    /// ITM climate 6.
    MaritimeTemperateOverLand,
    /// ITM climate 7.
    MaritimeTemperateOverSea,
}

impl Climate {
    /// All climates in ITM code order (1..=7).
    pub const ALL: [Climate; 7] = [
        Climate::Equatorial,
        Climate::ContinentalSubtropical,
        Climate::MaritimeSubtropical,
        Climate::Desert,
        Climate::ContinentalTemperate,
        Climate::MaritimeTemperateOverLand,
        Climate::MaritimeTemperateOverSea,
    ];

    /// ITM's numeric code (1..=7).
    pub fn code(self) -> u8 {
        self as u8 + 1
    }

    /// Parses ITM's numeric code (1..=7).
    pub fn from_code(code: i64) -> Result<Self, ItmError> {
        usize::try_from(code - 1)
            .ok()
            .and_then(|i| Self::ALL.get(i).copied())
            .ok_or(ItmError::InvalidClimate { code })
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// Antenna polarisation; it changes the ground reflection (vertical polarisation has a
/// Brewster angle, horizontal does not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Polarization {
    /// ITM code 0.
    Horizontal,
    /// ITM code 1; most mobile-network antennas (or ±45° slant, which behaves closer to this).
    #[default]
    Vertical,
}

impl Polarization {
    /// Parses ITM's numeric code (0 horizontal, 1 vertical).
    pub fn from_code(code: i64) -> Result<Self, ItmError> {
        match code {
            0 => Ok(Self::Horizontal),
            1 => Ok(Self::Vertical),
            _ => Err(ItmError::InvalidPolarization { code }),
        }
    }
}

/// How ITM folds its three kinds of variability (time, location, situation) into one number:
/// the "mode of variability" (`mdvar` 0..=3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum VariabilityMode {
    /// `mdvar` 0: one message over one path; time, location and situation are all folded into
    /// the confidence.
    SingleMessage,
    /// `mdvar` 1: interference studies; location variability is folded into the confidence.
    Accidental,
    /// `mdvar` 2: a mobile user; time and location variability combine into one reliability.
    Mobile,
    /// `mdvar` 3: broadcast coverage; reliability applies separately to time and to locations.
    #[default]
    Broadcast,
}

impl VariabilityMode {
    /// ITM's base code (0..=3).
    pub fn code(self) -> u8 {
        match self {
            Self::SingleMessage => 0,
            Self::Accidental => 1,
            Self::Mobile => 2,
            Self::Broadcast => 3,
        }
    }
}

/// A complete mode of variability: ITM's `mdvar`, i.e. the base mode plus the +10 flag (location
/// variability removed, e.g. for point-to-point links whose ends are known exactly) and the
/// +20 flag (direct situation variability removed, as in interference studies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mdvar {
    pub mode: VariabilityMode,
    /// ITM's "+10": no location variability.
    pub no_location_variability: bool,
    /// ITM's "+20": no (direct) situation variability.
    pub no_situation_variability: bool,
}

impl Mdvar {
    /// Parses ITM's numeric `mdvar` (0..=3, optionally +10 and/or +20).
    pub fn from_code(code: i64) -> Result<Self, ItmError> {
        let err = ItmError::InvalidMdvar { code };
        if !(0..=33).contains(&code) {
            return Err(err);
        }
        let no_situation_variability = code >= 20;
        let rest = if no_situation_variability {
            code - 20
        } else {
            code
        };
        let no_location_variability = rest >= 10;
        let base = if no_location_variability {
            rest - 10
        } else {
            rest
        };
        let mode = match base {
            0 => VariabilityMode::SingleMessage,
            1 => VariabilityMode::Accidental,
            2 => VariabilityMode::Mobile,
            3 => VariabilityMode::Broadcast,
            _ => return Err(err),
        };
        Ok(Self {
            mode,
            no_location_variability,
            no_situation_variability,
        })
    }

    /// ITM's numeric `mdvar`.
    pub fn code(self) -> u8 {
        self.mode.code()
            + if self.no_location_variability { 10 } else { 0 }
            + if self.no_situation_variability { 20 } else { 0 }
    }
}

/// How carefully an area-mode terminal was sited (raises its effective height over rough terrain).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SitingCriteria {
    /// ITM code 0.
    #[default]
    Random,
    /// ITM code 1.
    Careful,
    /// ITM code 2.
    VeryCareful,
}

impl SitingCriteria {
    /// Parses ITM's numeric code (0..=2); `rx` only selects which terminal an error names.
    pub fn from_code(code: i64, rx: bool) -> Result<Self, ItmError> {
        match code {
            0 => Ok(Self::Random),
            1 => Ok(Self::Careful),
            2 => Ok(Self::VeryCareful),
            _ if rx => Err(ItmError::InvalidRxSiting { code }),
            _ => Err(ItmError::InvalidTxSiting { code }),
        }
    }
}

/// Percentages (strictly between 0 and 100) at which the loss is not exceeded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quantiles {
    /// Fraction of time, %.
    pub time_pct: f64,
    /// Fraction of locations, %.
    pub location_pct: f64,
    /// Fraction of situations ("confidence"), %.
    pub situation_pct: f64,
}

/// Radio and ground parameters shared by point-to-point and area mode.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ItmParams {
    /// Transmitter structural height above ground, metres.
    pub tx_height_m: f64,
    /// Receiver structural height above ground, metres.
    pub rx_height_m: f64,
    pub climate: Climate,
    /// Surface refractivity reduced to sea level, N-units (ITM's N_0; 301 is typical).
    pub n0_n_units: f64,
    /// Frequency, MHz.
    pub freq_mhz: f64,
    pub polarization: Polarization,
    /// Relative permittivity of the ground.
    pub epsilon: f64,
    /// Ground conductivity, S/m.
    pub sigma_s_per_m: f64,
    pub mdvar: Mdvar,
    pub quantiles: Quantiles,
}

/// Which propagation mechanism ITM judged dominant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItmMode {
    LineOfSight,
    Diffraction,
    Troposcatter,
}

/// One of ITM's warning flags. The result is still computed, but lies outside the conditions
/// the model was validated for, so it must be shown to the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum ItmWarning {
    TxHeight = 0x0001,
    RxHeight = 0x0002,
    Frequency = 0x0004,
    DistanceNearUpperLimit = 0x0008,
    DistanceTooLarge = 0x0010,
    DistanceShortForHeights = 0x0020,
    DistanceBelow1Km = 0x0040,
    TxHorizonAngle = 0x0080,
    RxHorizonAngle = 0x0100,
    TxHorizonTooClose = 0x0200,
    RxHorizonTooClose = 0x0400,
    TxHorizonTooFar = 0x0800,
    RxHorizonTooFar = 0x1000,
    ExtremeVariability = 0x2000,
    LowSurfaceRefractivity = 0x4000,
}

impl ItmWarning {
    /// Every flag, in bit order.
    pub const ALL: [ItmWarning; 15] = [
        Self::TxHeight,
        Self::RxHeight,
        Self::Frequency,
        Self::DistanceNearUpperLimit,
        Self::DistanceTooLarge,
        Self::DistanceShortForHeights,
        Self::DistanceBelow1Km,
        Self::TxHorizonAngle,
        Self::RxHorizonAngle,
        Self::TxHorizonTooClose,
        Self::RxHorizonTooClose,
        Self::TxHorizonTooFar,
        Self::RxHorizonTooFar,
        Self::ExtremeVariability,
        Self::LowSurfaceRefractivity,
    ];

    /// ITM's bit value for this flag.
    pub fn bit(self) -> u16 {
        self as u16
    }

    /// Stable machine-readable code (used as `ModelWarning::code`).
    pub fn code(self) -> &'static str {
        match self {
            Self::TxHeight => "itm_tx_height_out_of_range",
            Self::RxHeight => "itm_rx_height_out_of_range",
            Self::Frequency => "itm_frequency_out_of_range",
            Self::DistanceNearUpperLimit => "itm_distance_above_1000_km",
            Self::DistanceTooLarge => "itm_distance_above_2000_km",
            Self::DistanceShortForHeights => "itm_distance_short_for_heights",
            Self::DistanceBelow1Km => "itm_distance_below_1_km",
            Self::TxHorizonAngle => "itm_tx_horizon_angle_large",
            Self::RxHorizonAngle => "itm_rx_horizon_angle_large",
            Self::TxHorizonTooClose => "itm_tx_horizon_too_close",
            Self::RxHorizonTooClose => "itm_rx_horizon_too_close",
            Self::TxHorizonTooFar => "itm_tx_horizon_too_far",
            Self::RxHorizonTooFar => "itm_rx_horizon_too_far",
            Self::ExtremeVariability => "itm_extreme_variability",
            Self::LowSurfaceRefractivity => "itm_surface_refractivity_low",
        }
    }
}

/// A set of [`ItmWarning`]s, stored as ITM's bit mask so raising one costs nothing on the hot path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WarningSet(u16);

impl WarningSet {
    /// ITM's raw bit mask.
    pub fn bits(self) -> u16 {
        self.0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn contains(self, w: ItmWarning) -> bool {
        self.0 & w.bit() != 0
    }

    pub(crate) fn raise(&mut self, w: ItmWarning) {
        self.0 |= w.bit();
    }

    /// The flags raised, in bit order.
    pub fn iter(self) -> impl Iterator<Item = ItmWarning> {
        ItmWarning::ALL
            .into_iter()
            .filter(move |w| self.contains(*w))
    }
}

/// Inputs ITM refuses to evaluate (ITM's error codes, plus the non-finite and profile checks a
/// library taking arbitrary floats needs).
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ItmError {
    #[error("itm: transmitter height {value_m} m is outside 0.5..=3000 m (ITM error 1000)")]
    TxHeight { value_m: f64 },
    #[error("itm: receiver height {value_m} m is outside 0.5..=3000 m (ITM error 1001)")]
    RxHeight { value_m: f64 },
    #[error("itm: radio climate code {code} is not 1..=7 (ITM error 1002)")]
    InvalidClimate { code: i64 },
    #[error(
        "itm: time percentage {value_pct} must be strictly between 0 and 100 (ITM error 1003)"
    )]
    InvalidTime { value_pct: f64 },
    #[error(
        "itm: location percentage {value_pct} must be strictly between 0 and 100 (ITM error 1004)"
    )]
    InvalidLocation { value_pct: f64 },
    #[error("itm: situation (confidence) percentage {value_pct} must be strictly between 0 and 100 (ITM error 1005)")]
    InvalidSituation { value_pct: f64 },
    #[error(
        "itm: surface refractivity N_0 = {value} N-units is outside 250..=400 (ITM error 1008)"
    )]
    Refractivity { value: f64 },
    #[error("itm: frequency {value_mhz} MHz is outside 20..=20000 MHz (ITM error 1009)")]
    Frequency { value_mhz: f64 },
    #[error(
        "itm: polarization code {code} is not 0 (horizontal) or 1 (vertical) (ITM error 1010)"
    )]
    InvalidPolarization { code: i64 },
    #[error("itm: relative permittivity {value} must be at least 1 (ITM error 1011)")]
    Epsilon { value: f64 },
    #[error("itm: ground conductivity {value_s_per_m} S/m must be positive (ITM error 1012)")]
    Sigma { value_s_per_m: f64 },
    #[error("itm: ground impedance has an imaginary part at least as large as its real part (ITM error 1013); check permittivity {epsilon} and conductivity {sigma_s_per_m} S/m at {freq_mhz} MHz")]
    GroundImpedance {
        epsilon: f64,
        sigma_s_per_m: f64,
        freq_mhz: f64,
    },
    #[error("itm: mode of variability {code} is not 0..=3 with optional +10/+20 (ITM error 1014)")]
    InvalidMdvar { code: i64 },
    #[error("itm: effective earth radius {value_m} m is outside 4000..=13333 km (ITM error 1016)")]
    EffectiveEarth { value_m: f64 },
    #[error("itm: path distance {value_m} m must be positive (ITM error 1017)")]
    PathDistance { value_m: f64 },
    #[error("itm: terrain irregularity delta_h {value_m} m must not be negative (ITM error 1018)")]
    DeltaH { value_m: f64 },
    #[error("itm: transmitter siting criteria code {code} is not 0..=2 (ITM error 1019)")]
    InvalidTxSiting { code: i64 },
    #[error("itm: receiver siting criteria code {code} is not 0..=2 (ITM error 1020)")]
    InvalidRxSiting { code: i64 },
    #[error("itm: surface refractivity at path height N_s = {value} is below 150 (ITM error 1021); the path is too high above sea level for N_0")]
    SurfaceRefractivitySmall { value: f64 },
    #[error("itm: surface refractivity N_s = {value} is above 400 (ITM error 1022)")]
    SurfaceRefractivityLarge { value: f64 },
    #[error("itm: parameter {parameter} is not a finite number ({value})")]
    NotFinite { parameter: &'static str, value: f64 },
    #[error("itm: terrain profile has {points} points; at least 2 (one interval) are needed")]
    ProfileTooShort { points: usize },
    #[error("itm: terrain profile elevation at index {index} is not finite ({value}); fill DEM voids before running ITM")]
    ProfileElevation { index: usize, value: f64 },
    #[error("itm: terrain profile spacing {value_m} m must be positive and finite")]
    ProfileSpacing { value_m: f64 },
    #[error("itm: the model produced a non-finite loss for these inputs; check that permittivity and conductivity are physical")]
    NumericalBreakdown,
}

impl ItmError {
    /// ITM's numeric error code where ITM has one (the extra input checks have none).
    pub fn itm_code(&self) -> Option<u16> {
        Some(match self {
            Self::TxHeight { .. } => 1000,
            Self::RxHeight { .. } => 1001,
            Self::InvalidClimate { .. } => 1002,
            Self::InvalidTime { .. } => 1003,
            Self::InvalidLocation { .. } => 1004,
            Self::InvalidSituation { .. } => 1005,
            Self::Refractivity { .. } => 1008,
            Self::Frequency { .. } => 1009,
            Self::InvalidPolarization { .. } => 1010,
            Self::Epsilon { .. } => 1011,
            Self::Sigma { .. } => 1012,
            Self::GroundImpedance { .. } => 1013,
            Self::InvalidMdvar { .. } => 1014,
            Self::EffectiveEarth { .. } => 1016,
            Self::PathDistance { .. } => 1017,
            Self::DeltaH { .. } => 1018,
            Self::InvalidTxSiting { .. } => 1019,
            Self::InvalidRxSiting { .. } => 1020,
            Self::SurfaceRefractivitySmall { .. } => 1021,
            Self::SurfaceRefractivityLarge { .. } => 1022,
            _ => return None,
        })
    }
}

/// Checks the inputs common to both modes, raising ITM's range warnings on the way.
///
/// Non-finite values are rejected first: ITM's own range tests compare with `<`/`>`, which NaN
/// silently passes.
pub(crate) fn validate_common(p: &ItmParams, warnings: &mut WarningSet) -> Result<(), ItmError> {
    let finite = [
        ("tx_height_m", p.tx_height_m),
        ("rx_height_m", p.rx_height_m),
        ("n0_n_units", p.n0_n_units),
        ("freq_mhz", p.freq_mhz),
        ("epsilon", p.epsilon),
        ("sigma_s_per_m", p.sigma_s_per_m),
        ("time_pct", p.quantiles.time_pct),
        ("location_pct", p.quantiles.location_pct),
        ("situation_pct", p.quantiles.situation_pct),
    ];
    for (parameter, value) in finite {
        if !value.is_finite() {
            return Err(ItmError::NotFinite { parameter, value });
        }
    }
    if !(1.0..=1000.0).contains(&p.tx_height_m) {
        warnings.raise(ItmWarning::TxHeight);
    }
    if !(0.5..=3000.0).contains(&p.tx_height_m) {
        return Err(ItmError::TxHeight {
            value_m: p.tx_height_m,
        });
    }
    if !(1.0..=1000.0).contains(&p.rx_height_m) {
        warnings.raise(ItmWarning::RxHeight);
    }
    if !(0.5..=3000.0).contains(&p.rx_height_m) {
        return Err(ItmError::RxHeight {
            value_m: p.rx_height_m,
        });
    }
    if !(250.0..=400.0).contains(&p.n0_n_units) {
        return Err(ItmError::Refractivity {
            value: p.n0_n_units,
        });
    }
    if !(40.0..=10_000.0).contains(&p.freq_mhz) {
        warnings.raise(ItmWarning::Frequency);
    }
    if !(20.0..=20_000.0).contains(&p.freq_mhz) {
        return Err(ItmError::Frequency {
            value_mhz: p.freq_mhz,
        });
    }
    if p.epsilon < 1.0 {
        return Err(ItmError::Epsilon { value: p.epsilon });
    }
    if p.sigma_s_per_m <= 0.0 {
        return Err(ItmError::Sigma {
            value_s_per_m: p.sigma_s_per_m,
        });
    }
    let open = |v: f64| v > 0.0 && v < 100.0;
    if !open(p.quantiles.situation_pct) {
        return Err(ItmError::InvalidSituation {
            value_pct: p.quantiles.situation_pct,
        });
    }
    if !open(p.quantiles.time_pct) {
        return Err(ItmError::InvalidTime {
            value_pct: p.quantiles.time_pct,
        });
    }
    if !open(p.quantiles.location_pct) {
        return Err(ItmError::InvalidLocation {
            value_pct: p.quantiles.location_pct,
        });
    }
    Ok(())
}
