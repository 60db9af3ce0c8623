//! `admin devices`, `revoke-device`, `unrevoke-device` and `hand-over-device`: the phones that
//! have logged in, shutting a lost one out, and giving one to another cadre. Revoking and
//! handing over take effect on the device's next request (sessions are checked on every
//! request), so the command's message can promise it.

use anyhow::{Context, bail};
use uuid::Uuid;

use super::local_time;
use crate::clock;
use crate::store::Store;

pub(super) async fn devices(store: &Store, username: Option<&str>) -> anyhow::Result<()> {
    let user_id = match username {
        Some(name) => Some(
            store
                .user_by_username(name)
                .await?
                .with_context(|| format!("no user named {name:?}"))?
                .id,
        ),
        None => None,
    };
    let devices = store.devices(user_id).await?;
    if devices.is_empty() {
        match username {
            Some(name) => println!("{name} has no devices (a device appears at its first login)"),
            None => println!("no devices (a device appears at its first login)"),
        }
        return Ok(());
    }
    println!(
        "{:<36}  {:<16}  {:<19}  {:<19}  {:<12}  {:>6}  state",
        "device", "user", "created (UTC+8)", "last seen (UTC+8)", "app", "outbox"
    );
    for d in devices {
        println!(
            "{:<36}  {:<16}  {:<19}  {:<19}  {:<12}  {:>6}  {}",
            d.id,
            d.username,
            local_time(d.created_at),
            local_time(d.last_seen_at),
            d.app_version.as_deref().unwrap_or("-"),
            d.outbox_depth
                .map_or_else(|| "-".to_owned(), |n| n.to_string()),
            d.revoked_at.map_or_else(
                || "active".to_owned(),
                |t| format!("revoked {}", local_time(t))
            ),
        );
    }
    Ok(())
}

pub(super) async fn revoke_device(store: &Store, device: Uuid, revoke: bool) -> anyhow::Result<()> {
    let before = store
        .set_device_revoked(device, revoke, clock::now_ms())
        .await?
        .with_context(|| {
            format!("no device {device} (`fieldsync admin devices` lists the devices)")
        })?;
    let user = before.username;
    match (revoke, before.since) {
        (true, None) => println!(
            "revoked device {device} of {user}: it is refused from its next request and cannot log in"
        ),
        (true, Some(t)) => println!(
            "device {device} of {user} was already revoked (since {}); its sessions are ended",
            local_time(t)
        ),
        (false, Some(_)) => {
            println!("device {device} of {user} is no longer revoked: it may log in again");
        }
        (false, None) => println!("device {device} of {user} was not revoked; nothing changed"),
    }
    Ok(())
}

/// A phone belongs to the user it was first registered to; a login of anyone else on it is
/// refused. Handing it over is this explicit step: the previous user's sessions on it end.
pub(super) async fn hand_over_device(store: &Store, device: Uuid, to: &str) -> anyhow::Result<()> {
    let user = store
        .user_by_username(to)
        .await?
        .with_context(|| format!("no user named {to:?}"))?;
    if user.disabled_at.is_some() {
        bail!("{to} is disabled; enable the account first (fieldsync admin enable-user {to})");
    }
    let before = store
        .hand_over_device(device, user.id, clock::now_ms())
        .await?
        .with_context(|| {
            format!("no device {device} (`fieldsync admin devices` lists the devices)")
        })?;
    let from = before.from_username;
    match before.kind.as_str() {
        "phone" => {}
        "collect" => bail!(
            "device {device} is an ODK Collect link of {from}; a link is never handed over: revoke it (fieldsync admin revoke-device {device}) and make {to} a new one (fieldsync admin collect-link --username {to} --url …)"
        ),
        _ => bail!(
            "device {device} is a console sign-in of {from}, not a phone; a console sign-in is never handed over"
        ),
    }
    if before.from_user == user.id {
        println!("device {device} is already registered to {to}; nothing changed");
        return Ok(());
    }
    println!(
        "device {device} now belongs to {to}: {from} is refused on it from the next request ({} sessions ended), and {to} may log in on it",
        before.sessions_ended
    );
    if let Some(t) = before.revoked_at {
        println!(
            "note: the device is still revoked (since {}); `fieldsync admin unrevoke-device {device}` lets it log in",
            local_time(t)
        );
    }
    Ok(())
}

/// Parses the DEVICE_ID argument, pointing at `admin devices` when it is not an id.
pub(super) fn device_arg(text: &str) -> Result<Uuid, String> {
    Uuid::parse_str(text.trim()).map_err(|_| {
        format!(
            "{text:?} is not a device id; device ids look like 0193a0f0-0000-7000-8000-000000000001 \
             (`fieldsync admin devices` lists them)"
        )
    })
}
