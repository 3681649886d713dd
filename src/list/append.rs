//! Appending a subscriber or a suppression under an exclusive lock, one
//! whole CSV line per write.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use chrono::{DateTime, SecondsFormat, Utc};
use lettre::Address;

use super::address::clean_text;
use super::cell::{write_record, writer};
use super::model::{
    MAX_NAME_CHARS, MAX_ROW_BYTES, SUBSCRIBERS_HEADER, SUPPRESSION_HEADER, SubscribersError,
};
use super::table::{Table, parse_email};
use crate::fsperm::private_file;

/// Append one suppression record (`email,reason,at`, `at` in RFC 3339 UTC).
/// Creates the file with its header if missing or empty. The reason has
/// control characters (CR, LF, ...) replaced by spaces and is CSV-quoted as
/// needed. Fails with `InvalidInput` if `email` is not a valid address.
pub fn append_suppression(
    path: &Path,
    email: &str,
    reason: &str,
    at: DateTime<Utc>,
) -> io::Result<()> {
    let email = checked_email(email)?;
    let mut batch = Appender::open(path, SUPPRESSION_HEADER)?;
    batch.suppression(email.as_ref(), reason, at)?;
    batch.finish().map(drop)
}

/// Append one subscriber row (`email,name,subscribed_at`), adding the header
/// if the file is new or empty and a newline if the file does not end with
/// one. The name is cleaned like names read from the file. Fails with
/// `InvalidInput` if `email` is not a valid address.
pub fn append_subscriber(
    path: &Path,
    email: &str,
    name: &str,
    at: DateTime<Utc>,
) -> io::Result<()> {
    let email = checked_email(email)?;
    let name = clean_text(name, MAX_NAME_CHARS);
    let at = at.to_rfc3339_opts(SecondsFormat::Secs, true);
    append_row(
        path,
        SUBSCRIBERS_HEADER,
        &[
            ("email", email.as_ref()),
            ("name", &name),
            ("subscribed_at", &at),
        ],
    )
}

pub(super) fn checked_email(email: &str) -> io::Result<Address> {
    parse_email(email).map_err(|m| io::Error::new(io::ErrorKind::InvalidInput, m))
}

/// Lock, inspect, and append `values` in the order of the file's header
/// (or `header` for a new file) with one `write_all`.
pub(super) fn append_row(path: &Path, header: &[&str], values: &[(&str, &str)]) -> io::Result<()> {
    let mut batch = Appender::open(path, header)?;
    batch.row(values)?;
    batch.finish().map(drop)
}

/// A list file's identity, size and modification time when looked at:
/// every append changes the size and every rewrite (an erasure replaces the
/// file) the inode, so a copy read at one stamp is current while the file
/// shows the same stamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    dev: u64,
    ino: u64,
    len: u64,
    modified: Option<std::time::SystemTime>,
}

impl FileStamp {
    /// The stamp of an open file.
    pub fn of(meta: &std::fs::Metadata) -> Self {
        #[cfg(unix)]
        let (dev, ino) = {
            use std::os::unix::fs::MetadataExt;
            (meta.dev(), meta.ino())
        };
        #[cfg(not(unix))]
        let (dev, ino) = (0, 0);
        Self {
            dev,
            ino,
            len: meta.len(),
            modified: meta.modified().ok(),
        }
    }

    /// The stamp of the file at `path`; `None` when there is no file.
    pub fn at(path: &Path) -> io::Result<Option<Self>> {
        match std::fs::metadata(path) {
            Ok(m) => Ok(Some(Self::of(&m))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Rows appended to a list file as one write under its exclusive lock: the
/// lock is taken at [`Appender::open`] and held until [`Appender::finish`]
/// has written and flushed every row (one `write_all`, one `fsync`), so a
/// reader of the file sees all of them or none, and whatever was checked
/// while it was held still holds when they land.
pub struct Appender {
    file: File,
    buf: Vec<u8>,
    columns: Vec<String>,
    before: FileStamp,
}

impl Appender {
    /// Opens `path` (creating it, owner-only) and locks it; a new or blank
    /// file gets `header`.
    pub fn open(path: &Path, header: &[&str]) -> io::Result<Self> {
        // Reopened if an erasure replaced the file while this waited for the lock.
        let mut file = open_locked(path)?;
        let meta = file.metadata()?;
        let before = FileStamp::of(&meta);
        let mut buf = Vec::new();
        let mut columns = None;
        if meta.len() > 0 {
            file.seek(SeekFrom::End(-1))?;
            let mut last = [0u8; 1];
            file.read_exact(&mut last)?;
            if last[0] != b'\n' {
                buf.push(b'\n');
            }
            file.seek(SeekFrom::Start(0))?;
            columns = existing_header(path, &mut file, header)?;
        }
        let columns = match columns {
            Some(c) => c,
            None => {
                let names: Vec<String> = header.iter().map(|s| (*s).to_string()).collect();
                write_csv_line(&mut buf, &names)?;
                names
            }
        };
        Ok(Self {
            file,
            buf,
            columns,
            before,
        })
    }

    /// The file as it was when the lock was taken (before any row of this batch).
    pub fn before(&self) -> FileStamp {
        self.before
    }

    /// Adds a suppression row (see [`append_suppression`]) to the batch.
    pub fn suppression(&mut self, email: &str, reason: &str, at: DateTime<Utc>) -> io::Result<()> {
        let email = checked_email(email)?;
        let reason = clean_text(reason, usize::MAX);
        let at = at.to_rfc3339_opts(SecondsFormat::Secs, true);
        self.row(&[("email", email.as_ref()), ("reason", &reason), ("at", &at)])
    }

    /// Adds `values`, in the order of the file's columns, to the batch.
    fn row(&mut self, values: &[(&str, &str)]) -> io::Result<()> {
        let row: Vec<&str> = self
            .columns
            .iter()
            .map(|c| {
                values
                    .iter()
                    .find(|(name, _)| c.eq_ignore_ascii_case(name))
                    .map_or("", |(_, v)| *v)
            })
            .collect();
        write_csv_line(&mut self.buf, &row)
    }

    /// Writes the batch with one `write_all`, waits for the disk, and gives
    /// the file's stamp after it; the lock is released on return.
    pub fn finish(mut self) -> io::Result<FileStamp> {
        self.file.write_all(&self.buf)?;
        self.file.flush()?;
        self.file.sync_data()?;
        Ok(FileStamp::of(&self.file.metadata()?))
    }
}

/// Header of an existing file; `None` if it has none (blank content).
pub(super) fn existing_header(
    path: &Path,
    file: &mut File,
    expected: &[&str],
) -> io::Result<Option<Vec<String>>> {
    match Table::new(path, file, expected, MAX_ROW_BYTES) {
        Ok(t) => Ok(t.header.map(|h| h.names)),
        Err(SubscribersError::Open { source, .. } | SubscribersError::Read { source, .. }) => {
            Err(source)
        }
        Err(e) => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{e}; not appending"),
        )),
    }
}

/// One CSV line, its fields protected from spreadsheets (`cell`).
pub(super) fn write_csv_line<S: AsRef<str>>(buf: &mut Vec<u8>, fields: &[S]) -> io::Result<()> {
    let mut w = writer(buf);
    write_record(&mut w, fields)?;
    w.flush()
}

/// Opens a list file for appending under an exclusive lock, reopening it if
/// it was replaced (by an erasure) while this process waited for the lock.
/// A file it creates is owner-only.
pub(super) fn open_locked(path: &Path) -> io::Result<File> {
    loop {
        let file = private_file()
            .read(true)
            .append(true)
            .create(true)
            .open(path)?;
        file.lock()?;
        if same_file(&file, path)? {
            return Ok(file);
        }
    }
}

#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> io::Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let (a, b) = (file.metadata()?, std::fs::metadata(path));
    Ok(b.is_ok_and(|b| a.dev() == b.dev() && a.ino() == b.ino()))
}

#[cfg(not(unix))]
fn same_file(_: &File, _: &Path) -> io::Result<bool> {
    Ok(true)
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    use chrono::Utc;

    use crate::list::append::{append_subscriber, append_suppression};

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn appends_create_private_files_and_existing_files_keep_their_mode() {
        let dir = tempfile::tempdir().unwrap();
        let list = dir.path().join("subscribers.csv");
        append_subscriber(&list, "a@example.com", "A", Utc::now()).unwrap();
        assert_eq!(mode(&list), 0o600);
        let suppressed = dir.path().join("suppressed.csv");
        append_suppression(&suppressed, "a@example.com", "x", Utc::now()).unwrap();
        assert_eq!(mode(&suppressed), 0o600);

        let shared = dir.path().join("shared.csv");
        std::fs::write(&shared, "email,name,subscribed_at\n").unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o644)).unwrap();
        append_subscriber(&shared, "a@example.com", "A", Utc::now()).unwrap();
        assert_eq!(mode(&shared), 0o644);
    }
}
