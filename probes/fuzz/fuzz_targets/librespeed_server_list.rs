//! A LibreSpeed server list from anywhere (`probes::endpoint::parse_server_list`, what a
//! `server_list` target reads) parses or is refused, and every entry either becomes endpoints
//! (`Endpoints::from_librespeed`) or is refused; never a panic.
//!
//! Accepted endpoints measure the server the entry names, as a `url` target would: an http(s)
//! base URL with a host, and download, upload and ping URLs on that same origin (scheme, host,
//! port), the download asking for 1..=1024 MiB chunks. An entry whose paths lead to another
//! server is refused, so the host the agent labels, resolves (dns test) and connects to
//! (latency) is the one every transfer goes to.
#![no_main]

use libfuzzer_sys::fuzz_target;
use probes::endpoint::{parse_server_list, Endpoints, ServerKind};
use url::Url;

fn origin(u: &Url) -> (String, Option<String>, Option<u16>) {
    (
        u.scheme().to_string(),
        u.host_str().map(str::to_string),
        u.port_or_known_default(),
    )
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(list) = parse_server_list(text) else {
        return;
    };
    for s in &list {
        let Ok(e) = Endpoints::from_librespeed(s) else {
            continue;
        };
        assert_eq!(e.kind, ServerKind::Librespeed);
        let base = &e.base;
        assert!(
            matches!(base.scheme(), "http" | "https"),
            "scheme of {:?}",
            s.server
        );
        assert!(!e.host().is_empty(), "no host in {:?}", s.server);
        assert!(base.path().ends_with('/'), "base {base}");
        assert!(e.port() > 0);
        let want = origin(base);
        for bytes in [0, 1, (1 << 20) + 1, 1 << 40, u64::MAX] {
            let u = e.download_url(bytes);
            assert_eq!(origin(&u), want, "download {u} of {base}");
            let mib: u64 = u
                .query_pairs()
                .find(|(k, _)| k == "ckSize")
                .and_then(|(_, v)| v.parse().ok())
                .expect("ckSize");
            assert!((1..=1024).contains(&mib), "ckSize {mib}");
            assert!(
                mib << 20 >= bytes.min(1 << 30),
                "{mib} MiB for {bytes} bytes"
            );
        }
        for u in [e.upload_url(), e.ping_url()] {
            assert_eq!(origin(&u), want, "{u} of {base}");
        }
        // The URLs survive being written out and read back (logs, `probe run --url`).
        for u in [e.download_url(1), e.upload_url(), e.ping_url()] {
            assert_eq!(Url::parse(u.as_str()).as_ref(), Ok(&u));
        }
    }
});
