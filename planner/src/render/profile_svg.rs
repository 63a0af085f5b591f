//! SVG drawing of a `planner link` path profile (`--out FILE.svg`): the terrain raised by the
//! Earth's bulge for the effective radius factor k (so the line of sight is straight), the line
//! of sight between the antenna tops, the first Fresnel zone around it, the 60 % clearance
//! zone, and the obstructions (terrain above the ray) in red with their peaks marked.

use std::fmt::Write as _;

use crate::coverage::propagation::diffraction::{first_fresnel_radius_m, wavelength_m};
use crate::coverage::propagation::terrain::earth_bulge_m;
use crate::link::LinkReport;
use crate::render::link::distance;

const WIDTH: f64 = 960.0;
const HEIGHT: f64 = 440.0;
const LEFT: f64 = 72.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 48.0;
const BOTTOM: f64 = 70.0;

/// Why no drawing could be made.
#[derive(Debug, thiserror::Error)]
#[error(
    "the link has no terrain profile to draw: pass --from/--to with a DEM, or --profile FILE.csv"
)]
pub struct NoProfile;

/// A "nice" tick step (1, 2 or 5 × 10^n) giving about `target` ticks over `span`.
fn tick_step(span: f64, target: f64) -> f64 {
    let raw = (span / target).max(1e-9);
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let nice = if norm < 1.5 {
        1.0
    } else if norm < 3.5 {
        2.0
    } else if norm < 7.5 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

/// The profile drawing as an SVG document.
pub fn profile_svg(r: &LinkReport) -> Result<String, NoProfile> {
    let p = r.profile.as_ref().ok_or(NoProfile)?;
    let z = &p.elevations_m;
    if z.len() < 2 {
        return Err(NoProfile);
    }
    let n = z.len() - 1;
    let d = p.step_m * n as f64;
    let k = r.parameters.k_factor;
    let lambda = wavelength_m(r.freq_mhz);
    let tx_top = z[0] + r.tx_height_m;
    let rx_top = z[n] + r.rx_height_m;
    let xs: Vec<f64> = (0..=n).map(|i| i as f64 * p.step_m).collect();
    let ground: Vec<f64> = xs
        .iter()
        .zip(z)
        .map(|(&x, &h)| h + earth_bulge_m(x, d - x, k))
        .collect();
    let ray: Vec<f64> = xs
        .iter()
        .map(|&x| tx_top + (rx_top - tx_top) * x / d)
        .collect();
    let r1: Vec<f64> = xs
        .iter()
        .map(|&x| {
            if x <= 0.0 || x >= d {
                0.0
            } else {
                first_fresnel_radius_m(x, d - x, lambda)
            }
        })
        .collect();
    let lo = ground
        .iter()
        .zip(ray.iter().zip(&r1))
        .map(|(g, (y, f))| g.min(y - f))
        .fold(f64::INFINITY, f64::min);
    let hi = ground
        .iter()
        .zip(ray.iter().zip(&r1))
        .map(|(g, (y, f))| g.max(y + f))
        .fold(f64::NEG_INFINITY, f64::max);
    let pad = ((hi - lo) * 0.08).max(5.0);
    let (y0, y1) = (lo - pad, hi + pad);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let sx = |x: f64| LEFT + x / d * plot_w;
    let sy = |y: f64| TOP + (y1 - y) / (y1 - y0) * plot_h;

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let title = format!(
        "Path profile: {}, {} MHz, antennas {:.1} m / {:.1} m, k = {:.3}",
        distance(r.distance_m),
        r.freq_mhz,
        r.tx_height_m,
        r.rx_height_m,
        k
    );
    let _ = writeln!(s, "<title>{}</title>", escape(&title));
    let _ = writeln!(
        s,
        r##"<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>"##
    );
    let _ = writeln!(
        s,
        r##"<text x="{LEFT}" y="22" font-size="15" font-weight="bold">{}</text>"##,
        escape(&title)
    );
    // Axes and grid.
    let xstep = tick_step(d / 1000.0, 8.0);
    let mut xt = 0.0;
    while xt <= d / 1000.0 + 1e-9 {
        let x = sx(xt * 1000.0);
        let _ = writeln!(
            s,
            r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}" stroke="#e0e0e0"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            TOP + plot_h,
            TOP + plot_h + 16.0,
            trim(xt)
        );
        xt += xstep;
    }
    let ystep = tick_step(y1 - y0, 6.0);
    let mut yt = (y0 / ystep).ceil() * ystep;
    while yt <= y1 {
        let y = sy(yt);
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#e0e0e0"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT + plot_w,
            LEFT - 6.0,
            y + 4.0,
            trim(yt)
        );
        yt += ystep;
    }
    let _ = writeln!(
        s,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle">distance from the transmitter, km</text>"##,
        LEFT + plot_w / 2.0,
        HEIGHT - BOTTOM + 36.0
    );
    let _ = writeln!(
        s,
        r##"<text transform="translate(16 {:.1}) rotate(-90)" text-anchor="middle">height, m (terrain raised by the Earth bulge)</text>"##,
        TOP + plot_h / 2.0
    );
    // First Fresnel zone (filled band) and the 60 % zone.
    let band = |scale: f64| {
        let mut pts = String::new();
        for i in 0..=n {
            let _ = write!(pts, "{:.1},{:.1} ", sx(xs[i]), sy(ray[i] + scale * r1[i]));
        }
        for i in (0..=n).rev() {
            let _ = write!(pts, "{:.1},{:.1} ", sx(xs[i]), sy(ray[i] - scale * r1[i]));
        }
        pts
    };
    let _ = writeln!(
        s,
        r##"<polygon points="{}" fill="#cfe3ff" fill-opacity="0.6" stroke="#7aa7e0" stroke-width="0.8"><title>first Fresnel zone</title></polygon>"##,
        band(1.0)
    );
    let _ = writeln!(
        s,
        r##"<polygon points="{}" fill="none" stroke="#7aa7e0" stroke-dasharray="4 3" stroke-width="0.8"><title>60 % of the first Fresnel zone</title></polygon>"##,
        band(0.6)
    );
    // Terrain.
    let mut terrain = format!("{:.1},{:.1} ", sx(0.0), sy(y0));
    for i in 0..=n {
        let _ = write!(terrain, "{:.1},{:.1} ", sx(xs[i]), sy(ground[i]));
    }
    let _ = write!(terrain, "{:.1},{:.1}", sx(d), sy(y0));
    let _ = writeln!(
        s,
        r##"<polygon points="{terrain}" fill="#b9a57e" stroke="#6b5a36" stroke-width="1"><title>terrain with Earth curvature</title></polygon>"##
    );
    // Obstructions: terrain samples above the ray, and each peak.
    for i in 1..n {
        if ground[i] > ray[i] {
            let _ = writeln!(
                s,
                r##"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="#d62728" stroke-width="2"/>"##,
                sy(ground[i]),
                sy(ray[i]),
                x = sx(xs[i])
            );
        }
    }
    if let Some(t) = &r.terrain {
        for o in &t.obstructions {
            let x = sx(o.peak_distance_m.clamp(0.0, d));
            let i = ((o.peak_distance_m / p.step_m).round() as usize).min(n);
            let _ = writeln!(
                s,
                r##"<circle cx="{x:.1}" cy="{:.1}" r="4" fill="#d62728"><title>obstruction peak {:.0} m at {}: {:.1} m above the ray, ν = {:.2}</title></circle>"##,
                sy(ground[i]),
                o.peak_elevation_m,
                escape(&distance(o.peak_distance_m)),
                o.height_above_los_m,
                o.nu
            );
        }
    }
    // Line of sight and antennas.
    let _ = writeln!(
        s,
        r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#1f4e9e" stroke-width="1.6"><title>line of sight</title></line>"##,
        sx(0.0),
        sy(tx_top),
        sx(d),
        sy(rx_top)
    );
    for (x, base, top, label) in [
        (0.0, ground[0], tx_top, "transmitter"),
        (d, ground[n], rx_top, "receiver"),
    ] {
        let _ = writeln!(
            s,
            r##"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="#000" stroke-width="3"><title>{label}</title></line>"##,
            sy(base),
            sy(top),
            x = sx(x)
        );
    }
    // Legend and the headline numbers.
    let los = r
        .terrain
        .as_ref()
        .map(|t| {
            if t.line_of_sight {
                "line of sight"
            } else {
                "obstructed"
            }
        })
        .unwrap_or("");
    let losses: Vec<String> = r
        .models
        .iter()
        .filter_map(|m| m.loss_db.map(|l| format!("{} {:.1} dB", m.model, l)))
        .take(4)
        .collect();
    let _ = writeln!(
        s,
        r##"<text x="{LEFT}" y="{:.1}">{}</text>"##,
        HEIGHT - 12.0,
        escape(&format!("{los}; {}", losses.join(", ")))
    );
    let legend = [
        ("#b9a57e", "terrain (+ Earth bulge)"),
        ("#1f4e9e", "line of sight"),
        ("#cfe3ff", "1st Fresnel zone"),
        ("#d62728", "obstruction"),
    ];
    for (i, (color, label)) in legend.iter().enumerate() {
        let x = LEFT + 8.0 + i as f64 * 180.0;
        let _ = writeln!(
            s,
            r##"<rect x="{x:.1}" y="{:.1}" width="14" height="10" fill="{color}"/><text x="{:.1}" y="{:.1}">{label}</text>"##,
            TOP - 16.0,
            x + 18.0,
            TOP - 7.0
        );
    }
    s.push_str("</svg>\n");
    Ok(s)
}

fn trim(v: f64) -> String {
    let t = format!("{v:.2}");
    t.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
