//! Problems found in input files, reported as `file:line: message`.
//!
//! Owns only the shape of a report; each module decides what is an error or a warning.

use std::fmt;
use std::path::PathBuf;

/// How serious a problem is: errors stop `send`, warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Worth fixing; nothing is blocked.
    Warning,
    /// Blocks `send` and makes `check` exit 1.
    Error,
}

/// One problem in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The file it is in.
    pub path: PathBuf,
    /// 1-based line, 0 when the whole file is meant.
    pub line: usize,
    /// What is wrong and how to fix it (lowercase, values in backticks).
    pub message: String,
}

impl Diagnostic {
    /// An error at `path:line`.
    pub(crate) fn error(path: impl Into<PathBuf>, line: usize, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            path: path.into(),
            line,
            message: message.into(),
        }
    }

    /// A warning at `path:line`.
    pub(crate) fn warning(
        path: impl Into<PathBuf>,
        line: usize,
        message: impl Into<String>,
    ) -> Self {
        Self {
            severity: Severity::Warning,
            path: path.into(),
            line,
            message: message.into(),
        }
    }

    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        if self.line > 0 {
            write!(
                f,
                "{}:{}: {kind}: {}",
                self.path.display(),
                self.line,
                self.message
            )
        } else {
            write!(f, "{}: {kind}: {}", self.path.display(), self.message)
        }
    }
}
