//! `admin import-roster`: a county's households and people from the office's spreadsheet
//! (`crate::sheets` reads it, `service::roster` imports it). A dry run prints what would
//! happen per village; the real run prints the same and writes every row's outcome as CSV.
//! The import writes as the service account `roster-import` from a device of its own, so the
//! audit and the phones see whose edits these are.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use fieldsync_protocol::Role;
use rand::RngCore;
use uuid::Uuid;

use super::progress::Progress;
use crate::auth::password;
use crate::config::Settings;
use crate::service::roster::Import;
use crate::service::roster::places::Places;
use crate::service::roster::report::Report;
use crate::sheets;
use crate::store::{NewUser, Store, StoreError};
use crate::sync::Actor;
use crate::{clock, service};

/// The account imports from the command line write as.
pub(super) const ACCOUNT: &str = "roster-import";

/// What `admin import-roster` was asked.
#[derive(clap::Args)]
pub(super) struct Request {
    /// The office's file: XLSX, XLS or CSV (UTF-8 or GB18030/GBK).
    file: PathBuf,
    /// The county's own header names and value words (TOML or JSON), where its sheet differs
    /// from the national system's export.
    #[arg(long, value_name = "FILE")]
    mapping: Option<PathBuf>,
    /// Only villages of this division (a county's 6-digit code, or any other) may be written;
    /// rows of other villages are bad rows.
    #[arg(long, value_name = "CODE")]
    county: Option<String>,
    /// Report what would happen, write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Where to write the report CSV (default: beside the file, `NAME.import-report.csv`, or
    /// `NAME.dry-run-report.csv`).
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
}

pub(super) async fn run(store: &Store, settings: &Settings, req: Request) -> anyhow::Result<()> {
    let bytes =
        std::fs::read(&req.file).with_context(|| format!("cannot read {}", req.file.display()))?;
    let name = req.file.display().to_string();
    let mapping = match &req.mapping {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            Some(sheets::Mapping::parse(&text, &path.display().to_string())?)
        }
        None => None,
    };
    let roster = sheets::read(&bytes, &name, mapping.as_ref())
        .with_context(|| format!("{name} is not a roster this command reads"))?;
    drop(bytes);
    let within = req.county.as_deref().unwrap_or("");
    if !within.is_empty() && store.division(within).await?.is_none() {
        bail!("no division {within} in the division list (admin import-divisions loads it)");
    }
    let divisions = store.divisions_under(within).await?;
    let places = Places::new(&divisions, req.county.as_deref());
    let villages: BTreeSet<String> = divisions
        .into_iter()
        .filter(|d| d.level == "village")
        .map(|d| d.code)
        .collect();
    if villages.is_empty() {
        bail!("no villages in the division list; load it first with admin import-divisions");
    }
    let now = clock::now_ms();
    let user_id = account(store, now).await?;
    let actor = Actor {
        user_id,
        device_id: store.import_device(user_id, now).await?,
        role: Role::Admin,
        villages,
    };
    let rules = service::push::rules_of(settings, now);
    let import = Import {
        store,
        actor: &actor,
        rules: &rules,
        dry_run: req.dry_run,
    };
    let mut bar: Option<Progress> = None;
    let report = import
        .run(&roster, &places, &mut |done, total| {
            bar.get_or_insert_with(|| Progress::new("households", total))
                .update(done);
        })
        .await?;
    if let Some(bar) = bar {
        bar.finish();
    }
    print(&report, &name);
    let out = req
        .report
        .unwrap_or_else(|| default_report_path(&req.file, req.dry_run));
    std::fs::write(&out, report.to_csv()?)
        .with_context(|| format!("cannot write the report to {}", out.display()))?;
    println!("every row's outcome: {}", out.display());
    Ok(())
}

fn default_report_path(file: &Path, dry_run: bool) -> PathBuf {
    let stem = file
        .file_stem()
        .map_or_else(|| "roster".into(), |s| s.to_string_lossy().into_owned());
    let kind = if dry_run {
        "dry-run-report"
    } else {
        "import-report"
    };
    file.with_file_name(format!("{stem}.{kind}.csv"))
}

/// The service account, made on first use with a password no one knows: it signs in nowhere,
/// it only stands for the imports in the audit and on the records.
async fn account(store: &Store, now_ms: i64) -> anyhow::Result<Uuid> {
    if let Some(u) = store.user_by_username(ACCOUNT).await? {
        return Ok(u.id);
    }
    let mut secret = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut secret);
    let secret = crate::hex::hex(&secret);
    let hash = tokio::task::spawn_blocking(move || password::hash(&secret)).await??;
    let user = NewUser {
        id: Uuid::now_v7(),
        username: ACCOUNT.to_owned(),
        password_hash: hash,
        role: Role::Admin,
        display_name: Some("户籍导入 (roster import)".to_owned()),
    };
    match store
        .create_user(&user, &[], &clock::iso(clock::today()), now_ms)
        .await
    {
        // Another import made it meanwhile.
        Err(StoreError::Duplicate(_)) => {}
        other => other?,
    }
    match store.user_by_username(ACCOUNT).await? {
        Some(u) => Ok(u.id),
        None => bail!("the {ACCOUNT} account could not be made"),
    }
}

fn print(report: &Report, name: &str) {
    let verb = if report.dry_run { "would be" } else { "were" };
    if let Some(enc) = report.encoding {
        println!("{name}: CSV read as {enc}");
    }
    println!("{} person rows read", report.rows_read);
    if !report.unknown_columns.is_empty() {
        println!(
            "columns not imported (not known; a --mapping file can name them): {}",
            report.unknown_columns.join(", ")
        );
    }
    for (line, why) in &report.skipped {
        println!("line {line} skipped: {why}");
    }
    println!(
        "{:<12}  {:>21}  {:>21}  {:>9}  {:>8}  {:>11}",
        "village",
        "households new/chg/=",
        "people new/chg/=",
        "conflicts",
        "bad rows",
        "not in file"
    );
    let row = |v: &str, c: &service::roster::report::Counts| {
        println!(
            "{:<12}  {:>21}  {:>21}  {:>9}  {:>8}  {:>11}",
            if v.is_empty() { "(unknown)" } else { v },
            format!(
                "{}/{}/{}",
                c.households[0], c.households[1], c.households[2]
            ),
            format!("{}/{}/{}", c.people[0], c.people[1], c.people[2]),
            c.conflicts,
            c.bad,
            c.missing
        );
    };
    for (v, c) in report.by_village() {
        row(v, &c);
    }
    row("all", &report.totals());
    const SHOWN: usize = 30;
    for l in report.problems().take(SHOWN) {
        let what = l.outcome.as_str(report.dry_run);
        let fields = if l.fields.is_empty() {
            String::new()
        } else {
            format!(" [{}]", l.fields.join(", "))
        };
        println!("line {:>6} {what}{fields} {}", l.line, l.reason);
    }
    let count = report.problem_count();
    if count > SHOWN {
        println!("… and {} more in the report", count - SHOWN);
    }
    let t = report.totals();
    println!(
        "{} households and {} people {verb} created, {} and {} changed ({} with conflicts kept for review), {} bad rows",
        t.households[0], t.people[0], t.households[1], t.people[1], t.conflicts, t.bad
    );
}
