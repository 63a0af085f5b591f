//! Path-loss models behind one trait, so coverage evaluation can switch models by name.
//!
//! Every model implements [`PropagationModel`]; terrain-aware models (the terrain model, ITM)
//! read [`Link::profile_m`], the empirical ones ignore it, and [`auto`] picks a valid model per
//! link. [`registry::build_model`] builds one by name from a `[model]` config table.

use thiserror::Error;

pub mod auto;
pub mod checks;
pub mod cost231;
pub mod diffraction;
pub mod free_space;
pub mod hata;
pub mod registry;
pub mod terrain;
// The ITM model lives in `itm/` and is declared by its owner below this line.
pub mod itm;

pub use auto::{AutoConfig, AutoModel};
pub use cost231::{Cost231, Cost231Environment};
pub use diffraction::{DiffractionConfig, DiffractionMethod};
pub use free_space::FreeSpace;
pub use hata::{Hata, HataEnvironment};
pub use registry::{build_model, ModelConfig};
pub use terrain::{TerrainAnalysis, TerrainModel};

/// One radio path to evaluate.
#[derive(Debug, Clone, Copy)]
pub struct Link<'a> {
    /// Carrier frequency, MHz.
    pub freq_mhz: f64,
    /// Great-circle (geodesic) distance from transmitter to receiver, metres.
    pub distance_m: f64,
    /// Transmit antenna height above local ground, metres.
    pub tx_height_m: f64,
    /// Receive antenna height above local ground, metres.
    pub rx_height_m: f64,
    /// Terrain elevations above sea level (metres) from the transmitter (first) to the receiver
    /// (last), evenly spaced over `distance_m`; `None` when no terrain is available.
    pub profile_m: Option<&'a [f64]>,
}

/// How the signal mainly travels, as far as the model can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PropagationMode {
    /// The model does not distinguish modes (empirical models such as Hata).
    Unspecified,
    LineOfSight,
    Diffraction,
    Troposcatter,
}

/// A non-fatal condition the user should see (e.g. a parameter outside the model's validity).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ModelWarning {
    /// Stable machine-readable code, e.g. `distance_below_range`.
    pub code: &'static str,
    /// Human explanation including the offending value and the valid range.
    pub message: String,
}

/// Result of one path-loss evaluation.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PathLoss {
    /// Basic transmission loss, dB (positive).
    pub loss_db: f64,
    pub mode: PropagationMode,
    pub warnings: Vec<ModelWarning>,
}

/// The warning codes one evaluation raised, without messages: a fixed-capacity set that costs
/// nothing to create or copy, so coverage loops can count warnings per code without allocating
/// per link. Codes beyond the capacity are dropped (no model raises that many at once).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WarningCodes {
    codes: [&'static str; WarningCodes::CAPACITY],
    len: u8,
}

impl WarningCodes {
    /// Most codes kept per evaluation.
    pub const CAPACITY: usize = 8;

    /// Adds `code` unless it is already present.
    #[inline]
    pub fn push(&mut self, code: &'static str) {
        if self.iter().any(|c| c == code) {
            return;
        }
        if (self.len as usize) < Self::CAPACITY {
            self.codes[self.len as usize] = code;
            self.len += 1;
        }
    }

    /// Adds every code of `other`.
    #[inline]
    pub fn extend(&mut self, other: WarningCodes) {
        for c in other.iter() {
            self.push(c);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// The codes in the order they were raised.
    pub fn iter(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.codes[..self.len as usize].iter().copied()
    }

    /// Codes of a list of warnings with messages.
    pub fn of(warnings: &[ModelWarning]) -> WarningCodes {
        let mut w = WarningCodes::default();
        for x in warnings {
            w.push(x.code);
        }
        w
    }
}

/// Result of one path-loss evaluation for coverage loops: the loss, the mode, the warning codes
/// (no messages) and the name of the model that computed it (a composite such as `auto` names
/// the member that served the link).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Loss {
    /// Basic transmission loss, dB (positive).
    pub loss_db: f64,
    pub mode: PropagationMode,
    pub warnings: WarningCodes,
    /// Model that served the link, e.g. `itm` or `hata_open`.
    pub model: &'static str,
}

/// Why a model could not evaluate a link at all.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum PropagationError {
    #[error("{model}: parameter {parameter} = {value} is invalid: {reason}")]
    InvalidParameter {
        model: &'static str,
        parameter: &'static str,
        value: f64,
        reason: String,
    },
    #[error("{model} needs a terrain profile, but none was given (load a DEM or choose a model without terrain)")]
    MissingProfile { model: &'static str },
    /// A model configuration (name, environment, options) that cannot be built; `field` names
    /// the config key, `message` says what is wrong and what is accepted.
    #[error("propagation model config: {field}: {message}")]
    Config { field: String, message: String },
}

/// A path-loss model. Implementations must be cheap to call from many threads.
pub trait PropagationModel: Send + Sync + std::fmt::Debug {
    /// Stable name used in configs and outputs, e.g. `free_space`, `hata_urban_small`, `itm`.
    fn name(&self) -> &'static str;

    /// Whether [`Link::profile_m`] is required.
    fn needs_terrain(&self) -> bool {
        false
    }

    /// Whether the model reads [`Link::profile_m`] when one is available; a model that uses
    /// but does not need terrain (`auto`) also evaluates links the DEM does not cover.
    fn uses_terrain(&self) -> bool {
        self.needs_terrain()
    }

    /// Basic transmission loss for one link, with a message per warning (for reports).
    fn path_loss(&self, link: &Link<'_>) -> Result<PathLoss, PropagationError>;

    /// The same loss as [`PropagationModel::path_loss`] with warning codes only, for coverage
    /// loops. The built-in models override it so that no link allocates; the default derives
    /// it from `path_loss`.
    fn loss(&self, link: &Link<'_>) -> Result<Loss, PropagationError> {
        let pl = self.path_loss(link)?;
        Ok(Loss {
            loss_db: pl.loss_db,
            mode: pl.mode,
            warnings: WarningCodes::of(&pl.warnings),
            model: self.name(),
        })
    }

    /// Losses of one path at several frequencies (`link.freq_mhz` is ignored), appended to
    /// `out` in the order of `freqs_mhz`. Terrain models override it to analyse the profile once
    /// for all bands of a site.
    fn losses(
        &self,
        link: &Link<'_>,
        freqs_mhz: &[f64],
        out: &mut Vec<Result<Loss, PropagationError>>,
    ) {
        for &freq_mhz in freqs_mhz {
            out.push(self.loss(&Link { freq_mhz, ..*link }));
        }
    }

    /// A floor under every loss this model returns at `freq_mhz`, relative to free-space
    /// loss at the same distance (dB, may be negative), whatever the distance, terrain and
    /// antenna heights; `None` when the model cannot bound it. Coverage skips a site whose best
    /// possible level (EIRP minus free-space loss minus this floor) cannot beat the best server
    /// already found, before reading any terrain, so the floor must never exceed a real loss
    /// (the built-in floors are tested against random paths).
    fn loss_floor_db(&self, _freq_mhz: f64) -> Option<f64> {
        None
    }

    /// The lower bound on the loss at a distance implied by [`PropagationModel::loss_floor_db`],
    /// dB; `−∞` without a floor.
    fn min_loss_db(&self, freq_mhz: f64, distance_m: f64) -> f64 {
        self.loss_floor_db(freq_mhz)
            .map_or(f64::NEG_INFINITY, |floor| {
                free_space::fspl_db(freq_mhz, distance_m) + floor
            })
    }

    /// Largest distance (metres) at which the loss over flat terrain stays at or below
    /// `max_loss_db`, capped at `cap_m`. Coverage uses it to limit the sites considered per target.
    /// The default bisects [`PropagationModel::path_loss`] without a profile, assuming loss grows
    /// with distance; terrain models override it.
    fn max_range_m(
        &self,
        freq_mhz: f64,
        tx_height_m: f64,
        rx_height_m: f64,
        max_loss_db: f64,
        cap_m: f64,
    ) -> f64 {
        let loss_at = |d: f64| {
            self.path_loss(&Link {
                freq_mhz,
                distance_m: d,
                tx_height_m,
                rx_height_m,
                profile_m: None,
            })
            .map(|p| p.loss_db)
            .unwrap_or(f64::INFINITY)
        };
        if loss_at(cap_m) <= max_loss_db {
            return cap_m;
        }
        let (mut lo, mut hi) = (1.0_f64, cap_m);
        if loss_at(lo) > max_loss_db {
            return 0.0;
        }
        for _ in 0..60 {
            let mid = 0.5 * (lo + hi);
            if loss_at(mid) <= max_loss_db {
                lo = mid;
            } else {
                hi = mid;
            }
            if hi - lo < 0.5 {
                break;
            }
        }
        lo
    }
}
