//! Who may read what tipsheet creates: readers' addresses, names and
//! unsubscribe tokens are in the ledger, the lists, the outbox, exports and
//! previews, so a file tipsheet creates is its owner's alone (0600) and a
//! folder it creates too (0700). A file or folder that exists keeps its mode:
//! an operator who opened one up did so on purpose.
//!
//! Owns the open options and the folder builder every writer uses (`list/`,
//! `store/`, `delivery/`, `cli/`). A leaf: it uses no other module of the
//! crate and must not decide where files go.

use std::fs::{DirBuilder, OpenOptions};
use std::io;
use std::path::Path;

/// Mode of a file tipsheet creates.
#[cfg(unix)]
const FILE_MODE: u32 = 0o600;
/// Mode of a folder tipsheet creates.
#[cfg(unix)]
const DIR_MODE: u32 = 0o700;

/// Open options whose `create`/`create_new` makes an owner-only file.
pub(crate) fn private_file() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(FILE_MODE);
    }
    options
}

/// Creates `dir` and any missing parents as owner-only folders; folders that
/// exist are left as they are.
pub(crate) fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(DIR_MODE);
    }
    builder.create(dir)
}

/// Creates `path` empty and owner-only if it does not exist; an existing file
/// is left as it is (content and mode).
pub(crate) fn touch_private(path: &Path) -> io::Result<()> {
    private_file()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map(drop)
}

/// Writes `bytes` to `path`, replacing what was there; a file it creates is
/// owner-only, a file that exists keeps its mode.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let mut file = private_file()
        .create(true)
        .write(true)
        .truncate(true)
        .open(path)?;
    file.write_all(bytes)
}

#[cfg(all(test, unix))]
mod tests {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn created_files_and_folders_are_private_and_existing_ones_keep_their_mode() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("a/b");
        create_private_dir(&deep).unwrap();
        assert_eq!(mode(&dir.path().join("a")), 0o700);
        assert_eq!(mode(&deep), 0o700);
        let file = deep.join("f");
        let mut f = private_file()
            .create(true)
            .append(true)
            .open(&file)
            .unwrap();
        f.write_all(b"x").unwrap();
        assert_eq!(mode(&file), 0o600);

        let open = dir.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
        create_private_dir(&open.join("inner")).unwrap();
        assert_eq!(mode(&open), 0o755);
        let shared = open.join("shared");
        std::fs::write(&shared, "x").unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o644)).unwrap();
        private_file().append(true).open(&shared).unwrap();
        assert_eq!(mode(&shared), 0o644);
    }
}
