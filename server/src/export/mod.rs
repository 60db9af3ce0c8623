//! The export of households with their current check status, for county officials: one row
//! per household, as CSV or XLSX, over the villages asked for, with personal data disclosed as
//! the reader's role allows.
//!
//! Memory stays flat however many households there are: [`Households`] reads them a page at a
//! time (the store's keyset read), each page becomes rows and is written out before the next
//! is read. The XLSX writer keeps one row in memory (`rust_xlsxwriter`'s constant-memory mode,
//! with the sheet in a temporary file). Every page is entered in the audit log, one entry per
//! household naming the personal fields it shows, before its rows are handed to a writer.
//!
//! Used by `GET /v1/export/households.{csv,xlsx}` and `fieldsync admin export-households`.

mod csv;
pub mod roster;
mod row;
mod xlsx;

use std::collections::HashMap;
use std::io::Write;
use std::str::FromStr;

use fieldsync_protocol::Role;
use fieldsync_protocol::registry::{HOUSEHOLD, MEMBER};
use uuid::Uuid;

use crate::access::{self, Action};
use crate::clock;
use crate::store::{
    AuditAction, AuditEntry, ExportCheck, HouseholdCursor, Store, StoreError, VillageLabel,
};

pub use self::csv::{csv_cells, csv_header, csv_preamble, csv_rows};
pub use self::row::{Cell, HEADERS, Row};
pub use self::xlsx::Sheet;

/// Households read (and written, and audited) at a time.
pub const PAGE: usize = 1000;

/// The user id audit entries carry for an export run at the server's console, where nobody
/// logs in.
pub const CONSOLE: Uuid = Uuid::nil();

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "csv" => Ok(Format::Csv),
            "xlsx" => Ok(Format::Xlsx),
            other => Err(format!("unknown format {other:?}: csv or xlsx")),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("CSV: {0}")]
    Csv(#[from] ::csv::Error),
    #[error("XLSX: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
    #[error("writing the export: {0}")]
    Io(#[from] std::io::Error),
}

/// Who receives the exported rows, for the audit log.
#[derive(Clone, Copy, Debug)]
pub struct Reader {
    pub user_id: Uuid,
    pub device_id: Option<Uuid>,
}

/// The households of a set of villages as rows, a page at a time, each page audited.
pub struct Households {
    store: Store,
    role: Role,
    reader: Reader,
    villages: Vec<String>,
    labels: HashMap<String, VillageLabel>,
    cursor: HouseholdCursor,
}

impl Households {
    /// The households of `villages` (in that order), as `role` may see them, delivered to
    /// `reader`. The caller has checked that the role reads households.
    pub async fn open(
        store: Store,
        villages: Vec<String>,
        role: Role,
        reader: Reader,
    ) -> Result<Households, StoreError> {
        let labels = store
            .village_labels(&villages)
            .await?
            .into_iter()
            .map(|l| (l.code.clone(), l))
            .collect();
        Ok(Households {
            store,
            role,
            reader,
            villages,
            labels,
            cursor: HouseholdCursor::default(),
        })
    }

    /// How many households the export will hold (barring concurrent changes).
    pub async fn count(&self) -> Result<u64, StoreError> {
        self.store.count_households(&self.villages).await
    }

    /// The next page of rows, already in the audit log; `None` at the end.
    pub async fn next_page(&mut self) -> Result<Option<Vec<Row>>, StoreError> {
        let households = self
            .store
            .households_page(&self.villages, &mut self.cursor, PAGE)
            .await?;
        if households.is_empty() {
            return Ok(None);
        }
        let ids: Vec<Uuid> = households.iter().map(|h| h.id).collect();
        let checks = self.store.check_records(&ids).await?;
        let people = if access::allowed(self.role, MEMBER.name, Action::Read) {
            self.store.member_records(&ids).await?
        } else {
            Vec::new()
        };
        let mut members: HashMap<Uuid, Vec<&ExportCheck>> = HashMap::new();
        for m in &people {
            members.entry(m.household_id).or_default().push(m);
        }
        let mut of: HashMap<Uuid, Vec<&ExportCheck>> = HashMap::new();
        for c in checks
            .iter()
            .filter(|c| access::allowed(self.role, &c.entity, Action::Read))
        {
            of.entry(c.household_id).or_default().push(c);
        }
        let rows: Vec<Row> = households
            .into_iter()
            .map(|h| {
                let checks = of.remove(&h.id).unwrap_or_default();
                let people = members.remove(&h.id).unwrap_or_default();
                let label = self.labels.get(&h.scope);
                row::build(self.role, h, &checks, &people, label)
            })
            .collect();
        let audit: Vec<AuditEntry> = rows
            .iter()
            .filter(|r| !r.disclosed.is_empty())
            .map(|r| AuditEntry {
                user_id: self.reader.user_id,
                device_id: self.reader.device_id,
                action: AuditAction::Read,
                entity: HOUSEHOLD.name,
                record_id: r.household_id,
                household_id: Some(r.household_id),
                scope: Some(r.village.clone()),
                fields: r.disclosed.clone(),
            })
            .collect();
        self.store.append_audit(&audit, clock::now_ms()).await?;
        Ok(Some(rows))
    }
}

/// Writes the whole export as CSV to `out`; `progress` hears the households written so far.
/// Returns how many were written.
pub async fn write_csv(
    households: &mut Households,
    mut out: impl Write,
    mut progress: impl FnMut(u64),
) -> Result<u64, ExportError> {
    out.write_all(&csv_preamble()?)?;
    let mut done = 0;
    while let Some(rows) = households.next_page().await? {
        out.write_all(&csv_rows(&rows)?)?;
        done += rows.len() as u64;
        progress(done);
    }
    out.flush()?;
    Ok(done)
}

/// Writes the whole export as XLSX to `out`. Blocking (the workbook is written synchronously):
/// run it on a blocking thread; `runtime` runs the page reads. Returns how many households
/// were written.
pub fn write_xlsx(
    households: &mut Households,
    runtime: &tokio::runtime::Handle,
    out: impl Write + Send,
    mut progress: impl FnMut(u64),
) -> Result<u64, ExportError> {
    let mut sheet = Sheet::new()?;
    let mut done = 0;
    while let Some(rows) = runtime.block_on(households.next_page())? {
        sheet.write(&rows)?;
        done += rows.len() as u64;
        progress(done);
    }
    sheet.save(out)?;
    Ok(done)
}
