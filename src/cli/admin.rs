//! `tipsheet admin add NAME --role ROLE [--password-stdin]`, `admin list`,
//! `admin passwd NAME [--password-stdin]`, `admin role NAME --role ROLE` and
//! `admin remove NAME`: the console's accounts.
//!
//! Owns the command lines and reading the password (from the terminal
//! without echo, twice, or one line of standard input). The rules and the
//! audit lines are `crate::accounts`'s.

use clap::{Args, Subcommand};

use super::output::outln;
use crate::accounts::{self, AccountError, audit::cli_actor};
use crate::config::Config;
use crate::error::{Ending, Error};
use crate::plan;
use crate::store::{Role, Store};

/// `admin` options.
#[derive(Debug, Args)]
pub struct AdminArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: AdminCommand,
}

/// The `admin` commands.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Add a console account (the password is asked for, twice).
    Add {
        /// The sign-in name.
        name: String,
        /// viewer (reads), editor (also proofs and holds) or publisher (also
        /// approves, releases, looks up and erases readers).
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Read the password from the first line of standard input instead.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List the console accounts and their roles.
    List,
    /// Set a console account's password and end its sessions (the new
    /// password is asked for, twice).
    Passwd {
        /// The sign-in name.
        name: String,
        /// Read the password from the first line of standard input instead.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Change a console account's role (never the last publisher's to a
    /// smaller one); its open sessions take the new role at once.
    Role {
        /// The sign-in name.
        name: String,
        /// viewer, editor or publisher.
        #[arg(long, value_parser = parse_role)]
        role: Role,
    },
    /// Remove a console account and end its sessions (never the last publisher).
    Remove {
        /// The sign-in name.
        name: String,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse()
}

/// The password: one line of standard input, or typed twice at the terminal.
/// `done` names what a mismatch leaves undone (`added`, `changed`).
fn read_password(name: &str, stdin: bool, done: &str) -> Result<String, Error> {
    if stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map_err(|e| {
            Error::Usage(format!("cannot read the password from standard input: {e}"))
        })?;
        return Ok(line.trim_end_matches(['\n', '\r']).to_string());
    }
    let no_terminal = |e: std::io::Error| {
        Error::Usage(format!(
            "cannot read the password from the terminal ({e}); pass it on standard input with `--password-stdin`"
        ))
    };
    let first =
        rpassword::prompt_password(format!("password for `{name}`: ")).map_err(no_terminal)?;
    let again = rpassword::prompt_password("the same password again: ").map_err(no_terminal)?;
    if first != again {
        return Err(Error::Usage(format!(
            "the two passwords differ; nothing was {done}"
        )));
    }
    Ok(first)
}

pub(super) async fn run(config: &Config, args: &AdminArgs) -> Result<Ending, Error> {
    let store = || async {
        Store::open(&plan::store_settings(config)?)
            .await
            .map_err(Error::from)
    };
    match &args.command {
        AdminCommand::Add {
            name,
            role,
            password_stdin,
        } => {
            let password = read_password(name, *password_stdin, "added")?;
            accounts::add(&store().await?, name, *role, &password, &cli_actor()).await?;
            outln!("account `{name}` added as {role}; it can sign in at /admin/login");
        }
        AdminCommand::List => {
            let all = store().await?.accounts().await?;
            if all.is_empty() {
                outln!(
                    "no accounts yet; `tipsheet admin add NAME --role publisher` adds the first"
                );
            }
            for a in all {
                outln!("{:<24} {:<10} added {}", a.name, a.role, a.created_at);
            }
        }
        AdminCommand::Passwd {
            name,
            password_stdin,
        } => {
            let store = store().await?;
            // Before asking for a password that would go nowhere.
            if store.account(name).await?.is_none() {
                return Err(AccountError::Unknown(name.clone()).into());
            }
            let password = read_password(name, *password_stdin, "changed")?;
            let ended = accounts::set_password(&store, name, &password, &cli_actor()).await?;
            outln!(
                "password of `{name}` changed; {ended} open session{} ended",
                if ended == 1 { "" } else { "s" }
            );
        }
        AdminCommand::Role { name, role } => {
            let before = accounts::set_role(&store().await?, name, *role, &cli_actor()).await?;
            if before == *role {
                outln!("account `{name}` is a {role} already; nothing changed");
            } else {
                outln!(
                    "account `{name}` changed from {before} to {role}; its open sessions have the new role"
                );
            }
        }
        AdminCommand::Remove { name } => {
            accounts::remove(&store().await?, name, &cli_actor()).await?;
            outln!("account `{name}` removed; its sessions are ended");
        }
    }
    Ok(Ending::Done)
}
