//! The township's monthly attendance table (驻村干部考勤表), as the township office prints it:
//! one row per cadre, one column per day, the totals and the 20-day verdict.

use time::Month;

use super::{DayState, Sheet, load};
use crate::export::{Cell, Format};
use crate::store::{CadreRow, Store, StoreError};

/// The columns before the days, and after them.
const LEADING: [&str; 4] = [
    "村 (village)",
    "姓名 (name)",
    "账号 (username)",
    "职务 (role)",
];
const TRAILING: [&str; 7] = [
    "在村 (present)",
    "公出/培训 (exempt)",
    "请假 (leave)",
    "存疑 (doubtful)",
    "缺勤 (absent)",
    "达标 (≥20)",
    "审核 (review)",
];

/// The symbol of a day, as on the paper form.
fn symbol(state: DayState) -> &'static str {
    match state {
        DayState::Present => "√",
        DayState::Exempt => "公",
        DayState::Leave => "假",
        DayState::Doubtful => "?",
        DayState::Absent => "×",
        DayState::Future => "",
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("CSV: {0}")]
    Csv(#[from] ::csv::Error),
    #[error("XLSX: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
}

/// The table as a file in `format`, in memory: a county's table is a few hundred rows.
pub fn file(format: Format, headers: &[String], rows: &[Vec<Cell>]) -> Result<Vec<u8>, FileError> {
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    let rows = rows.iter().map(Vec::as_slice);
    Ok(match format {
        Format::Csv => {
            let mut bytes = crate::export::csv_header(&headers)?;
            bytes.extend(crate::export::csv_cells(rows)?);
            bytes
        }
        Format::Xlsx => {
            // Day columns narrow, the village code wide enough to read.
            let mut sheet =
                crate::export::Sheet::with_headers("考勤", &headers, |h| match h.len() {
                    0..=2 => Some(3.5),
                    _ if h.starts_with("村") => Some(14.0),
                    _ => None,
                })?;
            sheet.write_cells(rows)?;
            let mut bytes = Vec::new();
            sheet.save(&mut bytes)?;
            bytes
        }
    })
}

pub fn headers(days: u8) -> Vec<String> {
    LEADING
        .iter()
        .map(|h| (*h).to_owned())
        .chain((1..=days).map(|d| d.to_string()))
        .chain(TRAILING.iter().map(|h| (*h).to_owned()))
        .collect()
}

/// The rows of the cadres in `cadres` (from `Store::cadres_under`), one per cadre and village;
/// the sheets are read for all of them at once (a county's 900 in a handful of queries).
pub async fn rows(
    store: &Store,
    cadres: &[CadreRow],
    month: (i32, Month),
) -> Result<Vec<Vec<Cell>>, StoreError> {
    let sheets = load::sheets(store, cadres, month).await?;
    Ok(cadres
        .iter()
        .filter_map(|cadre| {
            let s = sheets.get(&cadre.user_id)?;
            Some(row(cadre, &s.sheet, s.review_state()))
        })
        .collect())
}

fn row(cadre: &CadreRow, sheet: &Sheet, review: &str) -> Vec<Cell> {
    let text = |s: &str| Cell::Text(s.to_owned());
    let mut cells = vec![
        text(&cadre.division_code),
        text(cadre.display_name.as_deref().unwrap_or(&cadre.username)),
        text(&cadre.username),
        text(&cadre.role),
    ];
    cells.extend(sheet.days.iter().map(|d| text(symbol(d.state))));
    cells.extend(
        [
            sheet.present,
            sheet.exempt,
            sheet.leave,
            sheet.doubtful,
            sheet.absent,
        ]
        .map(|n| Cell::Number(f64::from(n))),
    );
    cells.push(text(if sheet.meets_requirement {
        "是"
    } else {
        "否"
    }));
    cells.push(text(match review {
        "approved" => "已审核",
        "returned" => "退回",
        "answered" => "已答复",
        _ => "待审核",
    }));
    cells
}
