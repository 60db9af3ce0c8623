//! The households of the caller's villages, or of the part of them below one division, opened
//! for export with their current check status and personal data as the caller's role may see
//! it: the API's CSV and XLSX downloads, and the office console's to come. Each front end only
//! decides how the rows travel (see `crate::export` for the reading and the file formats).

use fieldsync_protocol::ErrorCode;
use fieldsync_protocol::registry::HOUSEHOLD;

use super::{Caller, ServiceError};
use crate::access::{self, Action};
use crate::clock;
use crate::export::{ExportError, Households, Reader};
use crate::state::AppState;

/// An export ready to be read page by page, and the file name it goes by (without extension).
pub struct Opened {
    pub households: Households,
    pub name: String,
}

/// Checks the caller may export households, works out the villages (the caller's, or those of
/// them below `division`, a code of any level) and opens the paged read.
pub async fn households(
    state: &AppState,
    caller: &Caller,
    division: Option<&str>,
) -> Result<Opened, ServiceError> {
    if !access::allowed(caller.role, HOUSEHOLD.name, Action::Read) {
        return Err(ServiceError::forbidden(
            ErrorCode::ForbiddenRole,
            "your role does not read households, so it cannot export them",
        ));
    }
    let mine = caller.actor(state).await?.villages;
    let villages: Vec<String> = match division {
        None => mine.into_iter().collect(),
        Some(code) => {
            if !matches!(code.len(), 6 | 9 | 12) || !code.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ServiceError::invalid(
                    ErrorCode::InvalidRequest,
                    "division must be a division code of 6, 9 or 12 digits",
                )
                .at("division"));
            }
            let below = state.store().villages_under(code).await?;
            let villages: Vec<String> = below.into_iter().filter(|v| mine.contains(v)).collect();
            if villages.is_empty() {
                return Err(ServiceError::not_found(
                    "none of your villages lies in this division",
                ));
            }
            villages
        }
    };
    tracing::info!(villages = villages.len(), "export");
    let reader = Reader {
        user_id: caller.user_id,
        device_id: Some(caller.device_id),
    };
    let households = Households::open(state.store().clone(), villages, caller.role, reader).await?;
    let name = format!(
        "households-{}-{}",
        division.unwrap_or("all"),
        clock::iso(clock::today())
    );
    Ok(Opened { households, name })
}

impl From<ExportError> for ServiceError {
    fn from(e: ExportError) -> Self {
        match e {
            ExportError::Store(s) => s.into(),
            other => ServiceError::internal(other),
        }
    }
}
