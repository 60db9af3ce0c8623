//! Imports started from the console: a county officer uploads the office's file, its dry run
//! starts at once, the officer reads the report and confirms, the import runs. A run goes on
//! in the background of the replica that took the request; its state, progress and report
//! live in the database (`roster_imports`), so any replica's page shows them, and a run whose
//! replica stopped shows as stalled and can be started again (an import is safe to repeat).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use fieldsync_protocol::Role;
use fieldsync_protocol::error::ErrorCode;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Import;
use super::places::Places;
use super::report::{Counts, Line, Report};
use crate::service::{Caller, ServiceError};
use crate::sheets;
use crate::state::AppState;
use crate::store::{Division, RosterImport};
use crate::{clock, service};

/// The largest file the console takes: a county's roster of 100,000 households is ~25 MB as
/// XLSX and ~60 MB as CSV.
pub const MAX_FILE_BYTES: usize = 100 * 1024 * 1024;

/// Problems kept for the page; all of them are in the CSV report.
const PROBLEMS_SHOWN: usize = 500;

/// A run that has not said it is alive for this long stopped with its replica.
const STALLED_MS: i64 = 60_000;

/// Uploads nobody imported are dropped after this long (their files hold personal data).
const KEEP_UNIMPORTED_MS: i64 = 7 * 86_400_000;

/// What a run found, for the page (the CSV report has every row).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Summary {
    pub dry_run: bool,
    pub encoding: Option<String>,
    pub rows_read: usize,
    pub unknown_columns: Vec<String>,
    pub skipped: Vec<(usize, String)>,
    pub villages: Vec<(String, Counts)>,
    pub totals: Counts,
    pub problems: Vec<Line>,
    pub problem_count: usize,
}

impl Summary {
    fn of(report: &Report) -> Summary {
        Summary {
            dry_run: report.dry_run,
            encoding: report.encoding.map(str::to_owned),
            rows_read: report.rows_read,
            unknown_columns: report.unknown_columns.clone(),
            skipped: report.skipped.clone(),
            villages: report
                .by_village()
                .into_iter()
                .map(|(v, c)| (v.to_owned(), c))
                .collect(),
            totals: report.totals(),
            problem_count: report.problem_count(),
            problems: report.problems().take(PROBLEMS_SHOWN).collect(),
        }
    }
}

/// An import as its page shows it.
#[derive(Clone, Debug)]
pub struct RunView {
    pub id: Uuid,
    pub file_name: String,
    pub state: String,
    /// A run whose replica stopped: start it again.
    pub stalled: bool,
    pub done: i64,
    pub total: i64,
    pub summary: Option<Summary>,
    pub error: Option<String>,
    pub created_at: i64,
}

impl RunView {
    fn of(row: RosterImport, now_ms: i64) -> RunView {
        let running = matches!(row.state.as_str(), "checking" | "importing");
        RunView {
            id: row.id,
            file_name: row.file_name,
            stalled: running && now_ms - row.updated_at > STALLED_MS,
            state: row.state,
            done: row.done,
            total: row.total,
            summary: row.summary.and_then(|s| serde_json::from_value(s.0).ok()),
            error: row.error,
            created_at: row.created_at,
        }
    }

    pub fn running(&self) -> bool {
        !self.stalled && matches!(self.state.as_str(), "checking" | "importing")
    }

    /// Whether the import may be started (again): after a dry run, a failure or a stall.
    pub fn can_import(&self) -> bool {
        matches!(self.state.as_str(), "checked" | "failed") || self.stalled
    }
}

/// Who may import: a county officer (within the county) or an administrator.
fn may_import(caller: &Caller) -> Result<(), ServiceError> {
    match caller.role {
        Role::CountyOfficer | Role::Admin => Ok(()),
        _ => Err(ServiceError::forbidden(
            ErrorCode::ForbiddenRole,
            "only a county officer or an administrator imports rosters",
        )),
    }
}

/// Takes an uploaded file: checks that it reads as a roster (a file that does not is refused
/// at once, with the reason), keeps it sealed, and starts its dry run.
pub async fn upload(
    state: &AppState,
    caller: &Caller,
    file_name: &str,
    file: Vec<u8>,
    mapping: Option<Vec<u8>>,
) -> Result<Uuid, ServiceError> {
    may_import(caller)?;
    if file.is_empty() {
        return Err(
            ServiceError::invalid(ErrorCode::InvalidRequest, "the file is empty").at("file"),
        );
    }
    read(file_name, &file, mapping.as_deref())?;
    let now = clock::now_ms();
    let store = state.store();
    store
        .drop_stale_roster_files(now, KEEP_UNIMPORTED_MS)
        .await?;
    let id = Uuid::now_v7();
    store
        .add_roster_import(
            id,
            caller.user_id,
            file_name,
            &file,
            mapping.as_deref(),
            now,
        )
        .await?;
    spawn(state, caller, id, file_name, true);
    Ok(id)
}

fn read(
    file_name: &str,
    file: &[u8],
    mapping: Option<&[u8]>,
) -> Result<sheets::Roster, ServiceError> {
    let invalid = |at: &str, e: String| ServiceError::invalid(ErrorCode::InvalidValue, e).at(at);
    let mapping = match mapping {
        Some(bytes) => {
            let text = std::str::from_utf8(bytes)
                .map_err(|_| invalid("mapping", "the mapping file is not UTF-8 text".into()))?;
            Some(
                sheets::Mapping::parse(text, "mapping")
                    .map_err(|e| invalid("mapping", e.to_string()))?,
            )
        }
        None => None,
    };
    sheets::read(file, file_name, mapping.as_ref()).map_err(|e| invalid("file", e.to_string()))
}

/// Starts the import of a checked file.
pub async fn start(state: &AppState, caller: &Caller, id: Uuid) -> Result<(), ServiceError> {
    let run = view(state, caller, id).await?;
    if !run.can_import() {
        return Err(ServiceError::conflict(match run.state.as_str() {
            "imported" => "this file has been imported; upload it again to import it again",
            _ => "this file is still being checked or imported",
        }));
    }
    let from: &[&str] = if run.stalled {
        &["checking", "importing"]
    } else {
        &["checked", "failed"]
    };
    let moved = state
        .store()
        .set_roster_import_state(id, from, "importing", clock::now_ms())
        .await?;
    if !moved {
        return Err(ServiceError::conflict(
            "the import has already been started",
        ));
    }
    spawn(state, caller, id, &run.file_name, false);
    Ok(())
}

/// One of the caller's imports.
pub async fn view(state: &AppState, caller: &Caller, id: Uuid) -> Result<RunView, ServiceError> {
    may_import(caller)?;
    match state.store().roster_import(id).await? {
        // Another user's import is as absent as one that never was.
        Some(row) if row.user_id == caller.user_id => Ok(RunView::of(row, clock::now_ms())),
        _ => Err(ServiceError::not_found("no such import")),
    }
}

/// The caller's imports, newest first.
pub async fn list(state: &AppState, caller: &Caller) -> Result<Vec<RunView>, ServiceError> {
    may_import(caller)?;
    let now = clock::now_ms();
    Ok(state
        .store()
        .roster_imports_of(caller.user_id, 20)
        .await?
        .into_iter()
        .map(|r| RunView::of(r, now))
        .collect())
}

/// The last run's report as CSV.
pub async fn report_csv(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
) -> Result<Vec<u8>, ServiceError> {
    view(state, caller, id).await?;
    state
        .store()
        .roster_import_report(id)
        .await?
        .ok_or_else(|| ServiceError::not_found("the report is not ready yet"))
}

fn spawn(state: &AppState, caller: &Caller, id: Uuid, file_name: &str, dry_run: bool) {
    let (state, caller, name) = (state.clone(), caller.clone(), file_name.to_owned());
    tokio::spawn(async move {
        let (next, report, error) = match run(&state, &caller, id, &name, dry_run).await {
            Ok(report) => {
                let next = if dry_run { "checked" } else { "imported" };
                (next, Some(report), None)
            }
            Err(e) => {
                tracing::warn!(import = %id, error = %e, "a roster import failed");
                ("failed", None, Some(e.to_string()))
            }
        };
        let summary = report
            .as_ref()
            .and_then(|r| serde_json::to_value(Summary::of(r)).ok());
        let csv = report.as_ref().and_then(|r| r.to_csv().ok());
        let finished = state
            .store()
            .finish_roster_import(
                id,
                next,
                summary.as_ref(),
                csv.as_deref(),
                error.as_deref(),
                clock::now_ms(),
            )
            .await;
        if let Err(e) = finished {
            tracing::warn!(import = %id, error = %e, "a roster import's end was not recorded");
        }
    });
}

/// The divisions below the caller's assignments, for matching names and bounding writes; an
/// administrator assigned nowhere imports anywhere (as `admin import-roster` does).
async fn divisions(state: &AppState, caller: &Caller) -> Result<Vec<Division>, ServiceError> {
    let store = state.store();
    let mut codes = store
        .user_assignments(caller.user_id, &clock::iso(clock::today()))
        .await?;
    if codes.is_empty() && caller.role == Role::Admin {
        codes.push(String::new());
    }
    let mut all = Vec::new();
    for code in codes {
        all.extend(store.divisions_under(&code).await?);
    }
    all.sort_by(|a, b| a.code.cmp(&b.code));
    all.dedup_by(|a, b| a.code == b.code);
    Ok(all)
}

async fn run(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
    name: &str,
    dry_run: bool,
) -> Result<Report, ServiceError> {
    let store = state.store();
    let (file, mapping) = store.roster_import_file(id).await?.ok_or_else(|| {
        ServiceError::conflict("the uploaded file is no longer kept; upload it again")
    })?;
    let roster = read(name, &file, mapping.as_deref())?;
    drop(file);
    let divisions = divisions(state, caller).await?;
    let places = Places::new(&divisions, None);
    let now = clock::now_ms();
    let mut actor = caller.actor(state).await?;
    // The import writes from a device of its own, not the officer's browser sign-in.
    actor.device_id = store.import_device(caller.user_id, now).await?;
    if actor.villages.is_empty() && caller.role == Role::Admin {
        actor.villages = divisions
            .iter()
            .filter(|d| d.level == "village")
            .map(|d| d.code.clone())
            .collect();
    }
    let rules = service::push::rules(state, now);
    let import = Import {
        store,
        actor: &actor,
        rules: &rules,
        dry_run,
    };
    // Progress goes to the database once a second from a ticker, not from every household.
    let done = Arc::new(AtomicUsize::new(0));
    let total = Arc::new(AtomicUsize::new(0));
    let ticker = {
        let (store, done, total) = (store.clone(), done.clone(), total.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let as_i64 =
                    |a: &AtomicUsize| i64::try_from(a.load(Ordering::Relaxed)).unwrap_or(i64::MAX);
                let _ = store
                    .roster_import_progress(id, as_i64(&done), as_i64(&total), clock::now_ms())
                    .await;
            }
        })
    };
    let report = import
        .run(&roster, &places, &mut |d, t| {
            done.store(d, Ordering::Relaxed);
            total.store(t, Ordering::Relaxed);
        })
        .await;
    ticker.abort();
    report
}
