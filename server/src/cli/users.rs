//! `admin create-user`, `assign`, `users`, `disable-user`, `enable-user` and `set-id-card`: one
//! person at a time, typed by an administrator. Division codes are checked before anything is written, so
//! a typo never leaves a user assigned to a village that does not exist.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context, bail};
use fieldsync_protocol::Role;
use fieldsync_protocol::registry::idcard;
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

/// `admin set-id-card`: a farmer's own ID-card number, read from standard input (never from
/// the command line, where it would stay in the shell's history and the process list), or
/// removed. A farmer's account reports only about the household that number belongs to.
pub(super) async fn set_id_card(store: &Store, username: &str, remove: bool) -> anyhow::Result<()> {
    let user = store
        .user_by_username(username)
        .await?
        .with_context(|| format!("no user named {username:?}"))?;
    if remove {
        store.set_user_id_card(user.id, None).await?;
        println!("{username} has no ID-card number on file now");
        return Ok(());
    }
    if user.role()? != Role::Farmer {
        bail!(
            "{username} is a {}: only farmer accounts have their own ID-card number on file",
            user.role
        );
    }
    let number = read_line("ID-card number")?;
    let number = idcard::normalize(number.trim());
    if let Err(e) = idcard::validate(&number) {
        bail!("the ID-card number read from standard input is not valid: {e}");
    }
    store.set_user_id_card(user.id, Some(&number)).await?;
    let households = store
        .own_id_card(user.id)
        .await?
        .map_or(0, |own| own.households.len());
    let shown = crate::privacy::mask(&serde_json::Value::String(number));
    let shown = shown.as_str().unwrap_or_default();
    match households {
        0 => println!(
            "{username}'s ID-card number {shown} is on file; no household of the villages holds it yet (the village registers the household), so {username} reports only with this number"
        ),
        n => println!(
            "{username}'s ID-card number {shown} is on file; {username} reports about the household holding it ({n} found)"
        ),
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
fn read_line(prompt: &str) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("{prompt}: ");
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

fn read_password() -> anyhow::Result<String> {
    let secret = read_line("password")?;
    if secret.chars().count() < password::MIN_LEN {
        bail!(
            "the password (read from standard input) needs at least {} characters",
            password::MIN_LEN
        );
    }
    Ok(secret)
}
