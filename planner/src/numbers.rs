//! Number formatting shared by every stage: rounding for reports and the spelling of numbers
//! in messages. A leaf: it imports nothing of the crate.

/// Rounds to `digits` decimals, so reports do not show float noise.
pub fn round(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}

/// A number as written in messages: plain for everyday magnitudes, with an exponent for huge
/// or tiny ones (`1e300`, not 301 digits).
pub fn show(x: f64) -> String {
    if x != 0.0 && x.is_finite() && !(1e-6..1e15).contains(&x.abs()) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}
