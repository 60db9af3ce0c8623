//! The `fieldsync` command line: `serve`, `migrate` and `admin …`. Every command reads the
//! same settings (`FIELDSYNC_DATA_DIR`, `FIELDSYNC_DATABASE_URL`, …), so `admin` works on the
//! database `serve` uses.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use clap::{Parser, Subcommand};
use fieldsync_protocol::Role;
use secrecy::{ExposeSecret, SecretString};
use time::macros::format_description;
use time::{Date, OffsetDateTime};
use tokio::net::TcpListener;
use uuid::Uuid;

use crate::app::{self, AppState};
use crate::auth::password;
use crate::config::Settings;
use crate::roster::{self, Person, Rejected};
use crate::store::{ImportAssignment, ImportUser, NewUser, Store, StoreError, UserOutcome};
use crate::{clock, divisions, telemetry};

#[derive(Parser)]
#[command(
    name = "fieldsync",
    version,
    about = "Sync server for door-to-door household monitoring"
)]
pub struct Cli {
    /// TOML settings file (also FIELDSYNC_CONFIG). Environment variables override it.
    #[arg(long, global = true, env = "FIELDSYNC_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (applies migrations first).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Administrative tasks on the configured database.
    #[command(subcommand)]
    Admin(Admin),
}

#[derive(Subcommand)]
enum Admin {
    /// Import or update statistical division codes from a CSV file (code,name,level,parent_code).
    ImportDivisions { file: PathBuf },
    /// Create a user; the password is read from standard input.
    CreateUser {
        #[arg(long)]
        username: String,
        /// admin, county_officer, township_supervisor, first_secretary, team_member,
        /// grid_worker, hotline_operator or farmer.
        #[arg(long)]
        role: Role,
        /// A division code the user works in (village, township, county …); repeat for more.
        #[arg(long = "village", value_name = "CODE")]
        villages: Vec<String>,
        #[arg(long)]
        display_name: Option<String>,
    },
    /// Replace a user's assigned divisions from today (or --from) on; the user's other
    /// assignments end the day before.
    Assign {
        #[arg(long)]
        username: String,
        #[arg(long = "village", value_name = "CODE", required = true)]
        villages: Vec<String>,
        /// First day of the new assignment (Beijing time); default today. For a handover,
        /// give the new cadre --from and the old one --until.
        #[arg(long, value_name = "YYYY-MM-DD", value_parser = date_arg)]
        from: Option<Date>,
        /// Last day of the assignment (also of one already running); default open-ended.
        #[arg(long, value_name = "YYYY-MM-DD", value_parser = date_arg)]
        until: Option<Date>,
    },
    /// List users with their role and current assignments.
    Users,
    /// Create or update users and their assignments from a CSV file with the header
    /// username,role,display_name,divisions,starts_on,ends_on,password. Safe to run again:
    /// existing users keep their id and password, assignments are never duplicated.
    ImportUsers {
        file: PathBuf,
        /// File to append generated passwords to (username,password lines, mode 0600);
        /// needed when a new user has no password in the CSV.
        #[arg(long, value_name = "FILE")]
        passwords_out: Option<PathBuf>,
    },
    /// List devices: id, user, first and last seen, app version, outbox depth, revoked.
    Devices {
        /// Only this user's devices.
        #[arg(long)]
        username: Option<String>,
    },
    /// Shut a device out (a lost or stolen phone): its next request is refused, it cannot
    /// log in, and its sessions end.
    RevokeDevice {
        #[arg(value_name = "DEVICE_ID", value_parser = device_arg)]
        device: Uuid,
    },
    /// Let a revoked device log in again.
    UnrevokeDevice {
        #[arg(value_name = "DEVICE_ID", value_parser = device_arg)]
        device: Uuid,
    },
    /// Shut a user out: no login, every session ends, their phones are refused.
    DisableUser { username: String },
    /// Let a disabled user log in again.
    EnableUser { username: String },
}

pub async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let loaded = Settings::load(cli.config.as_deref())?;
    let settings = loaded.settings;
    if matches!(cli.command, Command::Serve) {
        telemetry::init(settings.log_format);
    }
    for w in &loaded.warnings {
        tracing::warn!("{w}");
        if !matches!(cli.command, Command::Serve) {
            eprintln!("warning: {w}");
        }
    }
    match cli.command {
        Command::Serve => serve(settings).await,
        Command::Migrate => {
            let store = app::open_store(&settings).await?;
            app::prepare(&store).await?;
            println!(
                "database {} is up to date",
                settings.database_url_redacted()
            );
            Ok(())
        }
        Command::Admin(cmd) => {
            let store = app::open_store(&settings).await?;
            app::prepare(&store).await?;
            let result = admin(&store, cmd).await;
            store.close().await;
            result
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let store = app::open_store(&settings).await?;
    let keys = app::prepare(&store).await?;
    let listener = TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    tracing::info!(
        listen = %listener.local_addr()?,
        database = %settings.database_url_redacted(),
        version = crate::http::SERVER_VERSION,
        "fieldsync serving"
    );
    let state = AppState::new(store.clone(), keys, settings);
    app::serve(listener, state, app::shutdown_signal()).await?;
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

async fn admin(store: &Store, cmd: Admin) -> anyhow::Result<()> {
    match cmd {
        Admin::ImportDivisions { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
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
        }
        Admin::CreateUser {
            username,
            role,
            villages,
            display_name,
        } => {
            roster::check_username(&username).map_err(anyhow::Error::msg)?;
            check_divisions(store, &villages).await?;
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
                    &villages,
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
        }
        Admin::Assign {
            username,
            villages,
            from,
            until,
        } => assign(store, &username, &villages, from, until).await?,
        Admin::Users => {
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
        }
        Admin::ImportUsers {
            file,
            passwords_out,
        } => import_users(store, &file, passwords_out.as_deref()).await?,
        Admin::Devices { username } => devices(store, username.as_deref()).await?,
        Admin::RevokeDevice { device } => revoke_device(store, device, true).await?,
        Admin::UnrevokeDevice { device } => revoke_device(store, device, false).await?,
        Admin::DisableUser { username } => disable_user(store, &username, true).await?,
        Admin::EnableUser { username } => disable_user(store, &username, false).await?,
    }
    Ok(())
}

async fn assign(
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

async fn import_users(
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

/// A text progress bar on standard error, `label [#####     ] 120/300`: redrawn in place on
/// a terminal, printed once when done elsewhere (a log file has no use for the steps).
struct Progress {
    label: &'static str,
    total: usize,
    drawn: usize,
    terminal: bool,
}

impl Progress {
    const WIDTH: usize = 30;

    fn new(label: &'static str, total: usize) -> Progress {
        Progress {
            label,
            total,
            drawn: 0,
            terminal: std::io::stderr().is_terminal(),
        }
    }

    fn update(&mut self, done: usize) {
        let step = (self.total / 200).max(1);
        if self.terminal && (done == self.total || done >= self.drawn + step) {
            self.draw(done);
        }
    }

    fn draw(&mut self, done: usize) {
        self.drawn = done;
        let filled = Self::WIDTH * done.min(self.total) / self.total.max(1);
        eprint!(
            "\r{} [{}{}] {done}/{}",
            self.label,
            "#".repeat(filled),
            " ".repeat(Self::WIDTH - filled),
            self.total
        );
        let _ = std::io::stderr().flush();
    }

    fn finish(mut self) {
        if self.total == 0 {
            return;
        }
        if !self.terminal || self.drawn != self.total {
            self.draw(self.total);
        }
        eprintln!();
    }
}

async fn devices(store: &Store, username: Option<&str>) -> anyhow::Result<()> {
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

async fn revoke_device(store: &Store, device: Uuid, revoke: bool) -> anyhow::Result<()> {
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

async fn disable_user(store: &Store, username: &str, disable: bool) -> anyhow::Result<()> {
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

/// A time stamp (milliseconds since the epoch) as local time in Ningxia, to the second.
fn local_time(ms: i64) -> String {
    let format = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.to_offset(clock::CHINA).format(format).ok())
        .unwrap_or_else(|| format!("{ms} ms"))
}

fn date_arg(text: &str) -> Result<Date, String> {
    roster::parse_date(text)
}

fn device_arg(text: &str) -> Result<Uuid, String> {
    Uuid::parse_str(text.trim()).map_err(|_| {
        format!(
            "{text:?} is not a device id; device ids look like 0193a0f0-0000-7000-8000-000000000001 \
             (`fieldsync admin devices` lists them)"
        )
    })
}
