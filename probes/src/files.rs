//! Reading the small files a configuration names (the config itself, secrets, LibreSpeed server
//! lists, certificates and keys): regular files only, and at most [`MAX_FILE_BYTES`], so that a
//! path such as `/dev/zero`, a terminal or a FIFO gets a clear error instead of a hang or
//! unbounded memory.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// Largest file read (16 MiB): far above any config, server list or certificate bundle.
pub const MAX_FILE_BYTES: u64 = 16 << 20;

/// The bytes of the regular file at `path`.
pub fn read_bounded(path: &Path) -> io::Result<Vec<u8>> {
    // stat first: opening a FIFO for reading would block until a writer appears.
    let not_regular = || {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file (a device, FIFO or directory cannot be read as one)",
        )
    };
    if !std::fs::metadata(path)?.is_file() {
        return Err(not_regular());
    }
    let f = File::open(path)?;
    if !f.metadata()?.is_file() {
        return Err(not_regular());
    }
    let mut buf = Vec::new();
    f.take(MAX_FILE_BYTES + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > MAX_FILE_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {} MiB", MAX_FILE_BYTES >> 20),
        ));
    }
    Ok(buf)
}

/// The UTF-8 text of the regular file at `path`.
pub fn read_text(path: &Path) -> io::Result<String> {
    String::from_utf8(read_bounded(path)?)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bounded_regular_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let ok = dir.path().join("ok.txt");
        std::fs::write(&ok, "hello").unwrap();
        assert_eq!(read_text(&ok).unwrap(), "hello");
        for p in ["/dev/zero", "/dev/null"] {
            let e = read_text(Path::new(p)).unwrap_err().to_string();
            assert!(e.starts_with("not a regular file"), "{p}: {e}");
        }
        let e = read_text(dir.path()).unwrap_err().to_string();
        assert!(e.starts_with("not a regular file"), "{e}");
        let big = dir.path().join("big");
        File::create(&big)
            .unwrap()
            .set_len(MAX_FILE_BYTES + 1)
            .unwrap();
        assert_eq!(
            read_bounded(&big).unwrap_err().to_string(),
            "larger than 16 MiB"
        );
        let bin = dir.path().join("bin");
        std::fs::write(&bin, [0xff, 0xfe]).unwrap();
        assert_eq!(read_text(&bin).unwrap_err().to_string(), "not UTF-8 text");
    }
}
