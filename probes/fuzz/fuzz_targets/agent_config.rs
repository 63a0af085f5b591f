//! Any text given as an agent config is either a valid config or a list of problems, each
//! with a key or a line when it names one; parsing never panics, and the redacted summary
//! never quotes the file.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = std::path::Path::new("/nonexistent/fuzz/agent.toml");
    match probes::config::parse(text, path) {
        Ok(cfg) => {
            assert!(!cfg.targets.is_empty());
        }
        Err(e) => {
            assert!(!e.problems.is_empty());
            let _ = e.to_string();
            let r = e.redacted();
            for p in &e.problems {
                if let Some(line) = p.line {
                    assert!(line >= 1 && line <= text.lines().count().max(1) + 1, "line {line}");
                }
                let _ = p;
            }
            assert!(r.starts_with(&format!("{} problem", e.problems.len())));
        }
    }
});
