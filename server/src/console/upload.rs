//! File uploads (a roster, a form definition, a staff list): a multipart form whose first
//! field is the sign-in's CSRF token (each upload form puts it first), checked before any
//! file is read, then the named files, each up to its size.

use std::collections::HashMap;

use axum::extract::multipart::{Field, Multipart};
use axum::extract::{FromRequest, FromRequestParts, Request};

use super::error::ConsoleError;
use super::session::{Viewer, check_csrf};
use crate::state::AppState;

/// A file as uploaded: its name on the office's PC and its bytes.
pub struct File {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// An upload by a signed-in viewer, the sign-in's CSRF token checked (the form's first
/// field) before any file is read: as [`super::session::Posted`] for an ordinary form.
pub struct Upload {
    pub viewer: Viewer,
    multipart: Multipart,
}

impl FromRequest<AppState> for Upload {
    type Rejection = ConsoleError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let viewer = Viewer::from_request_parts(&mut parts, state).await?;
        let headers = parts.headers.clone();
        let mut multipart = Multipart::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|_| ConsoleError::bad("the upload is not a multipart form"))?;
        let token = match next_field(&mut multipart).await? {
            Some(f) if f.name() == Some("csrf") => {
                Some(String::from_utf8_lossy(&bytes_of(f, 256).await?).into_owned())
            }
            _ => None,
        };
        check_csrf(&viewer, &headers, token.as_deref())?;
        Ok(Upload { viewer, multipart })
    }
}

impl Upload {
    /// The files of `wanted` (field name, most bytes), by field name. A file field left empty
    /// is absent; other fields are ignored.
    pub async fn files(
        &mut self,
        wanted: &[(&str, usize)],
    ) -> Result<HashMap<String, File>, ConsoleError> {
        let mut files = HashMap::new();
        while let Some(f) = next_field(&mut self.multipart).await? {
            let Some(&(name, max)) = wanted.iter().find(|(n, _)| f.name() == Some(*n)) else {
                continue;
            };
            let file_name = f.file_name().unwrap_or(name).to_owned();
            let bytes = bytes_of(f, max).await?;
            if !bytes.is_empty() {
                files.insert(
                    name.to_owned(),
                    File {
                        name: file_name,
                        bytes,
                    },
                );
            }
        }
        Ok(files)
    }
}

/// Reads a form field's bytes, refusing more than `max`.
async fn bytes_of(mut field: Field<'_>, max: usize) -> Result<Vec<u8>, ConsoleError> {
    let mut out = Vec::new();
    while let Some(chunk) = field
        .chunk()
        .await
        .map_err(|e| ConsoleError::bad(format!("the upload broke off: {}", e.body_text())))?
    {
        if out.len() + chunk.len() > max {
            return Err(ConsoleError::bad(format!(
                "the file is larger than the console takes ({} MB)",
                max.div_ceil(1024 * 1024)
            )));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

async fn next_field(m: &mut Multipart) -> Result<Option<Field<'_>>, ConsoleError> {
    m.next_field()
        .await
        .map_err(|e| ConsoleError::bad(format!("the upload broke off: {}", e.body_text())))
}
