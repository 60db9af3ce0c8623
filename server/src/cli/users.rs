//! `admin create-user`, `assign`, `users`, `disable-user` and `enable-user`: one person at a
//! time, typed by an administrator. Division codes are checked before anything is written, so
//! a typo never leaves a user assigned to a village that does not exist.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context, bail};
use fieldsync_protocol::Role;
use time::Date;
use uuid::Uuid;

use super::local_time;
use crate::auth::password;
use crate::clock;
use crate::roster;
use crate::store::{NewUser, Store, StoreError};

pub(super) async fn create_user(
    store: &Store,
    username: String,
    role: Role,
    villages: &[String],
    display_name: Option<String>,
) -> anyhow::Result<()> {
    roster::check_username(&username).map_err(anyhow::Error::msg)?;
    check_divisions(store, villages).await?;
    let secret = read_password()?;
    let hash = tokio::task::spawn_blocking(move || password::hash(&secret)).await??;
    let user = NewUser {
        id: Uuid::now_v7(),
        username: username.clone(),
        password_hash: hash,
        role,
        display_name,
    };
    match store
        .create_user(
            &user,
            villages,
            &clock::iso(clock::today()),
            clock::now_ms(),
        )
        .await
    {
        Err(StoreError::Duplicate(_)) => bail!("a user named {username:?} already exists"),
        other => other?,
    }
    println!(
        "created {role} {username} ({}) in {}",
        user.id,
        if villages.is_empty() {
            "no villages".to_owned()
        } else {
            villages.join(", ")
        }
    );
    Ok(())
}

pub(super) async fn assign(
    store: &Store,
    username: &str,
    villages: &[String],
    from: Option<Date>,
    until: Option<Date>,
) -> anyhow::Result<()> {
    let scheduled_from = from.is_some();
    let scheduled = scheduled_from || until.is_some();
    let from = from.unwrap_or_else(clock::today);
    if let Some(until) = until
        && until < from
    {
        bail!(
            "--until {} is before the first day of the assignment, {}",
            clock::iso(until),
            clock::iso(from)
        );
    }
    check_divisions(store, villages).await?;
    let user = store
        .user_by_username(username)
        .await?
        .with_context(|| format!("no user named {username:?}"))?;
    store
        .schedule_assignments(
            user.id,
            villages,
            &clock::iso(from),
            &clock::iso(clock::yesterday_of(from)),
            until.map(clock::iso).as_deref(),
        )
        .await?;
    let n = store.user_villages(user.id, &clock::iso(from)).await?.len();
    if scheduled {
        let start = if scheduled_from {
            format!(" from {}", clock::iso(from))
        } else {
            String::new()
        };
        let end = until.map_or_else(|| "further notice".to_owned(), clock::iso);
        println!(
            "{username} works in {}{start} until {end} ({n} villages)",
            villages.join(", ")
        );
    } else {
        println!(
            "{username} now works in {} ({n} villages)",
            villages.join(", ")
        );
    }
    Ok(())
}

/// `admin users`: every user with role, today's assignments and whether they are disabled.
pub(super) async fn list(store: &Store) -> anyhow::Result<()> {
    let today = clock::iso(clock::today());
    for u in store.users().await? {
        let assigned = store.user_assignments(u.id, &today).await?;
        let state = if u.disabled_at.is_some() {
            " (disabled)"
        } else {
            ""
        };
        println!(
            "{:<24} {:<20} {}{state}",
            u.username,
            u.role,
            assigned.join(",")
        );
    }
    Ok(())
}

pub(super) async fn disable_user(
    store: &Store,
    username: &str,
    disable: bool,
) -> anyhow::Result<()> {
    let before = store
        .set_user_disabled(username, disable, clock::now_ms())
        .await?
        .with_context(|| format!("no user named {username:?}"))?;
    match (disable, before.since) {
        (true, None) => println!(
            "disabled {username}: they cannot log in, their sessions are ended and their devices are refused"
        ),
        (true, Some(t)) => println!(
            "{username} was already disabled (since {}); their sessions are ended",
            local_time(t)
        ),
        (false, Some(_)) => println!("enabled {username}: they may log in again"),
        (false, None) => println!("{username} was not disabled; nothing changed"),
    }
    Ok(())
}

async fn check_divisions(store: &Store, codes: &[String]) -> anyhow::Result<()> {
    for code in codes {
        if store.division(code).await?.is_none() {
            bail!(
                "{code} is not a known division code (import divisions first: fieldsync admin import-divisions FILE)"
            );
        }
    }
    Ok(())
}

/// The first line of standard input. Prompts when a person is typing.
fn read_password() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("password: ");
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    let secret = line.trim_end_matches(['\r', '\n']).to_owned();
    if secret.chars().count() < password::MIN_LEN {
        bail!(
            "the password (read from standard input) needs at least {} characters",
            password::MIN_LEN
        );
    }
    Ok(secret)
}
