//! The monthly attendance table of a township (or any division): the cadres of the caller's
//! villages below it, one row per cadre and village, one column per day, as a file. A
//! county's is a few hundred rows, made in memory on a blocking thread.

use fieldsync_protocol::ErrorCode;
use time::Month;

use super::{REVIEWERS, month_of, no_such_month};
use crate::attendance;
use crate::clock;
use crate::export::Format;
use crate::service::{Caller, ServiceError};
use crate::state::AppState;
use crate::store::CadreRow;

/// A file to download: its name, type and bytes.
pub struct TableFile {
    pub name: String,
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

/// The cadres below `division` whose attendance the caller reviews in `month`: one row per
/// cadre and village of the caller's.
pub async fn cadres_of(
    state: &AppState,
    caller: &Caller,
    division: &str,
    month: (i32, Month),
) -> Result<Vec<CadreRow>, ServiceError> {
    if !REVIEWERS.contains(&caller.role) {
        return Err(ServiceError::forbidden(
            ErrorCode::ForbiddenRole,
            "the attendance table is for team leaders and county officers",
        ));
    }
    if !(2..=12).contains(&division.len()) || !division.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ServiceError::invalid(
            ErrorCode::InvalidRequest,
            "division is a division code",
        )
        .at("division"));
    }
    let (first, last) = attendance::month_bounds(month.0, month.1).ok_or_else(no_such_month)?;
    let actor = caller.actor(state).await?;
    Ok(state
        .store()
        .cadres_under(division, &clock::iso(first), &clock::iso(last))
        .await?
        .into_iter()
        .filter(|c| actor.villages.contains(&c.division_code))
        .collect())
}

/// The table of `division` for `month` (`YYYY-MM`) as a CSV or XLSX file.
pub async fn table_file(
    state: &AppState,
    caller: &Caller,
    division: &str,
    month_asked: &str,
    format: Format,
) -> Result<TableFile, ServiceError> {
    let month = month_of(Some(month_asked))?;
    let cadres = cadres_of(state, caller, division, month).await?;
    let rows = attendance::table::rows(state.store(), &cadres, month).await?;
    let days = attendance::month_bounds(month.0, month.1)
        .ok_or_else(no_such_month)?
        .1
        .day();
    let headers = attendance::table::headers(days);
    let bytes =
        tokio::task::spawn_blocking(move || attendance::table::file(format, &headers, &rows))
            .await
            .map_err(ServiceError::internal)?
            .map_err(ServiceError::internal)?;
    Ok(TableFile {
        name: format!("attendance-{division}-{month_asked}.{}", format.extension()),
        content_type: format.content_type(),
        bytes,
    })
}
