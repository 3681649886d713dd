//! A fresh PostgreSQL database per test, from the server at `TIPSHEET_TEST_POSTGRES`.
//!
//! Each test gets `CREATE DATABASE t_<random>` and drops it (`WITH (FORCE)`)
//! when done, so tests run in parallel. With the variable unset, the test
//! prints one line saying it was skipped and does nothing.

use std::sync::atomic::{AtomicU64, Ordering};

/// The env var naming the test server (any database on it; trust auth).
pub const ENV: &str = "TIPSHEET_TEST_POSTGRES";

/// A database that exists for one test.
pub struct FreshDb {
    /// The URL of the fresh database.
    pub url: String,
    admin: String,
    name: String,
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn admin_exec(admin: &str, sql: &str) {
    let (client, conn) = tokio_postgres::connect(admin, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot reach {ENV} `{admin}`: {e}"));
    let task = tokio::spawn(conn);
    client
        .batch_execute(sql)
        .await
        .unwrap_or_else(|e| panic!("`{sql}`: {e}"));
    drop(client);
    let _ = task.await;
}

/// `url` with its database name replaced by `name`.
pub fn with_dbname(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[after_scheme..]
        .find('/')
        .map_or(base.len(), |i| after_scheme + i);
    format!("{}/{name}{query}", &base[..host_end])
}

/// A fresh database, or `None` (after one line on stderr) when `ENV` is unset.
pub fn fresh(test: &str) -> Option<FreshDb> {
    static N: AtomicU64 = AtomicU64::new(0);
    let Ok(admin) = std::env::var(ENV) else {
        // Straight to stderr: the test harness captures `eprintln!`, and a
        // skipped test must say so even in a passing run.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "{test}: PostgreSQL part skipped: {ENV} is unset (e.g. `{ENV}=postgres://postgres@127.0.0.1:5432/test`)"
        );
        return None;
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let name = format!(
        "t_{}_{:x}_{}",
        std::process::id(),
        nanos & 0xffff_ffff,
        N.fetch_add(1, Ordering::SeqCst)
    );
    let create = format!("CREATE DATABASE {name}");
    let a = admin.clone();
    std::thread::spawn(move || rt().block_on(admin_exec(&a, &create)))
        .join()
        .unwrap();
    Some(FreshDb {
        url: with_dbname(&admin, &name),
        admin,
        name,
    })
}

impl FreshDb {
    /// Runs SQL against the fresh database (for assertions and fault setup).
    pub fn query(&self, sql: &str) -> Vec<tokio_postgres::Row> {
        let url = self.url.clone();
        let sql = sql.to_string();
        // On its own thread: callers may be inside a runtime already.
        std::thread::spawn(move || {
            rt().block_on(async move {
                let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                    .await
                    .unwrap();
                let task = tokio::spawn(conn);
                let rows = client.query(&sql, &[]).await.unwrap();
                drop(client);
                let _ = task.await;
                rows
            })
        })
        .join()
        .unwrap()
    }

    /// One `COUNT(*)`-like number.
    pub fn count(&self, sql: &str) -> i64 {
        self.query(sql)[0].get(0)
    }
}

impl Drop for FreshDb {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let admin = self.admin.clone();
        // A drop that fails leaves a stray test database, not a wrong result.
        let _ = std::thread::spawn(move || rt().block_on(admin_exec(&admin, &sql))).join();
    }
}
