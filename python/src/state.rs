//! Compact binary state of sites and DEMs for pickling (Dask ships them to its workers).
//!
//! Little-endian, length-prefixed, versioned by a leading tag; only ever read back by the same
//! build of the package (a cluster runs one environment), so no cross-version promises.

use geodata::{Cell, Dem, Site, Technology};

const SITES_TAG: &[u8; 8] = b"cpsites1";
const DEM_TAG: &[u8; 8] = b"cpdem001";

/// Appends values to a buffer.
#[derive(Default)]
pub struct Enc(pub Vec<u8>);

impl Enc {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn f64(&mut self, v: f64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    /// `None` as NaN: every optional number here is a finite angle when present.
    fn opt_f64(&mut self, v: Option<f64>) {
        self.f64(v.unwrap_or(f64::NAN));
    }
    fn str(&mut self, s: &str) {
        self.u64(s.len() as u64);
        self.0.extend_from_slice(s.as_bytes());
    }
    fn opt_str(&mut self, s: Option<&str>) {
        match s {
            None => self.u8(0),
            Some(s) => {
                self.u8(1);
                self.str(s);
            }
        }
    }
}

/// Reads values back; every read checks the remaining length.
pub struct Dec<'a> {
    buf: &'a [u8],
}

type DecResult<T> = Result<T, String>;

impl<'a> Dec<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Dec { buf }
    }
    fn take(&mut self, n: usize) -> DecResult<&'a [u8]> {
        if self.buf.len() < n {
            return Err("truncated state".into());
        }
        let (a, b) = self.buf.split_at(n);
        self.buf = b;
        Ok(a)
    }
    fn u8(&mut self) -> DecResult<u8> {
        Ok(self.take(1)?[0])
    }
    fn u64(&mut self) -> DecResult<u64> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
    fn f64(&mut self) -> DecResult<f64> {
        Ok(f64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
    fn opt_f64(&mut self) -> DecResult<Option<f64>> {
        let v = self.f64()?;
        Ok((!v.is_nan()).then_some(v))
    }
    fn str(&mut self) -> DecResult<String> {
        let n = self.u64()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|e| e.to_string())
    }
    fn opt_str(&mut self) -> DecResult<Option<String>> {
        match self.u8()? {
            0 => Ok(None),
            _ => self.str().map(Some),
        }
    }
    fn tag(&mut self, tag: &[u8; 8]) -> DecResult<()> {
        if self.take(8)? != tag {
            return Err("not a state written by this version of coverage_planner".into());
        }
        Ok(())
    }
}

fn tech_code(t: Technology) -> u8 {
    planner::coverage::tech_index(t) as u8
}

fn tech_of(code: u8) -> DecResult<Technology> {
    Technology::ALL
        .get(code as usize)
        .copied()
        .ok_or_else(|| format!("bad technology code {code}"))
}

pub fn encode_sites(sites: &[Site]) -> Vec<u8> {
    let mut e = Enc::default();
    e.0.extend_from_slice(SITES_TAG);
    e.u64(sites.len() as u64);
    for s in sites {
        e.str(&s.id);
        e.f64(s.lon);
        e.f64(s.lat);
        e.f64(s.height_m);
        e.opt_str(s.operator.as_deref());
        e.u64(s.cells.len() as u64);
        for c in &s.cells {
            e.u8(tech_code(c.technology));
            e.f64(c.band_mhz);
            e.f64(c.eirp_dbm);
            e.opt_f64(c.azimuth_deg);
            e.opt_f64(c.beamwidth_deg);
            e.opt_f64(c.tilt_deg);
        }
    }
    e.0
}

pub fn decode_sites(buf: &[u8]) -> DecResult<Vec<Site>> {
    let mut d = Dec::new(buf);
    d.tag(SITES_TAG)?;
    let n = d.u64()? as usize;
    let mut out = Vec::with_capacity(n.min(buf.len()));
    for _ in 0..n {
        let id = d.str()?;
        let (lon, lat, height_m) = (d.f64()?, d.f64()?, d.f64()?);
        let operator = d.opt_str()?;
        let nc = d.u64()? as usize;
        let mut cells = Vec::with_capacity(nc.min(buf.len()));
        for _ in 0..nc {
            cells.push(Cell {
                technology: tech_of(d.u8()?)?,
                band_mhz: d.f64()?,
                eirp_dbm: d.f64()?,
                azimuth_deg: d.opt_f64()?,
                beamwidth_deg: d.opt_f64()?,
                tilt_deg: d.opt_f64()?,
            });
        }
        out.push(Site {
            id,
            lon,
            lat,
            height_m,
            operator,
            cells,
        });
    }
    Ok(out)
}

pub fn encode_dem(dem: &Dem) -> Vec<u8> {
    let mut e = Enc::default();
    e.0.extend_from_slice(DEM_TAG);
    e.f64(dem.west_deg);
    e.f64(dem.north_deg);
    e.f64(dem.dlon_deg);
    e.f64(dem.dlat_deg);
    e.u64(dem.cols as u64);
    e.u64(dem.rows as u64);
    e.str(&dem.source);
    e.0.reserve(dem.data_m.len() * 4);
    for v in &dem.data_m {
        e.0.extend_from_slice(&v.to_le_bytes());
    }
    e.0
}

pub fn decode_dem(buf: &[u8]) -> DecResult<Dem> {
    let mut d = Dec::new(buf);
    d.tag(DEM_TAG)?;
    let (west_deg, north_deg, dlon_deg, dlat_deg) = (d.f64()?, d.f64()?, d.f64()?, d.f64()?);
    let cols = d.u64()? as usize;
    let rows = d.u64()? as usize;
    let source = d.str()?;
    let n = cols
        .checked_mul(rows)
        .ok_or_else(|| "bad DEM size".to_string())?;
    let raw = d.take(n.checked_mul(4).ok_or_else(|| "bad DEM size".to_string())?)?;
    let data_m = raw
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
        .collect();
    Ok(Dem {
        west_deg,
        north_deg,
        dlon_deg,
        dlat_deg,
        cols,
        rows,
        data_m,
        source,
    })
}
