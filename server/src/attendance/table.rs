//! The township's monthly attendance table (驻村干部考勤表), as the township office prints it:
//! one row per cadre, one column per day, the totals and the 20-day verdict.

use time::Month;

use super::{DayState, Sheet, load};
use crate::export::Cell;
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

pub fn headers(days: u8) -> Vec<String> {
    LEADING
        .iter()
        .map(|h| (*h).to_owned())
        .chain((1..=days).map(|d| d.to_string()))
        .chain(TRAILING.iter().map(|h| (*h).to_owned()))
        .collect()
}

/// The rows of the cadres in `cadres` (from `Store::cadres_under`), one per cadre and village.
pub async fn rows(
    store: &Store,
    cadres: &[CadreRow],
    month: (i32, Month),
) -> Result<Vec<Vec<Cell>>, StoreError> {
    let month_text = format!("{:04}-{:02}", month.0, u8::from(month.1));
    let mut out = Vec::with_capacity(cadres.len());
    for cadre in cadres {
        let spans = load::spans(store, cadre.user_id, month).await?;
        let reviews = store.reviews(cadre.user_id, &month_text).await?;
        let Some(sheet) = load::sheet(store, cadre.user_id, month, &spans, &reviews).await? else {
            continue;
        };
        let state = reviews
            .iter()
            .rev()
            .find(|r| matches!(r.action.as_str(), "approve" | "return" | "reply"))
            .map_or("open", |r| r.action.as_str());
        out.push(row(cadre, &sheet, state));
    }
    Ok(out)
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
        "approve" => "已审核",
        "return" => "退回",
        "reply" => "已答复",
        _ => "待审核",
    }));
    cells
}
