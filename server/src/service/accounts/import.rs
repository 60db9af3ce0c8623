//! The staff roster (`crate::roster`: the CSV `admin import-users` reads) into accounts and
//! assignments, for the command line and the console alike: every row checked (a bad row is
//! kept with its line and reason, the good ones are still imported), a first password made for
//! each new person the file gives none, the passwords hashed, and everything written in one
//! transaction. Safe to run again: the same file changes nothing the second time.
//!
//! Who imports sets the reach ([`Reach`]): the command line and an admin any account and
//! division; a county officer people of divisions under the county only, in roles below a
//! county officer's, and no existing account that works elsewhere. A row beyond the reach is a
//! rejected row with its reason. From the console each account made or changed is audited,
//! and the generated passwords go to the one answer page and nowhere else.

use std::collections::{BTreeSet, HashMap, HashSet};

use fieldsync_protocol::{ErrorCode, Role};
use secrecy::{ExposeSecret, SecretString};
use time::Date;

use super::{Caller, Reach, ServiceError, current_and_planned, manager_role};
use crate::auth::password;
use crate::clock;
use crate::roster::{self, Person, Rejected, Row};
use crate::state::AppState;
use crate::store::{
    AuditAction, ImportAssignment, ImportUser, ImportedUser, Store, UserOutcome, UserRow,
};

fn invalid(message: impl Into<String>) -> ServiceError {
    ServiceError::invalid(ErrorCode::InvalidValue, message)
}

/// A roster file's text: spreadsheets save CSV in several encodings, and only UTF-8 is read.
pub fn text_of(bytes: Vec<u8>) -> Result<String, ServiceError> {
    String::from_utf8(bytes).map_err(|_| {
        invalid("the file is not UTF-8 text; save it from the spreadsheet as \"CSV UTF-8\"")
    })
}

/// A roster read and checked, not yet written.
pub struct Checked {
    people: Vec<Person>,
    /// Of each person, whether the account is new.
    new: Vec<bool>,
    /// The rows not imported, by line.
    pub rejected: Vec<Rejected>,
    /// The rows of the file, good and bad.
    pub rows: usize,
    today: Date,
}

/// Reads a roster and checks every row: the roster's own rules, the division list, and
/// `reach`. A file that is not a roster at all is an error naming why.
pub async fn check(store: &Store, text: &str, reach: &Reach) -> Result<Checked, ServiceError> {
    let today = clock::today();
    let mut roster = roster::parse(text, today).map_err(|e| invalid(e.to_string()))?;
    let mut known = HashSet::new();
    for code in roster.division_codes() {
        if store.division(code).await?.is_some() {
            known.insert(code.to_owned());
        }
    }
    roster.reject_unknown_divisions(|code| known.contains(code));
    let users: HashMap<String, UserRow> = store
        .users()
        .await?
        .into_iter()
        .map(|u| (u.username.clone(), u))
        .collect();
    let outside = outside_reach(store, reach, &roster.rows, &users).await?;
    roster.reject_rows(|row| {
        refused_role_or_division(reach, row).or_else(|| outside.get(&row.username).cloned())
    });
    let rows = roster.rows.len() + roster.rejected.len();
    let (people, rejected) = roster.into_people();
    let new = people
        .iter()
        .map(|p| !users.contains_key(&p.username))
        .collect();
    Ok(Checked {
        people,
        new,
        rejected,
        rows,
        today,
    })
}

/// Why a row's role or divisions are beyond `reach`.
fn refused_role_or_division(reach: &Reach, row: &Row) -> Option<String> {
    if !reach.any_role && manager_role(row.role.as_str()) {
        return Some(format!(
            "a county officer does not make or change {} accounts",
            row.role
        ));
    }
    let outside: Vec<&str> = row
        .divisions
        .iter()
        .map(String::as_str)
        .filter(|d| !reach.manages.covers(d))
        .collect();
    (!outside.is_empty()).then(|| format!("{} not under your divisions", roster::are(&outside)))
}

/// The existing accounts the rows name that `reach` may not change, with the reason.
async fn outside_reach(
    store: &Store,
    reach: &Reach,
    rows: &[Row],
    users: &HashMap<String, UserRow>,
) -> Result<HashMap<String, String>, ServiceError> {
    let mut outside = HashMap::new();
    if reach.any_role && matches!(reach.manages, super::Manages::All) {
        return Ok(outside);
    }
    let named: BTreeSet<&str> = rows.iter().map(|r| r.username.as_str()).collect();
    for name in named {
        let Some(user) = users.get(name) else {
            continue;
        };
        if !reach.any_role && manager_role(&user.role) {
            outside.insert(
                name.to_owned(),
                format!(
                    "{name} is a {} account, which a county officer does not change",
                    user.role
                ),
            );
            continue;
        }
        let divisions = current_and_planned(store, user.id).await?;
        if !divisions.iter().any(|d| reach.manages.covers(d)) {
            outside.insert(
                name.to_owned(),
                format!("the account {name} exists and works outside your divisions"),
            );
        }
    }
    Ok(outside)
}

/// One person of an import and what it did to their account.
#[derive(Debug)]
pub struct ImportedPerson {
    pub username: String,
    pub role: Role,
    /// The first division the file gives them.
    pub division: Option<String>,
    pub user: ImportedUser,
}

/// The two long steps of an import, for a progress bar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Hashing,
    Importing,
}

/// What an import did.
#[derive(Debug)]
pub struct Imported {
    /// Every person of the good rows, in file order.
    pub people: Vec<ImportedPerson>,
    pub assignments_added: usize,
    pub assignments_changed: usize,
    pub assignments_unchanged: usize,
    pub rejected: Vec<Rejected>,
    pub rows: usize,
}

impl Imported {
    pub fn count(&self, outcome: UserOutcome) -> usize {
        self.people
            .iter()
            .filter(|p| p.user.outcome == outcome)
            .count()
    }
}

impl Checked {
    fn new_ones(&self) -> impl Iterator<Item = &Person> {
        self.people
            .iter()
            .zip(&self.new)
            .filter(|(_, new)| **new)
            .map(|(p, _)| p)
    }

    /// New people the file gives no password: each needs one made.
    pub fn lacking_passwords(&self) -> usize {
        self.new_ones().filter(|p| p.password.is_none()).count()
    }

    /// Existing people the file gives a password: they keep theirs (the column is for new
    /// accounts only).
    pub fn kept_passwords(&self) -> usize {
        self.people
            .iter()
            .zip(&self.new)
            .filter(|(p, new)| !**new && p.password.is_some())
            .count()
    }

    /// Makes a first password for each new person the file gives none, and returns them
    /// (username, password) in file order: write or show them before importing, since nothing
    /// keeps them afterwards but their hashes.
    pub fn generate_passwords(&mut self) -> Vec<(String, SecretString)> {
        let mut made = Vec::new();
        for (p, new) in self.people.iter_mut().zip(&self.new) {
            if *new && p.password.is_none() {
                let secret = roster::generate_password();
                p.password = Some(secret.clone());
                made.push((p.username.clone(), secret));
            }
        }
        made
    }

    /// Hashes the new people's passwords and writes everyone in one transaction, telling
    /// `progress(step, done, total)` after each password and each person.
    pub async fn import(
        mut self,
        store: &Store,
        mut progress: impl FnMut(Step, usize, usize),
    ) -> Result<Imported, ServiceError> {
        let mut indexes = Vec::new();
        let mut secrets = Vec::new();
        for (i, (p, new)) in self.people.iter_mut().zip(&self.new).enumerate() {
            if let (true, Some(secret)) = (*new, p.password.take()) {
                indexes.push(i);
                secrets.push(secret);
            }
        }
        let mut hashes: HashMap<usize, String> = indexes
            .into_iter()
            .zip(hash_passwords(secrets, |done, total| progress(Step::Hashing, done, total)).await?)
            .collect();
        let users: Vec<ImportUser> = self
            .people
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
        let total = users.len();
        let summary = store
            .import_users(&users, &clock::iso(self.today), clock::now_ms(), |done| {
                progress(Step::Importing, done, total);
            })
            .await?;
        let people = self
            .people
            .into_iter()
            .zip(summary.users)
            .map(|(p, user)| ImportedPerson {
                division: p.assignments.first().map(|a| a.division.clone()),
                username: p.username,
                role: p.role,
                user,
            })
            .collect();
        Ok(Imported {
            people,
            assignments_added: summary.assignments_added,
            assignments_changed: summary.assignments_changed,
            assignments_unchanged: summary.assignments_unchanged,
            rejected: self.rejected,
            rows: self.rows,
        })
    }
}

/// Hashes passwords on blocking threads, as many at once as there are cores (argon2 is
/// deliberately slow: a few hundred users take seconds). Returns the hashes in order.
async fn hash_passwords(
    secrets: Vec<SecretString>,
    mut progress: impl FnMut(usize, usize),
) -> Result<Vec<String>, ServiceError> {
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
    let mut n = 0;
    while let Some((i, hash)) = done.recv().await {
        hashes[i] = Some(hash.map_err(ServiceError::internal)?);
        n += 1;
        progress(n, total);
    }
    for task in tasks {
        task.await.map_err(ServiceError::internal)?;
    }
    hashes
        .into_iter()
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| ServiceError::internal("a password hashing thread stopped early"))
}

/// The console's import, as its answer page shows it.
pub struct Report {
    pub imported: Imported,
    /// The first passwords made for the accounts this import created: shown once.
    pub passwords: Vec<(String, SecretString)>,
}

/// Imports a roster file uploaded to the console, within the caller's reach; every account
/// made or changed is audited.
pub async fn import_users(
    state: &AppState,
    caller: &Caller,
    bytes: Vec<u8>,
) -> Result<Report, ServiceError> {
    let reach = Reach::of(state, caller).await?;
    let text = text_of(bytes)?;
    let store = state.store();
    let mut checked = check(store, &text, &reach).await?;
    let mut passwords = checked.generate_passwords();
    let imported = checked.import(store, |_, _, _| {}).await?;
    let created: HashSet<&str> = imported
        .people
        .iter()
        .filter(|p| p.user.outcome == UserOutcome::Created)
        .map(|p| p.username.as_str())
        .collect();
    // Someone else may have made an account of the same name meanwhile: it keeps its password.
    passwords.retain(|(username, _)| created.contains(username.as_str()));
    let entries: Vec<_> = imported
        .people
        .iter()
        .filter_map(|p| {
            let id = p.user.id?;
            let reassigned = p.user.assignments_changed > 0;
            let (action, fields): (_, &[&str]) = match p.user.outcome {
                UserOutcome::Created => (
                    AuditAction::AccountCreated,
                    &["role", "display_name", "assignments"],
                ),
                UserOutcome::Updated if reassigned => (
                    AuditAction::AccountChanged,
                    &["role", "display_name", "assignments"],
                ),
                UserOutcome::Updated => (AuditAction::AccountChanged, &["role", "display_name"]),
                UserOutcome::Unchanged if reassigned => {
                    (AuditAction::AccountChanged, &["assignments"])
                }
                UserOutcome::Unchanged | UserOutcome::Skipped => return None,
            };
            Some(crate::service::audit::entry(
                caller,
                action,
                ("user", id),
                p.division.as_deref(),
                fields,
            ))
        })
        .collect();
    store.append_audit(&entries, clock::now_ms()).await?;
    Ok(Report {
        imported,
        passwords,
    })
}
