//! One writer at a time on a stage folder, readers beside each other.
//!
//! A step that writes the stage (extract, transform, and the commands that run them) holds an
//! exclusive OS file lock on `STAGE/.ykt-lock` for its run; a step that only reads it
//! (load, reconcile) holds a shared one. The kernel releases the lock when the process dies,
//! so a crashed run never blocks the next. A refused run is told who holds the lock and since
//! when.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::Path;

use crate::{Stage, StageError};

/// A held stage lock; released when dropped.
#[derive(Debug)]
pub struct StageLock {
    file: File,
    exclusive: bool,
}

/// Creates a folder readable by its owner only: a stage, an archive and an unmasked report
/// folder hold every ID number and account in clear.
pub fn create_private_dir(dir: &Path) -> Result<(), StageError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| StageError::io(dir, e))?;
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| StageError::io(dir, e))
}

impl Stage {
    /// Takes the stage's lock for `command`: exclusive to write it, shared to read it.
    pub fn lock(&self, command: &str, exclusive: bool) -> Result<StageLock, StageError> {
        create_private_dir(self.dir())?;
        let path = self.dir().join(".ykt-lock");
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| StageError::io(&path, e))?;
        let taken = if exclusive {
            file.try_lock()
        } else {
            file.try_lock_shared()
        };
        match taken {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                // A writer names itself just after it takes the lock; readers do not.
                let holder = read_holder(&mut file).unwrap_or_else(|| {
                    "another ykt run that reads it (a load or a reconcile)".to_owned()
                });
                return Err(StageError::Busy {
                    dir: self.dir().to_owned(),
                    holder,
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(StageError::io(&path, e)),
        }
        if exclusive {
            let beijing = chrono::FixedOffset::east_opt(8 * 3600).expect("+08:00");
            let since = chrono::Utc::now()
                .with_timezone(&beijing)
                .format("%Y-%m-%d %H:%M:%S%:z");
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_owned())
                .unwrap_or_else(|_| "unknown".to_owned());
            let write = |file: &mut File| -> std::io::Result<()> {
                file.set_len(0)?;
                file.rewind()?;
                write!(
                    file,
                    "`ykt {command}` (pid {} on host {host}) since {since}",
                    std::process::id()
                )?;
                file.flush()
            };
            write(&mut file).map_err(|e| StageError::io(&path, e))?;
        } else {
            // What a writer that crashed left would name the wrong run.
            file.set_len(0).map_err(|e| StageError::io(&path, e))?;
        }
        Ok(StageLock { file, exclusive })
    }
}

impl Drop for StageLock {
    fn drop(&mut self) {
        if self.exclusive {
            let _ = self.file.set_len(0);
        }
    }
}

/// What the holder of a lock file wrote about itself, waiting briefly for a holder that has
/// taken the lock but not yet written; `None` when it says nothing.
pub fn read_holder(file: &mut File) -> Option<String> {
    for _ in 0..20 {
        let mut holder = String::new();
        if file.rewind().is_ok()
            && file.read_to_string(&mut holder).is_ok()
            && !holder.trim().is_empty()
        {
            return Some(holder.trim().to_owned());
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_writer_or_many_readers() {
        let dir = std::env::temp_dir().join(format!("ykt-stage-lock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let stage = Stage::new(&dir);
        let writer = stage.lock("extract", true).unwrap();
        match stage.lock("transform", true) {
            Err(StageError::Busy { holder, .. }) => {
                assert!(holder.starts_with("`ykt extract` (pid "), "{holder}")
            }
            other => panic!("expected busy, got {other:?}"),
        }
        assert!(
            stage.lock("reconcile", false).is_err(),
            "no reader beside a writer"
        );
        drop(writer);
        let a = stage.lock("reconcile", false).unwrap();
        let b = stage.lock("load", false).unwrap();
        assert!(
            stage.lock("extract", true).is_err(),
            "no writer beside readers"
        );
        drop((a, b));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "a stage holds personal data: owner only");
    }
}
