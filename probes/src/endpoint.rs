//! Where each measurement goes on a target: the project's own server, a LibreSpeed backend, or
//! a plain URL of a large file.

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
}

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
    let text = std::fs::read_to_string(path)
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
        }
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
        let mut e = Endpoints::new(ServerKind::Librespeed, base);
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
            ServerKind::Url => self.base.clone(),
        }
    }

    /// URL the upload body is posted to.
    pub fn upload_url(&self) -> Url {
        match self.kind {
            ServerKind::Probe => self.join("upload"),
            _ => self.join(&self.ul_path),
        }
    }

    /// URL of the cheapest round trip.
    pub fn ping_url(&self) -> Url {
        match self.kind {
            ServerKind::Probe => self.join("ping"),
            ServerKind::Librespeed => self.join(&self.ping_path),
            ServerKind::Url => self.base.clone(),
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
}
