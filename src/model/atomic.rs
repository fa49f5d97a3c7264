//! The one way the tool writes a file: into a temporary file beside the
//! destination, then a rename, so a reader never sees half a file and a
//! failure leaves nothing behind. Models, external data, NumPy outputs and
//! the JSON and JUnit reports all go through here.
//!
//! A temporary file is private (0600) by default; the file it becomes gets
//! the usual 0666 less the umask, as any file the user writes, so a CI
//! artifact uploader running as another user can read a report.

use std::fs::File;
use std::io;
use std::path::Path;

use tempfile::NamedTempFile;

use crate::error::Error;
use crate::model::paths::parent_dir;

/// Writes `path` through a temporary file and a rename. Without `overwrite`
/// an existing file, even one that appeared meanwhile, is never replaced.
pub fn write_atomically(
    path: &Path,
    overwrite: bool,
    write: impl FnOnce(&mut File) -> io::Result<()>,
) -> Result<(), Error> {
    persist(temp_beside(path, write)?, path, overwrite)
}

/// A temporary file beside `path` holding what `write` wrote; removed when
/// dropped unpersisted. For writes of several files that become visible
/// together (a model and its data), [`persist`] them in order.
pub fn temp_beside(
    path: &Path,
    write: impl FnOnce(&mut File) -> io::Result<()>,
) -> Result<NamedTempFile, Error> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(".acon-onnx-").suffix(".tmp");
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let mut tmp = builder
        .tempfile_in(parent_dir(path))
        .map_err(|e| Error::io(path, "cannot create a temporary file beside", e))?;
    write(tmp.as_file_mut()).map_err(|e| Error::io(path, "cannot write", e))?;
    Ok(tmp)
}

/// Renames `tmp` to `path`.
pub fn persist(tmp: NamedTempFile, path: &Path, overwrite: bool) -> Result<(), Error> {
    let persisted = if overwrite {
        tmp.persist(path).map(|_| ())
    } else {
        // Refuses to replace a file that appeared since the check.
        tmp.persist_noclobber(path).map(|_| ())
    };
    persisted.map_err(|e| Error::io(path, "cannot move the written file to", e.error))
}

// The permissions under a umask are checked end to end (tests/permissions.rs):
// the umask is per process, so a unit test cannot set it safely.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        write_atomically(&path, false, |f| io::Write::write_all(f, b"one")).unwrap();
        let again = write_atomically(&path, false, |f| io::Write::write_all(f, b"two"));
        assert!(again.is_err());
        write_atomically(&path, true, |f| io::Write::write_all(f, b"two")).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
    }

    #[test]
    fn a_failed_write_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        let failed = write_atomically(&path, true, |_| Err(io::Error::other("disk on fire")));
        assert!(failed.is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
