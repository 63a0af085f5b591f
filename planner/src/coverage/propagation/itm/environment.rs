//! The atmosphere and ground seen by ITM: surface refractivity at path height, effective earth
//! curvature, and the complex ground impedance for the chosen polarisation.

use super::inputs::Polarization;

/// Minimal complex arithmetic; ITM needs only a handful of operations on the ground impedance
/// and the reflection coefficient, not a dependency.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Complex {
    pub re: f64,
    pub im: f64,
}

impl Complex {
    pub const fn new(re: f64, im: f64) -> Self {
        Self { re, im }
    }

    pub fn norm(self) -> f64 {
        self.re.hypot(self.im)
    }

    pub fn norm_sqr(self) -> f64 {
        self.re * self.re + self.im * self.im
    }

    pub fn add(self, o: Self) -> Self {
        Self::new(self.re + o.re, self.im + o.im)
    }

    pub fn sub(self, o: Self) -> Self {
        Self::new(self.re - o.re, self.im - o.im)
    }

    pub fn scale(self, k: f64) -> Self {
        Self::new(self.re * k, self.im * k)
    }

    pub fn div(self, o: Self) -> Self {
        let d = o.norm_sqr();
        Self::new(
            (self.re * o.re + self.im * o.im) / d,
            (self.im * o.re - self.re * o.im) / d,
        )
    }

    /// Principal square root (non-negative real part), as the physics of a lossy ground needs.
    pub fn sqrt(self) -> Self {
        let r = self.norm();
        let re = (0.5 * (r + self.re)).max(0.0).sqrt();
        let im = (0.5 * (r - self.re)).max(0.0).sqrt();
        Self::new(re, if self.im < 0.0 { -im } else { im })
    }
}

/// Earth's actual curvature, 1/m (about 1 / 6370 km).
const EARTH_CURVATURE_PER_M: f64 = 157e-9;
/// Scale height of the refractivity's exponential decrease with altitude, metres.
const REFRACTIVITY_SCALE_HEIGHT_M: f64 = 9460.0;

/// Atmosphere and ground for one evaluation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Environment {
    /// Surface refractivity at the path's mean height, N-units.
    pub n_s: f64,
    /// Curvature of the effective earth, 1/m.
    pub gamma_e_per_m: f64,
    /// Ground transfer impedance (dimensionless, complex).
    pub z_g: Complex,
}

impl Environment {
    /// Reduces N_0 (a sea-level value) to the path's height and derives the effective earth and
    /// the ground impedance.
    ///
    /// `system_height_m` is the mean terrain height of the path above sea level (0 in area mode).
    pub fn new(
        freq_mhz: f64,
        system_height_m: f64,
        n0: f64,
        pol: Polarization,
        epsilon: f64,
        sigma_s_per_m: f64,
    ) -> Self {
        let (n_s, gamma_e_per_m) = atmosphere(system_height_m, n0);
        Self {
            n_s,
            gamma_e_per_m,
            z_g: ground_impedance(freq_mhz, pol, epsilon, sigma_s_per_m),
        }
    }
}

/// Surface refractivity at the path's mean height and the effective earth's curvature
/// `(N_s, gamma_e)`: the frequency-independent part of the environment.
pub(crate) fn atmosphere(system_height_m: f64, n0: f64) -> (f64, f64) {
    // Refractivity falls off exponentially with altitude, so high paths bend less.
    let n_s = if system_height_m == 0.0 {
        n0
    } else {
        n0 * (-system_height_m / REFRACTIVITY_SCALE_HEIGHT_M).exp()
    };
    (
        n_s,
        EARTH_CURVATURE_PER_M * (1.0 - 0.04665 * (n_s / 179.3).exp()),
    )
}

/// Ground transfer impedance for one frequency and polarisation: the path-independent part.
pub(crate) fn ground_impedance(
    freq_mhz: f64,
    pol: Polarization,
    epsilon: f64,
    sigma_s_per_m: f64,
) -> Complex {
    // Complex relative permittivity: the imaginary part is conductivity over (omega eps_0);
    // 18000 sigma / f_MHz is that ratio with the constants folded in.
    let eps_r = Complex::new(epsilon, 18_000.0 * sigma_s_per_m / freq_mhz);
    let z_g = eps_r.sub(Complex::new(1.0, 0.0)).sqrt();
    if pol == Polarization::Vertical {
        z_g.div(eps_r)
    } else {
        z_g
    }
}
