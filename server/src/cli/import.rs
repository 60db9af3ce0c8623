//! `admin import-divisions` and `admin import-users`: bulk loads from CSV files a county
//! exports from its spreadsheets. A user import reports bad rows by line and still imports the
//! good ones, is safe to run again, and writes generated passwords to a private file before
//! their users exist, so no password is ever lost or printed.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::Path;

use anyhow::{Context, anyhow, bail};
use secrecy::{ExposeSecret, SecretString};

use super::progress::Progress;
use crate::auth::password;
use crate::roster::{self, Person, Rejected};
use crate::store::{ImportAssignment, ImportUser, Store, UserOutcome};
use crate::{clock, divisions};

pub(super) async fn import_divisions(store: &Store, file: &Path) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let rows = divisions::parse(&text)
        .with_context(|| format!("{} is not a division file", file.display()))?;
    let total = rows.len();
    let n = store
        .upsert_divisions(&rows, |done| {
            eprint!("\rimporting divisions: {done}/{total}");
            let _ = std::io::stderr().flush();
        })
        .await?;
    eprintln!();
    println!("imported {n} divisions from {}", file.display());
    Ok(())
}

pub(super) async fn import_users(
    store: &Store,
    file: &Path,
    passwords_out: Option<&Path>,
) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let text = String::from_utf8(bytes).map_err(|_| {
        anyhow!(
            "{} is not UTF-8 text; save it from the spreadsheet as \"CSV UTF-8\"",
            file.display()
        )
    })?;
    let today = clock::today();
    let mut roster = roster::parse(&text, today)
        .with_context(|| format!("{} is not a user roster", file.display()))?;
    let mut known = HashSet::new();
    for code in roster.division_codes() {
        if store.division(code).await?.is_some() {
            known.insert(code.to_owned());
        }
    }
    roster.reject_unknown_divisions(|code| known.contains(code));
    let rows = roster.rows.len() + roster.rejected.len();
    let (mut people, rejected) = roster.into_people();

    let existing: HashSet<String> = store
        .users()
        .await?
        .into_iter()
        .map(|u| u.username)
        .collect();
    let is_new = |p: &Person| !existing.contains(&p.username);
    let lacking = people
        .iter()
        .filter(|p| is_new(p) && p.password.is_none())
        .count();
    let mut out = match (lacking, passwords_out) {
        (0, _) => None,
        (n, None) => {
            list_rejected(&rejected);
            bail!(
                "{n} new users in {} have no password: give --passwords-out FILE to receive the \
                 generated ones (nothing was imported)",
                file.display()
            )
        }
        (_, Some(path)) => Some((path, open_passwords_file(path)?)),
    };

    // Generated passwords reach the file before their users are created, so none is lost.
    let mut generated = HashSet::new();
    let mut secrets = Vec::new();
    for (i, person) in people.iter_mut().enumerate().filter(|(_, p)| is_new(p)) {
        let secret = match person.password.take() {
            Some(given) => given,
            None => {
                let made = roster::generate_password();
                if let Some((path, f)) = &mut out {
                    writeln!(f, "{},{}", person.username, made.expose_secret())
                        .with_context(|| format!("cannot write to {}", path.display()))?;
                }
                generated.insert(i);
                made
            }
        };
        secrets.push((i, secret));
    }
    if let Some((path, f)) = &mut out {
        f.flush()
            .and_then(|()| f.get_ref().sync_all())
            .with_context(|| format!("cannot write to {}", path.display()))?;
    }
    let kept_passwords = people
        .iter()
        .filter(|p| !is_new(p) && p.password.is_some())
        .count();

    let (indexes, secrets): (Vec<usize>, Vec<SecretString>) = secrets.into_iter().unzip();
    let mut hashes: HashMap<usize, String> = indexes
        .into_iter()
        .zip(hash_passwords(secrets).await?)
        .collect();
    let users: Vec<ImportUser> = people
        .iter()
        .enumerate()
        .map(|(i, p)| ImportUser {
            username: p.username.clone(),
            role: p.role,
            display_name: p.display_name.clone(),
            password_hash: hashes.remove(&i),
            assignments: p
                .assignments
                .iter()
                .map(|a| ImportAssignment {
                    division: a.division.clone(),
                    starts_on: a.starts_on.map(clock::iso),
                    ends_on: a.ends_on.map(clock::iso),
                })
                .collect(),
        })
        .collect();
    let mut bar = Progress::new("importing users", users.len());
    let summary = store
        .import_users(&users, &clock::iso(today), clock::now_ms(), |done| {
            bar.update(done);
        })
        .await
        .with_context(|| match &out {
            Some((path, _)) if !generated.is_empty() => format!(
                "nothing was imported; the passwords this run appended to {} are unused",
                path.display()
            ),
            _ => "nothing was imported".to_owned(),
        })?;
    bar.finish();

    for (i, outcome) in summary.users.iter().enumerate() {
        let name = &people[i].username;
        match outcome {
            UserOutcome::Created => {}
            UserOutcome::Skipped => {
                eprintln!(
                    "warning: {name} was not created (it vanished during the import); run the import again"
                );
            }
            _ if generated.contains(&i) => eprintln!(
                "warning: {name} was created by someone else during the import and keeps that password, \
                 not the one appended to the passwords file"
            ),
            _ => {}
        }
    }
    if kept_passwords > 0 {
        eprintln!(
            "note: {kept_passwords} existing users kept their passwords; the password column is for new users only"
        );
    }
    let count = |o: UserOutcome| summary.users.iter().filter(|&&u| u == o).count();
    let passwords = match &out {
        Some((path, _)) if !generated.is_empty() => format!(
            "; {} generated passwords appended to {}",
            generated.len(),
            path.display()
        ),
        _ => String::new(),
    };
    println!(
        "{}: {} users created, {} updated, {} unchanged; assignments {} added, {} changed, {} unchanged{passwords}",
        file.display(),
        count(UserOutcome::Created),
        count(UserOutcome::Updated),
        count(UserOutcome::Unchanged),
        summary.assignments_added,
        summary.assignments_changed,
        summary.assignments_unchanged,
    );
    if !rejected.is_empty() {
        list_rejected(&rejected);
        bail!(
            "{} of {rows} rows of {} were not imported (listed above); fix them and run the same file again",
            rejected.len(),
            file.display()
        );
    }
    Ok(())
}

fn list_rejected(rejected: &[Rejected]) {
    if !rejected.is_empty() {
        eprintln!("rows not imported:");
        for r in rejected {
            eprintln!("  {r}");
        }
    }
}

/// Opens the file generated passwords are appended to, readable by its owner only. Appending
/// keeps the passwords of an earlier run that a second run (after fixing rows) must not lose.
fn open_passwords_file(path: &Path) -> anyhow::Result<std::io::BufWriter<std::fs::File>> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let file = options
            .open(path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        // A file that existed before keeps its mode on open: narrow it.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot make {} private", path.display()))?;
        Ok(std::io::BufWriter::new(file))
    }
    #[cfg(not(unix))]
    {
        let file = options
            .open(path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        Ok(std::io::BufWriter::new(file))
    }
}

/// Hashes passwords on blocking threads, as many at once as there are cores (argon2 is
/// deliberately slow: a few hundred users take seconds). Returns the hashes in order.
async fn hash_passwords(secrets: Vec<SecretString>) -> anyhow::Result<Vec<String>> {
    let total = secrets.len();
    if total == 0 {
        return Ok(Vec::new());
    }
    let workers = std::thread::available_parallelism()
        .map_or(2, std::num::NonZeroUsize::get)
        .min(total);
    let mut lanes: Vec<Vec<(usize, SecretString)>> = (0..workers).map(|_| Vec::new()).collect();
    for (i, secret) in secrets.into_iter().enumerate() {
        lanes[i % workers].push((i, secret));
    }
    let (send, mut done) = tokio::sync::mpsc::unbounded_channel();
    let tasks: Vec<_> = lanes
        .into_iter()
        .map(|lane| {
            let send = send.clone();
            tokio::task::spawn_blocking(move || {
                for (i, secret) in lane {
                    if send
                        .send((i, password::hash(secret.expose_secret())))
                        .is_err()
                    {
                        return;
                    }
                }
            })
        })
        .collect();
    drop(send);
    let mut hashes: Vec<Option<String>> = vec![None; total];
    let mut bar = Progress::new("hashing passwords", total);
    let mut n = 0;
    while let Some((i, hash)) = done.recv().await {
        hashes[i] = Some(hash?);
        n += 1;
        bar.update(n);
    }
    bar.finish();
    for task in tasks {
        task.await?;
    }
    hashes
        .into_iter()
        .collect::<Option<Vec<_>>>()
        .context("a password hashing thread stopped early")
}
