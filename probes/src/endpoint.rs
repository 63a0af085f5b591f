//! Where each measurement goes on a target: the project's own server, a LibreSpeed backend, a
//! Cloudflare-style speed endpoint, or a plain URL of a large file.

use std::path::Path;

use reqwest::Url;
use serde::Deserialize;

/// The kind of server behind a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerKind {
    /// A `probe serve` instance: receiver-side upload reports and a UDP echo.
    Probe,
    /// A LibreSpeed backend (PHP or Go): `garbage`, `empty`, `getIP`.
    Librespeed,
    /// Any HTTP(S) URL of a large file: download, latency and HTTP phases only.
    Url,
    /// Cloudflare-style speed endpoints (speed.cloudflare.com, or `probe serve`):
    /// `GET __down?bytes=N` sends N bytes, `POST __up` discards the body.
    Cloudflare,
    /// M-Lab's ndt7 over WebSocket: the URL is a Locate API base (`http(s)://`, servers found
    /// through `v2/nearest/ndt/ndt7`) or one ndt7 server (`ws(s)://`, e.g. a `probe serve`).
    Ndt7,
}

impl ServerKind {
    /// The config and `--kind` spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ServerKind::Probe => "probe",
            ServerKind::Librespeed => "librespeed",
            ServerKind::Url => "url",
            ServerKind::Cloudflare => "cloudflare",
            ServerKind::Ndt7 => "ndt7",
        }
    }

    /// Every kind, in documentation order.
    pub const ALL: [ServerKind; 5] = [
        ServerKind::Probe,
        ServerKind::Librespeed,
        ServerKind::Url,
        ServerKind::Cloudflare,
        ServerKind::Ndt7,
    ];

    /// The kind spelled `s` (config and `--kind`).
    pub fn parse(s: &str) -> Option<ServerKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Largest single `__down` request to a Cloudflare-style endpoint: the largest size
/// Cloudflare's own speed test asks for; a download issues further requests until it ends.
pub const CLOUDFLARE_MAX_REQUEST_BYTES: u64 = 100_000_000;

/// Resolved URLs of one target.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// Server kind.
    pub kind: ServerKind,
    /// Base URL (for `url` targets, the file itself).
    pub base: Url,
    /// LibreSpeed download path (relative to base).
    pub dl_path: String,
    /// LibreSpeed upload path.
    pub ul_path: String,
    /// LibreSpeed ping path.
    pub ping_path: String,
    /// A LibreSpeed target given by URL: where its backend was found (`base` or `base/backend/`,
    /// looked up on the first run by `detect::resolve_backend`, shared by the
    /// target's runs). `None` when `base` is used as it is.
    pub backend: Option<std::sync::Arc<std::sync::OnceLock<Url>>>,
}

/// One entry of a LibreSpeed server-list JSON.
#[derive(Debug, Clone, Deserialize)]
pub struct LibrespeedServer {
    /// Server id.
    pub id: serde_json::Value,
    /// Display name.
    pub name: String,
    /// Base URL (may be protocol-relative, `//host/path/`).
    pub server: String,
    /// Download path.
    #[serde(rename = "dlURL")]
    pub dl_url: String,
    /// Upload path.
    #[serde(rename = "ulURL")]
    pub ul_url: String,
    /// Ping path.
    #[serde(rename = "pingURL")]
    pub ping_url: String,
    /// IP info path.
    #[serde(rename = "getIpURL", default)]
    pub get_ip_url: String,
}

/// Parse a LibreSpeed server list.
pub fn parse_server_list(json: &str) -> Result<Vec<LibrespeedServer>, String> {
    serde_json::from_str(json).map_err(|e| format!("not a LibreSpeed server list: {e}"))
}

/// Read a LibreSpeed server list file.
pub fn read_server_list(path: &Path) -> Result<Vec<LibrespeedServer>, String> {
    let text = crate::files::read_text(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    parse_server_list(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn with_slash(mut u: Url) -> Url {
    if !u.path().ends_with('/') {
        let p = format!("{}/", u.path());
        u.set_path(&p);
    }
    u
}

impl Endpoints {
    /// An ndt7 target on M-Lab's public platform (its Locate API or one of its servers): the
    /// agent then spaces the target's tests as the ndt7 specification asks of non-interactive
    /// clients (see `agent::mlab_gap`).
    pub fn is_mlab_platform(&self) -> bool {
        self.kind == ServerKind::Ndt7
            && self.base.host_str().is_some_and(|h| {
                let h = h.trim_end_matches('.').to_ascii_lowercase();
                ["measurementlab.net", "measurement-lab.org"]
                    .iter()
                    .any(|d| h == *d || h.ends_with(&format!(".{d}")))
            })
    }

    /// Endpoints of a target of `kind` at `base`.
    pub fn new(kind: ServerKind, base: Url) -> Self {
        let base = match kind {
            ServerKind::Url => base,
            _ => with_slash(base),
        };
        Endpoints {
            kind,
            base,
            dl_path: "garbage.php".into(),
            ul_path: "empty.php".into(),
            ping_path: "empty.php".into(),
            backend: None,
        }
    }

    /// These endpoints with the LibreSpeed backend looked up below `base` before the first
    /// run (a URL at an install's root finds `backend/`).
    pub fn finding_backend(mut self) -> Self {
        self.backend = Some(Default::default());
        self
    }

    /// Endpoints from a LibreSpeed server-list entry.
    pub fn from_librespeed(s: &LibrespeedServer) -> Result<Self, String> {
        let server = if s.server.starts_with("//") {
            format!("https:{}", s.server)
        } else {
            s.server.clone()
        };
        let base = Url::parse(&server)
            .map_err(|e| format!("server \"{}\": bad URL {server}: {e}", s.name))?;
        // As a `url` target must be: the list comes from a file anyone may have edited.
        if !matches!(base.scheme(), "http" | "https")
            || !base.host_str().is_some_and(|h| !h.is_empty())
        {
            return Err(format!(
                "server \"{}\": {server} must be an http:// or https:// URL (or //host/path/) with a host",
                s.name
            ));
        }
        if base.port() == Some(0) {
            return Err(format!(
                "server \"{}\": {server} has port 0, which nothing can be reached on",
                s.name
            ));
        }
        let mut e = Endpoints::new(ServerKind::Librespeed, base);
        // LibreSpeed appends these paths to the server URL: an absolute or protocol-relative
        // one would send the transfers to another server than the one the target's latency
        // and dns tests measure and its series are labelled with (found by the fuzz target).
        for (key, path) in [
            ("dlURL", &s.dl_url),
            ("ulURL", &s.ul_url),
            ("pingURL", &s.ping_url),
        ] {
            match e.base.join(path) {
                Ok(u) if u.origin() == e.base.origin() => {}
                Ok(u) => {
                    return Err(format!(
                        "server \"{}\": {key} \"{path}\" leads to {}, not to the server {}: give a path relative to the server URL, e.g. \"garbage.php\"",
                        s.name,
                        u.origin().ascii_serialization(),
                        e.base.origin().ascii_serialization()
                    ))
                }
                Err(err) => {
                    return Err(format!(
                        "server \"{}\": {key} \"{path}\" is not a path: {err}",
                        s.name
                    ))
                }
            }
        }
        e.dl_path = s.dl_url.clone();
        e.ul_path = s.ul_url.clone();
        e.ping_path = s.ping_url.clone();
        Ok(e)
    }

    fn join(&self, path: &str) -> Url {
        self.base.join(path).unwrap_or_else(|_| self.base.clone())
    }

    /// URL for downloading about `bytes` bytes in one request.
    pub fn download_url(&self, bytes: u64) -> Url {
        match self.kind {
            ServerKind::Probe => {
                let mut u = self.join("download");
                u.set_query(Some(&format!("bytes={bytes}")));
                u
            }
            ServerKind::Librespeed => {
                // LibreSpeed counts in MiB chunks, at most 1024.
                let mib = bytes.div_ceil(1 << 20).clamp(1, 1024);
                let mut u = self.join(&self.dl_path);
                u.set_query(Some(&format!("ckSize={mib}")));
                u
            }
            // ndt7 finds its URLs itself (probers::ndt7).
            ServerKind::Url | ServerKind::Ndt7 => self.base.clone(),
            ServerKind::Cloudflare => {
                let mut u = self.join("__down");
                u.set_query(Some(&format!(
                    "bytes={}",
                    bytes.min(CLOUDFLARE_MAX_REQUEST_BYTES)
                )));
                u
            }
        }
    }

    /// Most bytes one download request may ask for (`u64::MAX`: no limit of the protocol).
    pub fn max_download_request_bytes(&self) -> u64 {
        match self.kind {
            ServerKind::Cloudflare => CLOUDFLARE_MAX_REQUEST_BYTES,
            // garbage.php serves at most 1024 chunks of 1 MiB.
            ServerKind::Librespeed => 1 << 30,
            ServerKind::Probe | ServerKind::Url | ServerKind::Ndt7 => u64::MAX,
        }
    }

    /// URL the upload body is posted to.
    pub fn upload_url(&self) -> Url {
        match self.kind {
            ServerKind::Probe => self.join("upload"),
            ServerKind::Cloudflare => self.join("__up"),
            _ => self.join(&self.ul_path),
        }
    }

    /// URL of the cheapest round trip.
    pub fn ping_url(&self) -> Url {
        match self.kind {
            ServerKind::Probe => self.join("ping"),
            ServerKind::Librespeed => self.join(&self.ping_path),
            ServerKind::Url | ServerKind::Ndt7 => self.base.clone(),
            // Cloudflare measures latency as the time to first byte of empty downloads.
            ServerKind::Cloudflare => {
                let mut u = self.join("__down");
                u.set_query(Some("bytes=0"));
                u
            }
        }
    }

    /// Whether the server reports upload bytes and receive times (receiver-side figure).
    pub fn receiver_reports_upload(&self) -> bool {
        self.kind == ServerKind::Probe
    }

    /// Host name or IP literal of the target.
    pub fn host(&self) -> String {
        self.base.host_str().unwrap_or("").to_string()
    }

    /// TCP port of the target.
    pub fn port(&self) -> u16 {
        self.base.port_or_known_default().unwrap_or(80)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mlab_platform_is_recognised_by_host() {
        let e = |kind, u: &str| Endpoints::new(kind, Url::parse(u).unwrap());
        assert!(e(ServerKind::Ndt7, "https://locate.measurementlab.net/").is_mlab_platform());
        assert!(e(
            ServerKind::Ndt7,
            "wss://ndt-mlab1-lga01.mlab-oti.measurement-lab.org/"
        )
        .is_mlab_platform());
        assert!(!e(ServerKind::Ndt7, "https://locate.example.net/").is_mlab_platform());
        assert!(!e(ServerKind::Ndt7, "https://notmeasurementlab.net/").is_mlab_platform());
        assert!(!e(ServerKind::Probe, "https://locate.measurementlab.net/").is_mlab_platform());
    }

    #[test]
    fn librespeed_paths_follow_the_server_list() {
        let list = parse_server_list(
            r#"[{"id":1,"name":"A","server":"//speed.example/backend","dlURL":"garbage.php","ulURL":"empty.php","pingURL":"empty.php","getIpURL":"getIP.php"}]"#,
        )
        .unwrap();
        let e = Endpoints::from_librespeed(&list[0]).unwrap();
        assert_eq!(
            e.download_url(5 << 20).as_str(),
            "https://speed.example/backend/garbage.php?ckSize=5"
        );
        assert_eq!(
            e.upload_url().as_str(),
            "https://speed.example/backend/empty.php"
        );
        let p = Endpoints::new(
            ServerKind::Probe,
            Url::parse("http://127.0.0.1:8080").unwrap(),
        );
        assert_eq!(
            p.download_url(100).as_str(),
            "http://127.0.0.1:8080/download?bytes=100"
        );
    }

    /// Fuzz finding (librespeed_server_list, minimised): an absolute `dlURL` sent the
    /// download to another host than the entry's server.
    #[test]
    fn librespeed_paths_stay_on_the_server() {
        let list = parse_server_list(
            r#"[{"id":"b","name":"B","server":"http://b.exp3/speed/","dlURL":"https://ge.php?=1","ulURL":"/empty.php","pingURL":"empt&.php#f","ge":""}]"#,
        )
        .unwrap();
        let err = Endpoints::from_librespeed(&list[0]).unwrap_err();
        assert!(
            err.contains("dlURL \"https://ge.php?=1\" leads to https://ge.php"),
            "{err}"
        );
        let entry = |server: &str, path: &str| LibrespeedServer {
            id: 1.into(),
            name: "A".into(),
            server: server.into(),
            dl_url: "garbage.php".into(),
            ul_url: path.into(),
            ping_url: "empty.php".into(),
            get_ip_url: String::new(),
        };
        // Protocol-relative and other-port paths leave the server too; paths below it or
        // from its root (with a query or a fragment) do not.
        for bad in [
            "//other.example/empty.php",
            "http://b.example:8081/empty.php",
        ] {
            assert!(
                Endpoints::from_librespeed(&entry("http://b.example:8080/", bad)).is_err(),
                "{bad}"
            );
        }
        for good in [
            "empty.php",
            "/empty.php",
            "../x/empty.php?a=1",
            "http://b.example:8080/e",
        ] {
            let e =
                Endpoints::from_librespeed(&entry("http://b.example:8080/speed", good)).unwrap();
            assert_eq!(e.upload_url().host_str(), Some("b.example"), "{good}");
            assert_eq!(e.upload_url().port_or_known_default(), Some(8080), "{good}");
        }
        // Fuzz finding (minimised): a protocol-relative server with port 0 was accepted.
        let err = Endpoints::from_librespeed(&entry("//a.example:00", "empty.php")).unwrap_err();
        assert!(err.contains("port 0"), "{err}");
        // The server itself must be an http(s) URL with a host, as a `url` target's is.
        for bad in [
            "file:///srv/speed/",
            "mailto:ops@example.org",
            "data:text/plain,x",
            "speed.example/",
        ] {
            let err = Endpoints::from_librespeed(&entry(bad, "empty.php")).unwrap_err();
            assert!(err.starts_with("server \"A\""), "{bad}: {err}");
        }
    }

    #[test]
    fn cloudflare_paths_and_request_sizes() {
        let c = Endpoints::new(
            ServerKind::Cloudflare,
            Url::parse("https://speed.cloudflare.com").unwrap(),
        );
        assert_eq!(
            c.download_url(5_000).as_str(),
            "https://speed.cloudflare.com/__down?bytes=5000"
        );
        assert_eq!(
            c.download_url(1 << 40).as_str(),
            "https://speed.cloudflare.com/__down?bytes=100000000"
        );
        assert_eq!(c.upload_url().as_str(), "https://speed.cloudflare.com/__up");
        assert_eq!(
            c.ping_url().as_str(),
            "https://speed.cloudflare.com/__down?bytes=0"
        );
        assert_eq!(c.max_download_request_bytes(), 100_000_000);
        for k in ServerKind::ALL {
            assert_eq!(ServerKind::parse(k.as_str()), Some(k));
        }
    }
}
