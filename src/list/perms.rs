//! Who may read what the list module creates: readers' addresses and names
//! are personal data, so a file it creates is its owner's alone (0600) and a
//! folder it creates too (0700). A file or folder that exists keeps its mode:
//! an operator who opened one up did so on purpose.
//!
//! Owns the open options and the folder builder every writer in `list/`
//! uses. It must not decide where files go.

use std::fs::{DirBuilder, OpenOptions};
use std::io;
use std::path::Path;

/// Mode of a file the list module creates.
#[cfg(unix)]
const FILE_MODE: u32 = 0o600;
/// Mode of a folder the list module creates.
#[cfg(unix)]
const DIR_MODE: u32 = 0o700;

/// Open options whose `create`/`create_new` makes an owner-only file.
pub(super) fn private_file() -> OpenOptions {
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
pub(super) fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(DIR_MODE);
    }
    builder.create(dir)
}
