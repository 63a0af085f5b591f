//! Shared input checks for path-loss models: hard errors for nonsense, warnings for values
//! outside a model's validity range.
//!
//! The split is deliberate: a value that makes the formula meaningless (NaN, a distance of zero,
//! a negative frequency) is a [`PropagationError::InvalidParameter`]; a value the formula can
//! still be evaluated at but was not fitted for (Hata at 25 km) is a [`ModelWarning`] so the user
//! sees it while coverage runs continue.

use super::{ModelWarning, PropagationError};

/// Errors unless `value` is finite and strictly positive.
pub fn require_positive(
    model: &'static str,
    parameter: &'static str,
    value: f64,
    unit: &str,
) -> Result<(), PropagationError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(PropagationError::InvalidParameter {
            model,
            parameter,
            value,
            reason: format!("must be a finite number greater than 0 {unit}"),
        })
    }
}

/// Errors unless `value` is finite and not negative.
pub fn require_non_negative(
    model: &'static str,
    parameter: &'static str,
    value: f64,
    unit: &str,
) -> Result<(), PropagationError> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(PropagationError::InvalidParameter {
            model,
            parameter,
            value,
            reason: format!("must be a finite number of at least 0 {unit}"),
        })
    }
}

/// Pushes a warning when `value` lies outside `[lo, hi]`.
///
/// `below` and `above` are the stable warning codes; `what` names the quantity in the message.
#[allow(clippy::too_many_arguments)]
pub fn warn_outside(
    warnings: &mut Vec<ModelWarning>,
    model: &str,
    below: &'static str,
    above: &'static str,
    what: &str,
    value: f64,
    lo: f64,
    hi: f64,
    unit: &str,
) {
    let code = if value < lo {
        below
    } else if value > hi {
        above
    } else {
        return;
    };
    warnings.push(ModelWarning {
        code,
        message: format!("{model}: {what} {value} {unit} is outside the model's validity range {lo}–{hi} {unit}; the result is an extrapolation"),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_nan_zero_and_negative() {
        for v in [f64::NAN, 0.0, -1.0, f64::INFINITY] {
            let e = require_positive("m", "distance_m", v, "m").unwrap_err();
            assert!(e.to_string().contains("distance_m"), "{e}");
            assert!(e.to_string().contains("greater than 0"), "{e}");
        }
        assert!(require_positive("m", "distance_m", 1e-3, "m").is_ok());
        assert!(require_non_negative("m", "h", 0.0, "m").is_ok());
        assert!(require_non_negative("m", "h", -0.1, "m").is_err());
    }

    #[test]
    fn warns_only_outside() {
        let mut w = Vec::new();
        warn_outside(
            &mut w,
            "hata",
            "f_lo",
            "f_hi",
            "frequency",
            100.0,
            150.0,
            1500.0,
            "MHz",
        );
        warn_outside(
            &mut w,
            "hata",
            "f_lo",
            "f_hi",
            "frequency",
            900.0,
            150.0,
            1500.0,
            "MHz",
        );
        warn_outside(
            &mut w,
            "hata",
            "f_lo",
            "f_hi",
            "frequency",
            1600.0,
            150.0,
            1500.0,
            "MHz",
        );
        assert_eq!(
            w.iter().map(|w| w.code).collect::<Vec<_>>(),
            ["f_lo", "f_hi"]
        );
        assert!(w[0].message.contains("100 MHz"), "{}", w[0].message);
        assert!(w[0].message.contains("150–1500 MHz"), "{}", w[0].message);
    }
}
