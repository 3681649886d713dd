//! Writing a comparison: the `+++` front matter in the house layout, and the file
//! itself, never replacing one without `force` and never leaving half a file.
//!
//! Owns the output file; it prints nothing (the command prints the summary).

use std::io::Write;
use std::path::Path;

use super::model::ImportError;
use crate::content::{ComparisonMeta, Per};

/// Writes `text` to `path`; refuses to replace a file unless `force`.
pub(super) fn write_file(path: &Path, text: &str, force: bool) -> Result<(), ImportError> {
    let fail = |source| ImportError::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    if force {
        // Write beside it, then rename, so a failed write never leaves half a file.
        let tmp = path.with_extension("md.tmp");
        let written = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, path));
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        return written.map_err(fail);
    }
    let mut f = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(ImportError::Exists(path.to_path_buf()));
        }
        Err(e) => return Err(fail(e)),
    };
    if let Err(e) = f.write_all(text.as_bytes()) {
        drop(f);
        let _ = std::fs::remove_file(path);
        return Err(fail(e));
    }
    Ok(())
}

/// A TOML basic string.
pub(super) fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The `+++` block, in the house layout (salaries as inline tables).
pub(super) fn front_matter_text(meta: &ComparisonMeta) -> String {
    let mut s = String::from("+++\n");
    s.push_str(&format!("title = {}\n", toml_string(&meta.title)));
    s.push_str(&format!("slug = {}\n", toml_string(&meta.slug)));
    if let Some(url) = &meta.url {
        s.push_str(&format!("url = {}\n", toml_string(url)));
    }
    if let Some(p) = &meta.published {
        s.push_str(&format!("published = {}\n", toml_string(p)));
    }
    for role in &meta.roles {
        s.push_str(&format!(
            "\n[[roles]]\nname = {}\n",
            toml_string(&role.name)
        ));
        if let Some(sal) = &role.salary {
            let per = match sal.per {
                Per::Year => "year",
                Per::Month => "month",
                Per::Week => "week",
                Per::Day => "day",
                Per::Hour => "hour",
            };
            s.push_str(&format!(
                "salary = {{ min = {}, max = {}, currency = {}, per = \"{per}\" }}\n",
                sal.min,
                sal.max,
                toml_string(&sal.currency)
            ));
        }
    }
    s.push_str("+++\n");
    s
}
