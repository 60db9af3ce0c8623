//! The `fieldsync` command line: `serve`, `migrate` and `admin …`. Every command reads the
//! same settings (`FIELDSYNC_DATA_DIR`, `FIELDSYNC_DATABASE_URL`, …), so `admin` works on the
//! database `serve` uses.
//!
//! This module holds the argument definitions and the dispatch; each group of commands lives in
//! the submodule named after what it manages, so one file answers "what does this command do".

mod areas;
mod audit;
mod backup;
mod collect;
mod devices;
mod export;
mod forms;
mod import;
mod import_roster;
mod openrosa;
mod progress;
mod seed;
mod serve;
mod staffing;
mod users;
mod work;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use fieldsync_protocol::Role;
use time::macros::format_description;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::app;
use crate::config::Settings;
use crate::store::Store;
use crate::{clock, roster, telemetry};

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
    /// Print the OpenAPI 3.1 document of the HTTP API (as `GET /v1/openapi.json` serves it).
    Openapi,
    /// Write every XForm served to ODK Collect (registry forms and the survey versions in use)
    /// into a directory, one file per form version.
    OpenrosaForms {
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
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
    /// Import or update households and their people from the office's spreadsheet (XLSX, XLS,
    /// or CSV in UTF-8 or GB18030), one row per person as the national monitoring system
    /// exports it. Matched on 户编号 and 人编号 (then the head's ID-card number), written through
    /// the sync pipeline as the account roster-import: a field a cadre changed on a phone
    /// meets a changed file value as a conflict for review. Safe to stop and run again.
    ImportRoster(import_roster::Request),
    /// List devices: id, user, first and last seen, app version, outbox depth, revoked.
    Devices {
        /// Only this user's devices.
        #[arg(long)]
        username: Option<String>,
    },
    /// Shut a device out (a lost or stolen phone): its next request is refused, it cannot
    /// log in, and its sessions end.
    RevokeDevice {
        #[arg(value_name = "DEVICE_ID", value_parser = devices::device_arg)]
        device: Uuid,
    },
    /// Let a revoked device log in again.
    UnrevokeDevice {
        #[arg(value_name = "DEVICE_ID", value_parser = devices::device_arg)]
        device: Uuid,
    },
    /// Give a phone to another user (a new cadre takes over a phone): the previous user's
    /// sessions on it end, and the new user may log in on it. Until then a login of anyone but
    /// its first user on a phone is refused (`device_taken`).
    HandOverDevice {
        #[arg(value_name = "DEVICE_ID", value_parser = devices::device_arg)]
        device: Uuid,
        /// The user who takes the phone over.
        #[arg(long, value_name = "USERNAME")]
        to: String,
    },
    /// Make an ODK Collect link for one phone: a key bound to the user on a new device, shown
    /// once as the phone's server URL and as Collect's settings QR code (in the terminal, and
    /// as a PNG with --qr). `revoke-device` with the device id printed ends it.
    CollectLink {
        /// The user the phone works as (its role must fill forms on a phone).
        #[arg(long)]
        username: String,
        /// The address phones reach the server at: http:// or https://, host, optional port.
        #[arg(long, value_name = "URL", value_parser = collect::server_arg)]
        url: collect::Server,
        /// Also write the QR code to this PNG file (readable by its owner only: it holds the key).
        #[arg(long, value_name = "FILE.png")]
        qr: Option<PathBuf>,
    },
    /// Put a farmer's own ID-card number on file, read from standard input (never an argument):
    /// a farmer's account reports only about the household that number belongs to.
    SetIdCard {
        #[arg(long)]
        username: String,
        /// Remove the number on file instead.
        #[arg(long)]
        remove: bool,
    },
    /// Shut a user out: no login, every session ends, their phones are refused.
    DisableUser { username: String },
    /// Let a disabled user log in again.
    EnableUser { username: String },
    /// The villages below a division whose resident team falls short of their class (A and B:
    /// a first secretary and at least 2 team members; C: a first secretary) on a day or on a
    /// later day their team changes (a term's end, a planned handover): when, and what is
    /// missing.
    Staffing {
        #[arg(long, value_name = "CODE")]
        division: String,
        /// The day judged; default today (Beijing time).
        #[arg(long, value_name = "YYYY-MM-DD", value_parser = date_arg)]
        on: Option<Date>,
        /// Also list every village with its class and team.
        #[arg(long)]
        all: bool,
    },
    /// Designate a village's class: A (a resettlement village) or D (a village of a B or C
    /// county that is not one of its out-of-poverty villages); `none` gives it its county's
    /// class again. Audited.
    SetVillageCategory {
        #[arg(value_name = "VILLAGE")]
        village: String,
        /// A, D or none.
        #[arg(value_name = "A|D|none")]
        category: String,
    },
    /// List who read or changed which record's personal data, oldest first: time (UTC+8),
    /// user, action, entity, record, household and field names (never values).
    Audit {
        /// Only entries of this household (the household record and its members).
        #[arg(long, value_name = "UUID", value_parser = audit::household_arg)]
        household: Option<Uuid>,
        /// Only this user's reads and writes.
        #[arg(long)]
        username: Option<String>,
        /// From this day on, 00:00 Beijing time.
        #[arg(long, value_name = "YYYY-MM-DD", value_parser = date_arg)]
        since: Option<Date>,
        /// Up to the end of this day, Beijing time.
        #[arg(long, value_name = "YYYY-MM-DD", value_parser = date_arg)]
        until: Option<Date>,
        /// At most this many entries, the oldest first.
        #[arg(long, value_name = "N", default_value_t = 1000)]
        #[arg(value_parser = clap::value_parser!(u32).range(1..))]
        limit: u32,
    },
    /// Publish a survey form version from a JSON file (phones download it on their next sync).
    PublishForm { file: PathBuf },
    /// Retire a form version: surveys captured on it from now on are refused.
    RetireForm {
        #[arg(long)]
        key: String,
        #[arg(long)]
        version: u32,
    },
    /// List form versions.
    Forms,
    /// Delete photos no record names once their grace period (`blobs.grace_days`) has passed,
    /// and chunked uploads abandoned for `blobs.unfinished_days`; `serve` does this hourly.
    CollectPhotos,
    /// Write the monthly attendance table of the cadres below a division (one row per cadre,
    /// one column per day) as CSV or XLSX.
    ExportAttendance {
        #[arg(long, value_name = "CODE")]
        division: String,
        /// YYYY-MM.
        #[arg(long)]
        month: String,
        /// csv or xlsx.
        #[arg(long)]
        format: crate::export::Format,
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Check a receipt a phone kept (a JSON file, or `-` for standard input; a push result
    /// holding a `receipt` works too) against this server's key, and show what it attests.
    VerifyReceipt { file: PathBuf },
    /// Export the households of a division with their current check status, as CSV or XLSX,
    /// with personal data disclosed as the given role would see it. Progress goes to stderr.
    ExportHouseholds {
        #[command(flatten)]
        to: export::Destination,
        /// Whose view of personal data to export (masking, hidden fields).
        #[arg(long, default_value = "county_officer")]
        role: Role,
    },
    /// Write the households and people of the villages below a division in the layout
    /// import-roster reads (one row per person, national numbers and fieldsync's ids), values in
    /// full for the county's office; every household written is audited. Imported again
    /// unchanged, the file changes nothing.
    ExportRoster(export::Destination),
    /// Set a village's area (centre and radius) for judging GPS fixes; without one, fixes are
    /// judged against the county's shape.
    SetVillageArea {
        #[arg(long = "village", value_name = "CODE")]
        village: String,
        #[arg(long)]
        lat: f64,
        #[arg(long)]
        lon: f64,
        #[arg(long = "radius-m")]
        radius_m: f64,
        /// The coordinate system of lat/lon: wgs84, gcj02 (Amap, Tencent) or bd09 (Baidu).
        #[arg(long, default_value = "wgs84", value_parser = areas::crs_arg)]
        crs: fieldsync_protocol::gps::Crs,
    },
    /// Show the task rules (the built-in ones, or a county's own with --county).
    TaskRules {
        #[arg(long, value_name = "COUNTY")]
        county: Option<String>,
    },
    /// Give a county its own task rules from a JSON file (the format of
    /// ops/task-rules.json), checked before they are stored; they apply from the next push.
    SetTaskRules {
        #[arg(long, value_name = "COUNTY")]
        county: String,
        file: PathBuf,
    },
    /// Drop a county's own task rules: the built-in ones apply again.
    ResetTaskRules {
        #[arg(long, value_name = "COUNTY")]
        county: String,
    },
    /// Copy the database and every stored object (photos, thumbnails) into a new directory;
    /// safe while the server runs. The data key is not copied: keep it apart.
    Backup {
        #[arg(long)]
        out: PathBuf,
    },
    /// Replace the configured database and put back the objects from a backup directory
    /// (stop the servers first; the data key must be the one the backup was made with).
    Restore {
        #[arg(long)]
        from: PathBuf,
    },
    /// Mark tasks still open after their due day as escalated to the township supervisor;
    /// `serve` does this every `monitoring.escalate_every_s`.
    EscalateTasks,
    /// The periodic jobs the servers share (escalation, photo collection): interval, runs,
    /// failures, the last error, when each is due next and which replica holds it.
    Jobs,
    /// Make a periodic job due now: the next server to look (within 15 s) runs it.
    RunJob { name: String },
    /// Replace the access-token signing key (after a leak, or on schedule). Restart every
    /// server afterwards; tokens the old key signed keep working until they run out (at most
    /// 15 minutes after the rotation), and phones then refresh onto the new key.
    RotateTokenKey,
    /// Fill a PostgreSQL measurement database with a region's worth of synthetic households,
    /// members and checks spread over every village (for `ops/load/run.py --region`). Refuses
    /// a database that already holds records unless given --add.
    SeedRegion(seed::Plan),
    /// Import village or township shapes from a GeoJSON FeatureCollection (Polygon or
    /// MultiPolygon features with the division code in `code`); the file's coordinate system
    /// must be given. A village's shape replaces its circle; all or nothing.
    ImportBoundaries {
        file: PathBuf,
        /// The coordinate system of the file: wgs84, gcj02 (Amap, Tencent) or bd09 (Baidu).
        #[arg(long, value_parser = areas::crs_arg)]
        crs: fieldsync_protocol::gps::Crs,
    },
}

pub async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if matches!(cli.command, Command::Openapi) {
        // Needs no settings: the document depends on the code only.
        println!("{}", crate::http::openapi::to_json());
        return Ok(());
    }
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
        Command::Serve => serve::serve(settings).await,
        Command::Migrate => serve::migrate(&settings).await,
        Command::Openapi => Ok(()),
        Command::OpenrosaForms { out } => {
            let store = app::open_store(&settings).await?;
            app::prepare(&store).await?;
            let result = openrosa::write_forms(&store, &out).await;
            store.close().await;
            result
        }
        // A restore replaces the database: nothing may hold it open.
        Command::Admin(Admin::Restore { from }) => backup::restore(&settings, &from).await,
        Command::Admin(cmd) => {
            let store = app::open_store(&settings).await?;
            app::prepare(&store).await?;
            let result = admin(&store, &settings, cmd).await;
            store.close().await;
            result
        }
    }
}

async fn export_attendance(
    store: &Store,
    division: &str,
    month: &str,
    format: crate::export::Format,
    out: &std::path::Path,
) -> anyhow::Result<()> {
    use crate::attendance;
    let Some(m) = attendance::parse_month(month) else {
        anyhow::bail!("--month is YYYY-MM");
    };
    let Some((first, last)) = attendance::month_bounds(m.0, m.1) else {
        anyhow::bail!("no such month {month}");
    };
    if store.division(division).await?.is_none() {
        anyhow::bail!("{division} is not a known division code");
    }
    let cadres = store
        .cadres_under(division, &clock::iso(first), &clock::iso(last))
        .await?;
    let rows = attendance::table::rows(store, &cadres, m).await?;
    let headers = attendance::table::headers(last.day());
    let bytes = attendance::table::file(format, &headers, &rows)?;

    std::fs::write(out, bytes)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", out.display()))?;
    println!(
        "{} cadres of {division} for {month} written to {}",
        rows.len(),
        out.display()
    );
    Ok(())
}

async fn verify_receipt(store: &Store, file: &std::path::Path) -> anyhow::Result<()> {
    use std::io::Read;
    let mut text = String::new();
    if file.as_os_str() == "-" {
        std::io::stdin().read_to_string(&mut text)?;
    } else {
        text = std::fs::read_to_string(file)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    }
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{} is not JSON: {e}", file.display()))?;
    let receipt_value = value.get("receipt").cloned().unwrap_or(value);
    let receipt: fieldsync_protocol::receipt::Receipt =
        serde_json::from_value(receipt_value).map_err(|e| anyhow::anyhow!("not a receipt: {e}"))?;
    let signer = crate::receipts::Signer::load(store).await?;
    let body = signer.verify(&receipt)?;
    println!(
        "valid receipt (key {}): {} {} version {} — mutation {}, device {}, user {}, received {} (UTC+8), fields sha256 {}",
        receipt.key_id,
        body.entity,
        body.record_id,
        body.version,
        body.mutation_id,
        body.device_id,
        body.user_id,
        local_time(body.received_at_ms),
        body.fields_sha256
    );
    Ok(())
}

/// `restore` is run before the store is opened (see `run`); reaching `admin` with it is a bug.
fn unreachable_restore() -> anyhow::Result<()> {
    anyhow::bail!("restore runs without an open database")
}

async fn collect_photos(store: &Store, settings: &Settings) -> anyhow::Result<()> {
    let blobs = crate::blobs::Blobs::open(
        store.clone(),
        &settings.blobs,
        &app::photo_dir(settings),
        &settings.data_dir,
    )?;
    let done = blobs.collect(crate::clock::now_ms()).await?;
    println!(
        "deleted {} unused photos and {} abandoned uploads ({} store)",
        done.photos,
        done.uploads,
        blobs.store().name()
    );
    Ok(())
}

async fn admin(store: &Store, settings: &Settings, cmd: Admin) -> anyhow::Result<()> {
    match cmd {
        Admin::CollectPhotos => collect_photos(store, settings).await?,
        Admin::Backup { out } => backup::backup(store, settings, &out).await?,
        Admin::Restore { .. } => unreachable_restore()?,
        Admin::TaskRules { county } => work::show(store, county.as_deref()).await?,
        Admin::SetTaskRules { county, file } => work::set(store, &county, &file).await?,
        Admin::ResetTaskRules { county } => work::reset(store, &county).await?,
        Admin::EscalateTasks => work::escalate_now(store).await?,
        Admin::Jobs => work::jobs(store).await?,
        Admin::RunJob { name } => work::run_job(store, &name).await?,
        Admin::RotateTokenKey => {
            store
                .rotate_secret(crate::app::TOKEN_KEY, clock::now_ms())
                .await?;
            println!(
                "a new token signing key is in force; restart every server now. Access tokens signed before keep working until they run out (at most {} s); refresh tokens are not affected",
                crate::auth::token::MAX_ACCESS_TTL_S
            );
        }
        Admin::SeedRegion(plan) => seed::seed(store, plan).await?,
        Admin::VerifyReceipt { file } => verify_receipt(store, &file).await?,
        Admin::ExportAttendance {
            division,
            month,
            format,
            out,
        } => export_attendance(store, &division, &month, format, &out).await?,
        Admin::ImportDivisions { file } => import::import_divisions(store, &file).await?,
        Admin::CreateUser {
            username,
            role,
            villages,
            display_name,
        } => users::create_user(store, username, role, &villages, display_name).await?,
        Admin::Assign {
            username,
            villages,
            from,
            until,
        } => users::assign(store, &username, &villages, from, until).await?,
        Admin::Users => users::list(store).await?,
        Admin::ImportUsers {
            file,
            passwords_out,
        } => import::import_users(store, &file, passwords_out.as_deref()).await?,
        Admin::ExportRoster(to) => export::export_roster(store, &to).await?,
        Admin::ImportRoster(request) => import_roster::run(store, settings, request).await?,
        Admin::Devices { username } => devices::devices(store, username.as_deref()).await?,
        Admin::RevokeDevice { device } => devices::revoke_device(store, device, true).await?,
        Admin::UnrevokeDevice { device } => devices::revoke_device(store, device, false).await?,
        Admin::HandOverDevice { device, to } => {
            devices::hand_over_device(store, device, &to).await?;
        }
        Admin::CollectLink { username, url, qr } => {
            let request = collect::Request {
                username: &username,
                server: &url,
                qr_png: qr.as_deref(),
            };
            collect::run(store, &request).await?;
        }
        Admin::SetIdCard { username, remove } => {
            users::set_id_card(store, &username, remove).await?;
        }
        Admin::DisableUser { username } => users::disable_user(store, &username, true).await?,
        Admin::EnableUser { username } => users::disable_user(store, &username, false).await?,
        Admin::Staffing { division, on, all } => {
            staffing::staffing(store, &division, on, all).await?;
        }
        Admin::SetVillageCategory { village, category } => {
            staffing::set_village_category(store, &village, &category).await?;
        }
        Admin::Audit {
            household,
            username,
            since,
            until,
            limit,
        } => {
            let query = audit::Query {
                household,
                username,
                since,
                until,
                limit,
            };
            audit::audit(store, &query).await?;
        }
        Admin::PublishForm { file } => forms::publish(store, &file).await?,
        Admin::RetireForm { key, version } => forms::retire(store, &key, version).await?,
        Admin::Forms => forms::list(store).await?,
        Admin::ExportHouseholds { to, role } => export::export_households(store, &to, role).await?,
        Admin::SetVillageArea {
            village,
            lat,
            lon,
            radius_m,
            crs,
        } => areas::set_circle(store, &village, lat, lon, radius_m, crs).await?,
        Admin::ImportBoundaries { file, crs } => {
            areas::import_boundaries(store, &file, crs).await?
        }
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
