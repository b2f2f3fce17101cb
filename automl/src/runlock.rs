//! One run per output folder: a run holds an exclusive lock on `DIR/.automl.lock` for as
//! long as it writes there, so two runs (or two `resume`s) never interleave one journal or
//! adopt and delete each other's Jobs. The lock is the operating system's advisory file
//! lock, so a crashed run leaves no lock behind; the file itself says who held it, and
//! is emptied when a run ends normally, so a non-empty one found unlocked tells of a run
//! that crashed or was killed.
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// File name of the lock inside the output folder.
pub const LOCK_FILE: &str = ".automl.lock";

/// The held lock of one output folder; released when dropped.
#[derive(Debug)]
pub struct RunLock {
    file: File,
    path: PathBuf,
    /// Who held it last without releasing it (a crash), if anyone.
    pub stale: Option<String>,
}

impl RunLock {
    /// Takes the lock of `dir`, or says which run holds it.
    pub fn acquire(dir: &Path) -> Result<RunLock> {
        let path = dir.join(LOCK_FILE);
        let mut file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(|e| Error::io(&path, e))?;
        let holder = |file: &mut File| {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            crate::util::printable(text.trim(), 200)
        };
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let who = holder(&mut file);
                return Err(Error::Config(format!(
                    "{} is in use by another automl run ({}); wait for it to end, or choose another --out",
                    dir.display(),
                    if who.is_empty() { "it has just started".to_string() } else { who }
                )));
            }
            Err(TryLockError::Error(e)) => return Err(Error::io(&path, e)),
        }
        let stale = Some(holder(&mut file)).filter(|s| !s.is_empty());
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let write = |file: &mut File| -> std::io::Result<()> {
            file.set_len(0)?;
            file.seek(SeekFrom::Start(0))?;
            writeln!(file, "pid {} since unix time {now}", std::process::id())?;
            file.sync_data()
        };
        write(&mut file).map_err(|e| Error::io(&path, e))?;
        Ok(RunLock { file, path, stale })
    }

    /// Where the lock is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Emptied: the run ended normally. The OS releases the lock with the handle.
        let _ = self.file.set_len(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_is_locked_by_one_run_at_a_time_and_a_crash_is_told_apart() {
        let dir = tempfile::tempdir().expect("tmp");
        let first = RunLock::acquire(dir.path()).expect("first");
        assert!(first.stale.is_none());
        let e = RunLock::acquire(dir.path()).expect_err("second").to_string();
        assert!(e.contains("in use by another automl run") && e.contains(&format!("pid {}", std::process::id())), "{e}");
        drop(first);
        let again = RunLock::acquire(dir.path()).expect("after a normal end");
        assert!(again.stale.is_none());
        drop(again);
        // A run killed while it held the lock leaves its line behind, but no lock.
        std::fs::write(dir.path().join(LOCK_FILE), "pid 4242 since unix time 1\n").expect("as a crash leaves it");
        let after_crash = RunLock::acquire(dir.path()).expect("no lock survives a crash");
        assert_eq!(after_crash.stale.as_deref(), Some("pid 4242 since unix time 1"));
    }
}
