//! The `fieldsync` command line: `serve`, `migrate` and `admin …`. Every command reads the
//! same settings (`FIELDSYNC_DATA_DIR`, `FIELDSYNC_DATABASE_URL`, …), so `admin` works on the
//! database `serve` uses.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use fieldsync_protocol::Role;
use tokio::net::TcpListener;
use uuid::Uuid;

use crate::app::{self, AppState};
use crate::auth::password;
use crate::config::Settings;
use crate::store::{NewUser, Store, StoreError};
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
    /// Replace a user's assigned divisions from today on.
    Assign {
        #[arg(long)]
        username: String,
        #[arg(long = "village", value_name = "CODE", required = true)]
        villages: Vec<String>,
    },
    /// List users with their role and current assignments.
    Users,
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
            check_username(&username)?;
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
        Admin::Assign { username, villages } => {
            check_divisions(store, &villages).await?;
            let user = store
                .user_by_username(&username)
                .await?
                .with_context(|| format!("no user named {username:?}"))?;
            let today = clock::today();
            store
                .set_assignments(
                    user.id,
                    &villages,
                    &clock::iso(today),
                    &clock::iso(clock::yesterday_of(today)),
                )
                .await?;
            let n = store
                .user_villages(user.id, &clock::iso(today))
                .await?
                .len();
            println!(
                "{username} now works in {} ({n} villages)",
                villages.join(", ")
            );
        }
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
    }
    Ok(())
}

fn check_username(name: &str) -> anyhow::Result<()> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        bail!("a username has 1 to 64 letters, digits, '.', '_' or '-'");
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
