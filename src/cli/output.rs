//! What the commands print on standard output and standard error.
//!
//! Owns the two streams for every command. A reader that goes away
//! (`tipsheet status | head -1`) stops the printing, never the command: a send
//! whose output pipe closes keeps sending and recording. `println!` would
//! panic instead ("failed printing to stdout: Broken pipe"): Rust ignores
//! SIGPIPE, so the write fails with `EPIPE`, and `#![forbid(unsafe_code)]`
//! rules out restoring the signal's default action. Use [`outln!`] and
//! [`errln!`], never `println!`/`eprintln!` (clippy's `print_stdout` and
//! `print_stderr` lints hold the line).
//!
//! A stream that fails for another reason (a full disk behind `> file`) also
//! stops taking output; [`stdout_error`] lets the binary report it at exit.

use std::fmt;
use std::io::{self, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once standard output failed: nothing more is written to it.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);
/// Set once standard error failed.
static STDERR_CLOSED: AtomicBool = AtomicBool::new(false);
/// The first standard-output failure that was not a closed pipe.
static STDOUT_ERROR: Mutex<Option<String>> = Mutex::new(None);

/// Prints a line on standard output, like `println!`, but never panics.
macro_rules! outln {
    () => {
        $crate::cli::output::out(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::cli::output::out(format_args!($($arg)*))
    };
}

/// Prints a line on standard error, like `eprintln!`, but never panics.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::cli::output::err(format_args!($($arg)*))
    };
}

pub(crate) use {errln, outln};

/// Writes one line on standard output (use [`outln!`]).
pub(crate) fn out(args: fmt::Arguments<'_>) {
    if let Err(e) = line(&mut io::stdout().lock(), &STDOUT_CLOSED, args)
        && e.kind() != io::ErrorKind::BrokenPipe
    {
        let mut first = STDOUT_ERROR
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        first.get_or_insert_with(|| e.to_string());
    }
}

/// Writes one line on standard error (use [`errln!`]).
pub(crate) fn err(args: fmt::Arguments<'_>) {
    if super::log::json() {
        for l in args.to_string().lines() {
            super::log::line(l);
        }
        return;
    }
    // Nowhere left to report a failure of standard error itself.
    let _ = line(&mut io::stderr().lock(), &STDERR_CLOSED, args);
}

/// Why standard output stopped taking lines, unless it was a closed pipe
/// (a reader such as `head` that has seen enough is not an error).
pub(crate) fn stdout_error() -> Option<String> {
    STDOUT_ERROR
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}

/// Writes `args` and a newline to `w` unless `closed`; closes on the first error.
fn line(w: &mut impl Write, closed: &AtomicBool, args: fmt::Arguments<'_>) -> io::Result<()> {
    if closed.load(Ordering::Relaxed) {
        return Ok(());
    }
    let result = w
        .write_fmt(args)
        .and_then(|()| w.write_all(b"\n"))
        .and_then(|()| w.flush());
    if result.is_err() {
        closed.store(true, Ordering::Relaxed);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Takes `room` bytes, then fails like a closed pipe.
    struct Pipe {
        taken: Vec<u8>,
        room: usize,
    }

    impl Write for Pipe {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.taken.len() + buf.len() > self.room {
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            self.taken.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_pipe_stops_the_lines_and_nothing_panics() {
        let closed = AtomicBool::new(false);
        let mut pipe = Pipe {
            taken: Vec::new(),
            room: 8,
        };
        assert!(line(&mut pipe, &closed, format_args!("one")).is_ok());
        let e = line(&mut pipe, &closed, format_args!("two {}", 2)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
        assert!(closed.load(Ordering::Relaxed));
        pipe.room = 100;
        assert!(line(&mut pipe, &closed, format_args!("three")).is_ok());
        assert_eq!(pipe.taken, b"one\n");
    }
}
