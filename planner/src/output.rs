//! Writing output files: each file is written to a temporary name in the same folder and
//! renamed into place, so a failed run never leaves a half-written file under the final name
//! ([`write_atomic`], [`Staging`]), and [`OutputError`] for any file or stdout that cannot be
//! written. A leaf: it knows nothing of what the files hold (see `render`).

use std::io::Write;
use std::path::{Path, PathBuf};

/// A report file that could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {}: {message}", path.display())]
pub struct OutputError {
    pub path: PathBuf,
    pub message: String,
}

/// An [`OutputError`] for `path`.
pub fn err(path: &Path, e: impl std::fmt::Display) -> OutputError {
    OutputError {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Writes `bytes` to `dir/name` through a temporary file and a rename.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf, OutputError> {
    let dest = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let res = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &dest)
    })();
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp);
        return Err(err(&dest, e));
    }
    Ok(dest)
}

/// Writes `text` to stdout. A closed stdout (`planner … | head`) is not an error: the reader
/// has all it wanted, so the rest is dropped quietly and the command goes on (files under
/// `--out` are still written). Any other write failure is an [`OutputError`].
pub fn print_stdout(text: &str) -> Result<(), OutputError> {
    use std::sync::atomic::{AtomicBool, Ordering};
    static CLOSED: AtomicBool = AtomicBool::new(false);
    if CLOSED.load(Ordering::Relaxed) {
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            CLOSED.store(true, Ordering::Relaxed);
            Ok(())
        }
        Err(e) => Err(err(Path::new("standard output"), e)),
    }
}

/// An output folder whose files are written into a temporary folder inside it and moved into
/// place only by [`Staging::commit`], so a failed run leaves the previous outputs untouched and
/// no new file. Opening it creates the folder and proves it writable before any computation.
#[derive(Debug)]
pub struct Staging {
    dir: PathBuf,
    tmp: PathBuf,
    names: Vec<String>,
    committed: bool,
}

impl Staging {
    /// Creates `dir` when missing and a temporary folder inside it.
    pub fn open(dir: &Path) -> Result<Staging, OutputError> {
        std::fs::create_dir_all(dir).map_err(|e| err(dir, e))?;
        let tmp = dir.join(format!(".planner-tmp-{}", std::process::id()));
        // A folder left by a killed run of the same pid is stale; start afresh.
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir(&tmp).map_err(|e| err(dir, e))?;
        let probe = tmp.join(".write-test");
        std::fs::write(&probe, b"").map_err(|e| err(dir, e))?;
        let _ = std::fs::remove_file(&probe);
        Ok(Staging {
            dir: dir.to_path_buf(),
            tmp,
            names: Vec::new(),
            committed: false,
        })
    }

    /// The final folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where file `name` is staged (for writers that need a path, e.g. GDAL); call
    /// [`Staging::add`] once it is written.
    pub fn staged_path(&self, name: &str) -> PathBuf {
        self.tmp.join(name)
    }

    /// Records a file written at [`Staging::staged_path`].
    pub fn add(&mut self, name: &str) {
        if !self.names.iter().any(|n| n == name) {
            self.names.push(name.to_string());
        }
    }

    /// Stages file `name` with `bytes`.
    pub fn write(&mut self, name: &str, bytes: &[u8]) -> Result<(), OutputError> {
        let path = self.staged_path(name);
        let res = (|| -> std::io::Result<()> {
            let mut f = std::fs::File::create(&path)?;
            f.write_all(bytes)?;
            f.sync_all()
        })();
        res.map_err(|e| err(&self.dir.join(name), e))?;
        self.add(name);
        Ok(())
    }

    /// Moves every staged file into the folder (same filesystem: renames) and returns their
    /// final paths.
    pub fn commit(mut self) -> Result<Vec<PathBuf>, OutputError> {
        // A rename within one folder only fails when the destination is in the way (a folder
        // of that name); look for that before moving anything, so no file is half the set.
        for name in &self.names {
            let dest = self.dir.join(name);
            if dest.is_dir() {
                return Err(err(
                    &dest,
                    "a folder of that name is in the way; remove or rename it",
                ));
            }
        }
        let mut done = Vec::with_capacity(self.names.len());
        for name in &self.names {
            let dest = self.dir.join(name);
            std::fs::rename(self.tmp.join(name), &dest).map_err(|e| err(&dest, e))?;
            done.push(dest);
        }
        self.committed = true;
        let _ = std::fs::remove_dir_all(&self.tmp);
        Ok(done)
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        // Not committed (an error, a panic): nothing of this run reaches the folder.
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
    }
}
