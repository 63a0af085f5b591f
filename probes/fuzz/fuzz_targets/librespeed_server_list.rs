//! A LibreSpeed server list from anywhere parses or is refused, and every entry either
//! becomes endpoints whose URLs all derive from the entry or is refused; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(list) = probes::endpoint::parse_server_list(text) else {
        return;
    };
    for s in &list {
        if let Ok(e) = probes::endpoint::Endpoints::from_librespeed(s) {
            for bytes in [0, 1, 1 << 20, u64::MAX] {
                let _ = e.download_url(bytes);
            }
            let _ = e.upload_url();
            let _ = e.ping_url();
            let _ = (e.host(), e.port());
        }
    }
});
