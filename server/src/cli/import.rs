//! `admin import-divisions` and `admin import-users`: bulk loads from CSV files a county
//! exports from its spreadsheets. A user import (`service::accounts::import`, which the
//! console's accounts page runs too) reports bad rows by line and still imports the good ones,
//! is safe to run again, and writes generated passwords to a private file before their users
//! exist, so no password is ever lost or printed.

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, anyhow, bail};
use secrecy::ExposeSecret;

use super::progress::Progress;
use crate::divisions;
use crate::roster::Rejected;
use crate::service::accounts::Reach;
use crate::service::accounts::import::{self, Step};
use crate::store::{Store, UserOutcome};

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
    let text = import::text_of(bytes).map_err(|e| anyhow!("{}: {e}", file.display()))?;
    let mut checked = import::check(store, &text, &Reach::everything())
        .await
        .with_context(|| format!("{} is not a user roster", file.display()))?;
    let mut out = match (checked.lacking_passwords(), passwords_out) {
        (0, _) => None,
        (n, None) => {
            list_rejected(&checked.rejected);
            bail!(
                "{n} new users in {} have no password: give --passwords-out FILE to receive the \
                 generated ones (nothing was imported)",
                file.display()
            )
        }
        (_, Some(path)) => Some((path, open_passwords_file(path)?)),
    };

    // Generated passwords reach the file before their users are created, so none is lost.
    let generated = checked.generate_passwords();
    if let Some((path, f)) = &mut out {
        for (username, secret) in &generated {
            writeln!(f, "{username},{}", secret.expose_secret())
                .with_context(|| format!("cannot write to {}", path.display()))?;
        }
        f.flush()
            .and_then(|()| f.get_ref().sync_all())
            .with_context(|| format!("cannot write to {}", path.display()))?;
    }
    let generated: HashSet<String> = generated.into_iter().map(|(u, _)| u).collect();
    let kept_passwords = checked.kept_passwords();

    // One bar per step, the first finished when the second begins.
    let mut bar: Option<(Step, Progress)> = None;
    let imported = checked
        .import(store, |step, done, total| {
            if bar.as_ref().is_none_or(|(s, _)| *s != step) {
                if let Some((_, done)) = bar.take() {
                    done.finish();
                }
                let label = match step {
                    Step::Hashing => "hashing passwords",
                    Step::Importing => "importing users",
                };
                bar = Some((step, Progress::new(label, total)));
            }
            if let Some((_, b)) = &mut bar {
                b.update(done);
            }
        })
        .await
        .with_context(|| match &out {
            Some((path, _)) if !generated.is_empty() => format!(
                "nothing was imported; the passwords this run appended to {} are unused",
                path.display()
            ),
            _ => "nothing was imported".to_owned(),
        })?;
    if let Some((_, b)) = bar {
        b.finish();
    }

    for p in &imported.people {
        let name = &p.username;
        match p.user.outcome {
            UserOutcome::Created => {}
            UserOutcome::Skipped => {
                eprintln!(
                    "warning: {name} was not created (it vanished during the import); run the import again"
                );
            }
            _ if generated.contains(name) => eprintln!(
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
        imported.count(UserOutcome::Created),
        imported.count(UserOutcome::Updated),
        imported.count(UserOutcome::Unchanged),
        imported.assignments_added,
        imported.assignments_changed,
        imported.assignments_unchanged,
    );
    if !imported.rejected.is_empty() {
        list_rejected(&imported.rejected);
        bail!(
            "{} of {} rows of {} were not imported (listed above); fix them and run the same file again",
            imported.rejected.len(),
            imported.rows,
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
