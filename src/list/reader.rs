//! [`SubscriberReader`]: the streaming reader over `subscribers.csv`.

use std::fs::File;
use std::path::Path;

use super::address::{clean_text, normalize};
use super::model::{
    MAX_NAME_CHARS, MAX_ROW_BYTES, RowProblem, SUBSCRIBERS_HEADER, Subscriber, SubscribersError,
};
use super::table::{Table, decode, parse_date, parse_email, show, swallowed_row};

/// Streaming reader over `subscribers.csv`. Yields `Ok(Subscriber)` or
/// `Err(RowProblem)` per data row, in file order, skipping blank lines.
/// Does not dedupe (see [`Dedupe`]) or apply suppression (see [`load_list`]).
///
/// If the file cannot be read to the end (I/O error, or a row longer than
/// [`MAX_ROW_BYTES`]) the iterator yields one last `RowProblem` and stops;
/// call [`SubscriberReader::finish`] afterwards to get the fatal error:
///
/// ```no_run
/// # use tipsheet::list::SubscriberReader;
/// # fn f() -> Result<(), tipsheet::list::SubscribersError> {
/// let mut reader = SubscriberReader::open("subscribers/subscribers.csv".as_ref())?;
/// for row in reader.by_ref() {
///     match row {
///         Ok(sub) => println!("{}", sub.email),
///         Err(problem) => eprintln!("{problem}"),
///     }
/// }
/// reader.finish()?;
/// # Ok(()) }
/// ```
pub struct SubscriberReader {
    pub(super) table: Table<File>,
    pub(super) name: Option<usize>,
    pub(super) subscribed_at: Option<usize>,
}

impl SubscriberReader {
    /// Open the file and read its header. Fails if the file cannot be opened
    /// or the header has no `email` column. An empty file yields no rows.
    pub fn open(path: &Path) -> Result<Self, SubscribersError> {
        Self::open_with_limit(path, MAX_ROW_BYTES)
    }

    pub(super) fn open_with_limit(path: &Path, limit: u64) -> Result<Self, SubscribersError> {
        let table = Table::open(path, SUBSCRIBERS_HEADER, limit)?;
        let (name, subscribed_at) = match &table.header {
            Some(h) => (h.find("name"), h.find("subscribed_at")),
            None => (None, None),
        };
        Ok(SubscriberReader {
            table,
            name,
            subscribed_at,
        })
    }

    /// `Err` if reading stopped early because of a fatal error.
    pub fn finish(self) -> Result<(), SubscribersError> {
        match self.table.fatal {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    pub(super) fn subscriber(&self, line: u64) -> Result<Subscriber, RowProblem> {
        let table = &self.table;
        let Some(header) = &table.header else {
            return Err(table.problem(line, "no header".to_string()));
        };
        if table.record.len() != header.names.len() {
            return Err(table.count_problem(header, line));
        }
        let Some(fields) = decode(&table.record) else {
            return Err(table.problem(
                line,
                "row is not valid UTF-8 (save the file as UTF-8)".to_string(),
            ));
        };
        let field = |i: Option<usize>| i.and_then(|i| fields.get(i).copied()).unwrap_or("");
        if let Some(row) = swallowed_row(&fields) {
            return Err(table.problem(
                line,
                format!(
                    "a quoted value holds a line that reads as a row of its own (`{}`)",
                    show(row)
                ),
            ));
        }
        let email = parse_email(field(Some(header.email))).map_err(|m| table.problem(line, m))?;
        let subscribed_at = parse_date(field(self.subscribed_at), "subscribed_at")
            .map_err(|m| table.problem(line, m))?;
        Ok(Subscriber {
            key: normalize(email.as_ref()),
            email,
            name: clean_text(field(self.name), MAX_NAME_CHARS),
            subscribed_at,
            line,
        })
    }
}

impl Iterator for SubscriberReader {
    type Item = Result<Subscriber, RowProblem>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.table.next_row()? {
            Ok(line) => Some(self.subscriber(line)),
            Err(problem) => Some(Err(problem)),
        }
    }
}
