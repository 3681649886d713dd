//! Running one scenario on both store engines: the [`Engine`] parameter, the
//! [`on_both_engines!`] macro that makes `NAME::file` and `NAME::postgres`
//! tests of a scenario, and a [`Bench`] (a site on an engine) whose ledger and
//! suppressions are read the same way on either: SQLite rows and the
//! suppression file, or `SELECT … FROM recipients` and the `suppressions`
//! table. The PostgreSQL variant prints one line and passes when
//! `TIPSHEET_TEST_POSTGRES` is unset.

use std::ops::Deref;

use tipsheet::store::{RecipientRecord, RecipientStatus};

use crate::common::Site;
use crate::pg::{self, FreshDb};

/// The slot of the first issue, which most scenarios send.
pub const SLOT: &str = "2026-12-01";

/// Which store a scenario runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// The embedded default: the CSV list and the SQLite ledger under `state/`.
    File,
    /// A fresh PostgreSQL database holding the list, suppressions and ledger.
    Postgres,
}

/// Two tests per scenario `fn NAME(engine: Engine, test: &str)`:
/// `NAME::file` and `NAME::postgres`. Attributes before a name (such as
/// `#[ignore = "…"]`) go on both.
macro_rules! on_both_engines {
    ($($(#[$attr:meta])* $name:ident),* $(,)?) => {$(
        mod $name {
            $(#[$attr])*
            #[test]
            fn file() {
                super::$name($crate::engine::Engine::File, module_path!());
            }
            $(#[$attr])*
            #[test]
            fn postgres() {
                super::$name($crate::engine::Engine::Postgres, module_path!());
            }
        }
    )*};
}
pub(crate) use on_both_engines;

/// Imports a PostgreSQL site's `subscribers/subscribers.csv` and
/// `suppressed.csv` into its store, then removes them: the list of record is
/// the store.
pub fn import_list(site: &Site) {
    let r = crate::subscribers::import_sample(site);
    assert_eq!(r.code, 0, "{r:?}");
    std::fs::remove_file(site.path("subscribers/subscribers.csv")).unwrap();
    std::fs::remove_file(site.path("subscribers/suppressed.csv")).unwrap();
}

/// A site on one engine. With PostgreSQL its list was imported into a fresh
/// database and the CSV files removed, so nothing can fall back on them.
pub struct Bench {
    pub site: Site,
    /// The fresh database (PostgreSQL only).
    pub db: Option<FreshDb>,
}

impl Deref for Bench {
    type Target = Site;
    fn deref(&self) -> &Site {
        &self.site
    }
}

impl Bench {
    /// `site` on the file engine.
    pub fn file(site: Site) -> Bench {
        Bench { site, db: None }
    }

    /// `site` (configured, its list written) on `engine`; `None` when the
    /// engine is PostgreSQL and `TIPSHEET_TEST_POSTGRES` is unset.
    pub fn on(engine: Engine, test: &str, site: Site) -> Option<Bench> {
        if engine == Engine::File {
            return Some(Bench::file(site));
        }
        let db = pg::fresh(test)?;
        site.config(
            "# url = \"postgres://tipsheet@127.0.0.1:5432/tipsheet\"",
            &format!("url = \"{}\"", db.url),
        );
        import_list(&site);
        Some(Bench { site, db: Some(db) })
    }

    /// (address, `reason,at`) of every suppression: the file's rows, or the table's.
    pub fn suppressed(&self) -> Vec<(String, String)> {
        match &self.db {
            None => self
                .site
                .read("subscribers/suppressed.csv")
                .lines()
                .skip(1)
                .filter_map(|l| {
                    let mut f = l.splitn(2, ',');
                    Some((f.next()?.to_string(), f.next()?.to_string()))
                })
                .collect(),
            Some(db) => db
                .query("SELECT email, reason || ',' || at FROM suppressions ORDER BY email")
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect(),
        }
    }

    /// The recipients of the issue for `slot` with one of `statuses`, by key;
    /// none when nothing was recorded yet.
    pub fn recipients(&self, slot: &str, statuses: &[RecipientStatus]) -> Vec<RecipientRecord> {
        let Some(db) = &self.db else {
            let ledger = crate::common::embedded_store(&self.path(""));
            return crate::common::block_on(ledger.recipients(slot.parse().unwrap(), statuses))
                .unwrap_or_default();
        };
        let names: Vec<String> = statuses.iter().map(|s| format!("'{s}'")).collect();
        db.query(&format!(
            "SELECT email, address, name, status, attempts, last_code, last_reply, message_id, updated_at
             FROM recipients WHERE slot = '{slot}' AND status IN ({}) ORDER BY email",
            names.join(", ")
        ))
        .iter()
        .map(|r| RecipientRecord {
            key: r.get(0),
            address: r.get(1),
            name: r.get(2),
            status: r.get::<_, String>(3).parse().unwrap(),
            attempts: r.get::<_, i32>(4) as u32,
            last_code: r.get::<_, Option<i32>>(5).map(|c| c as u16),
            last_reply: r.get(6),
            message_id: r.get(7),
            updated_at: r.get(8),
        })
        .collect()
    }

    /// Keys of the first issue's recipients with `status`.
    pub fn keys_with(&self, status: RecipientStatus) -> std::collections::HashSet<String> {
        self.recipients(SLOT, &[status])
            .into_iter()
            .map(|r| r.key)
            .collect()
    }

    /// Every recipient of the first issue: key → `status code`.
    pub fn outcome(&self) -> std::collections::BTreeMap<String, String> {
        self.recipients(SLOT, &RecipientStatus::ALL)
            .into_iter()
            .map(|r| {
                let code = r.last_code.map(|c| c.to_string()).unwrap_or_default();
                (r.key, format!("{} {code}", r.status))
            })
            .collect()
    }

    /// Whether the ledger holds no issue at all: no SQLite file, or no row.
    pub fn recorded_nothing(&self) -> bool {
        match &self.db {
            None => !self.path("state/tipsheet.sqlite3").exists(),
            Some(db) => {
                db.count("SELECT COUNT(*) FROM issues") == 0
                    && db.count("SELECT COUNT(*) FROM recipients") == 0
            }
        }
    }
}
