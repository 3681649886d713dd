//! Writing a whole list file (`subscribers export`): into a temporary file
//! next to the target, flushed and synced, then renamed over it, so a reader
//! never sees half a list. Fields are [`protect`](super::cell::protect)ed
//! like every other CSV line the list module writes; a new file is private
//! (0600) and so is a folder made for it (0700).
//!
//! Owns the file format of an export. It must not know where the rows come
//! from (the store hands them to the command, the command hands them here).

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::cell::{write_record, writer};
use crate::fsperm::{create_private_dir, private_file};

/// Why an export could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The folder to export into cannot be created.
    #[error(
        "cannot create `{}`: {source} (check the path and its permissions)",
        path.display()
    )]
    Folder {
        /// The folder.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// A file of the export cannot be written or moved into place.
    #[error(
        "cannot write `{}`: {source} (check the folder's permissions and free space, then export again)",
        path.display()
    )]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
}

/// Creates the export folder (owner-only when new).
pub(crate) fn create_folder(dir: &Path) -> Result<(), ExportError> {
    create_private_dir(dir).map_err(|source| ExportError::Folder {
        path: dir.to_path_buf(),
        source,
    })
}

/// Writes `header` and `rows` to `path` atomically: a temporary file next to
/// it, synced, then renamed into place. A file already at `path` keeps its
/// mode; a new one is owner-only.
pub(crate) fn write_csv<I, R, S>(path: &Path, header: &[&str], rows: I) -> Result<(), ExportError>
where
    I: IntoIterator<Item = R>,
    R: AsRef<[S]>,
    S: AsRef<str>,
{
    let tmp = temporary(path);
    let result = (|| -> io::Result<()> {
        let file = private_file().write(true).create_new(true).open(&tmp)?;
        match std::fs::metadata(path) {
            Ok(old) => file.set_permissions(old.permissions())?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let mut w = writer(io::BufWriter::new(file));
        write_record(&mut w, header)?;
        for row in rows {
            write_record(&mut w, row.as_ref())?;
        }
        let mut inner = w.into_inner().map_err(|e| e.into_error())?;
        inner.flush()?;
        inner.get_ref().sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        // Best effort: the error that matters is the one returned.
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(|source| ExportError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// `.NAME.PID.tmp` beside `path`: hidden, and one per process.
fn temporary(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(unix)]
    use std::os::unix::fs::PermissionsExt;

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn writes_protected_fields_and_replaces_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("subscribers.csv");
        std::fs::write(&path, "old\n").unwrap();
        write_csv(
            &path,
            &["email", "name"],
            [["a@example.com", "=HYPERLINK(\"http://x\",\"y\")"]],
        )
        .unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "email,name\na@example.com,\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"\n"
        );
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file left behind");
    }

    #[test]
    fn a_folder_that_cannot_hold_the_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("subscribers.csv");
        let err = write_csv(&path, &["email"], Vec::<[&str; 1]>::new()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with(&format!("cannot write `{}`: ", path.display())),
            "{err}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn new_files_and_folders_are_private_and_existing_ones_keep_their_mode() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("a").join("b");
        create_folder(&out).unwrap();
        assert_eq!(mode(&dir.path().join("a")), 0o700);
        assert_eq!(mode(&out), 0o700);
        let new = out.join("subscribers.csv");
        write_csv(&new, &["email"], [["a@example.com"]]).unwrap();
        assert_eq!(mode(&new), 0o600);

        let shared = out.join("suppressed.csv");
        std::fs::write(&shared, "old\n").unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_csv(&shared, &["email"], [["a@example.com"]]).unwrap();
        assert_eq!(mode(&shared), 0o640);

        let open = dir.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
        create_folder(&open).unwrap();
        assert_eq!(mode(&open), 0o755);
    }
}
