//! `tipsheet backup` and `restore` on the embedded engine: the ledger copied
//! with SQLite's online backup API (one step, so one read transaction: a
//! consistent snapshot of every commit made before it began, while a send
//! keeps writing in WAL mode), and the list files beside it, in a folder.
//!
//! Owns the backup folder's layout ([`LEDGER`], [`LIST`], [`SUPPRESSED`]).
//! A restore takes the run lock first (no send can run meanwhile), refuses a
//! copy whose schema is newer than this tipsheet's, then writes the ledger
//! back through the same API (the live file's WAL handled by SQLite) and
//! each list file by an atomic rename.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use super::db::known_version;
use super::lock;
use crate::store::error::StoreError;
use crate::store::records::LedgerError;

/// The ledger's name in a backup folder.
pub(crate) const LEDGER: &str = "tipsheet.sqlite3";
/// The list file's name in a backup folder.
pub(crate) const LIST: &str = "subscribers.csv";
/// The suppression file's name in a backup folder.
pub(crate) const SUPPRESSED: &str = "suppressed.csv";

/// What a backup or a restore copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    /// The backup folder.
    pub folder: PathBuf,
    /// The ledger's schema version.
    pub version: i64,
    /// Issues in the ledger copied.
    pub issues: i64,
    /// Recipient rows in the ledger copied.
    pub recipients: i64,
    /// The list files copied (where they came from).
    pub lists: Vec<PathBuf>,
}

/// The live files a backup reads and a restore writes.
pub(crate) struct Live<'a> {
    pub ledger: &'a Path,
    pub state_dir: &'a Path,
    pub list: &'a Path,
    pub suppressed: &'a Path,
}

fn sql(path: &Path, source: rusqlite::Error) -> StoreError {
    LedgerError::Sqlite {
        path: path.to_path_buf(),
        source,
    }
    .into()
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StoreError {
    let path = path.to_path_buf();
    move |source| StoreError::State { what, path, source }
}

/// Copies the ledger and the list files into the new folder `out` (created
/// owner-only; an existing non-empty folder is refused, never overwritten).
pub(crate) fn backup(live: &Live<'_>, out: &Path) -> Result<Copied, StoreError> {
    if std::fs::read_dir(out).is_ok_and(|mut d| d.next().is_some()) {
        return Err(StoreError::Backup(format!(
            "the backup folder `{}` is not empty: name a new folder (a backup never overwrites one)",
            out.display()
        )));
    }
    crate::fsperm::create_private_dir(out).map_err(io("cannot create the backup folder", out))?;
    let target = out.join(LEDGER);
    let partial = out.join(format!(".{LEDGER}.partial"));
    if live.ledger.exists() {
        crate::fsperm::touch_private(&partial).map_err(io("cannot create", &partial))?;
        let src = Connection::open_with_flags(live.ledger, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| sql(live.ledger, e))?;
        src.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(|e| sql(live.ledger, e))?;
        let mut dst = Connection::open(&partial).map_err(|e| sql(&partial, e))?;
        copy_whole(&src, &mut dst).map_err(|e| sql(live.ledger, e))?;
        // One self-contained file: no -wal beside the copy.
        dst.pragma_update(None, "journal_mode", "DELETE")
            .map_err(|e| sql(&partial, e))?;
        drop(dst);
        std::fs::rename(&partial, &target).map_err(io("cannot write", &target))?;
    }
    let mut lists = Vec::new();
    for (from, name) in [(live.list, LIST), (live.suppressed, SUPPRESSED)] {
        let bytes = match std::fs::read(from) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io("cannot read", from)(e)),
        };
        // A row being appended right now is left for the next backup.
        let whole = bytes
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(&bytes[..0], |end| &bytes[..=end]);
        let to = out.join(name);
        crate::fsperm::write_private(&to, whole).map_err(io("cannot write", &to))?;
        lists.push(from.to_path_buf());
    }
    let mut copied = describe(&target, out)?;
    copied.lists = lists;
    Ok(copied)
}

/// Writes the ledger and the list files of the backup folder `from` back,
/// under the run lock ([`StoreError::Locked`] while a send runs).
pub(crate) fn restore(live: &Live<'_>, from: &Path) -> Result<Copied, StoreError> {
    let source = from.join(LEDGER);
    if !source.is_file() {
        return Err(StoreError::Backup(format!(
            "`{}` holds no ledger: name a folder `tipsheet backup --out DIR` wrote",
            from.display()
        )));
    }
    let _lock = lock::take(live.state_dir)?;
    let mut copied = describe(&source, from)?;
    let known = known_version();
    if copied.version > known {
        return Err(StoreError::TooNew {
            store: source.display().to_string(),
            found: copied.version,
            known,
        });
    }
    let src = Connection::open_with_flags(&source, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| sql(&source, e))?;
    let ok: String = src
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(|e| sql(&source, e))?;
    if ok != "ok" {
        return Err(StoreError::Backup(format!(
            "the ledger copy `{}` fails `PRAGMA integrity_check` (`{ok}`): nothing was restored; use another backup",
            source.display()
        )));
    }
    if let Some(dir) = live.ledger.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::fsperm::create_private_dir(dir).map_err(io("cannot create", dir))?;
    }
    crate::fsperm::touch_private(live.ledger).map_err(io("cannot create", live.ledger))?;
    let mut dst = Connection::open(live.ledger).map_err(|e| sql(live.ledger, e))?;
    copy_whole(&src, &mut dst).map_err(|e| sql(live.ledger, e))?;
    dst.pragma_update(None, "journal_mode", "WAL")
        .map_err(|e| sql(live.ledger, e))?;
    for (name, to) in [(LIST, live.list), (SUPPRESSED, live.suppressed)] {
        let file = from.join(name);
        match std::fs::read(&file) {
            Ok(bytes) => {
                replace(to, &bytes).map_err(io("cannot restore", to))?;
                copied.lists.push(to.to_path_buf());
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io("cannot read", &file)(e)),
        }
    }
    Ok(copied)
}

/// The whole database in one backup step: one read transaction on `src`,
/// so a writer in another process cannot make it start over.
fn copy_whole(src: &Connection, dst: &mut Connection) -> rusqlite::Result<()> {
    let backup = rusqlite::backup::Backup::new(src, dst)?;
    loop {
        match backup.step(-1)? {
            rusqlite::backup::StepResult::Done => return Ok(()),
            // The source was busy or locked for an instant: try again.
            _ => std::thread::sleep(std::time::Duration::from_millis(50)),
        }
    }
}

/// The schema version and row counts of the ledger copy at `path`.
fn describe(path: &Path, folder: &Path) -> Result<Copied, StoreError> {
    let mut copied = Copied {
        folder: folder.to_path_buf(),
        version: 0,
        issues: 0,
        recipients: 0,
        lists: Vec::new(),
    };
    if !path.exists() {
        return Ok(copied);
    }
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| sql(path, e))?;
    copied.version = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|e| sql(path, e))?;
    if copied.version > 0 {
        let count = |table: &str| -> Result<i64, StoreError> {
            conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
                .map_err(|e| sql(path, e))
        };
        copied.issues = count("issues")?;
        copied.recipients = count("recipients")?;
    }
    Ok(copied)
}

/// Replaces `path` with `bytes`: a new file beside it, synced, renamed over.
fn replace(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.restore-{}.tmp", std::process::id()));
    let result = (|| {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::fsperm::create_private_dir(dir)?;
        }
        let mut file = crate::fsperm::private_file()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
