//! Photos: uploads addressed by their SHA-256, processing (EXIF out, thumbnail made) off the
//! request path, and the blob store that keeps the bytes (local disk or S3).
//!
//! Layout of the blob store, the same on both backends:
//! - `staging/{device}/{sha256}/{start}`: parts of a chunked upload in progress, one object per
//!   request, so any replica can take the next chunk;
//! - `incoming/{sha256}`: a complete, verified upload waiting for a worker;
//! - `originals/{aa}/{sha256}`: the photo without its EXIF (what `GET /v1/blobs/{sha}` serves);
//! - `thumbs/{aa}/{sha256}.jpg`: its JPEG thumbnail, orientation applied.
//!
//! The database (`store::blobs`) holds the state of each blob, who uploaded it, which records
//! name it (and which of those open it to their readers), and the chunked uploads in progress.
//! A device becomes an owner of a blob only by sending every byte of it: the server holding a
//! photo is never a reason to give it to someone who names its hash. Nothing here holds a whole
//! upload in memory: bodies stream into temporary files, hashed as they arrive.

mod gc;
mod local;
pub mod photo;
mod retry;
mod s3;
mod store;
mod upload;
mod worker;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use fieldsync_protocol::blob::{BlobInfo, BlobState, PhotoMetadata};
use fieldsync_protocol::gps::LatLon;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::config::{BlobBackend, BlobSettings};
use crate::store::{BlobRow, Store, StoreError};

pub use gc::Collected;
pub use local::LocalDisk;
pub use photo::PhotoError;
pub use s3::{S3Settings, S3Store};
pub use store::{BlobStore, BlobStoreError, ByteStream, Listed, Object, check_key};
pub use upload::{Chunk, parse_content_range};
pub use worker::spawn_workers;

/// Everything that can go wrong with a blob, for the HTTP boundary to map.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("{0} is not a SHA-256 hash in lower-case hex")]
    BadName(String),
    #[error("the bytes hash to {actual}, not to the name they were sent under")]
    HashMismatch { actual: String },
    #[error("a photo may be at most {max} bytes")]
    TooLarge { max: u64 },
    #[error("this device may upload {limit} bytes a day and has used {used}")]
    Quota { limit: u64, used: u64 },
    #[error("the server has {received} bytes of this upload; send from there")]
    Offset { received: u64 },
    #[error("{0}")]
    BadRange(String),
    #[error("the upload ended before the bytes it announced had arrived")]
    Incomplete,
    #[error(transparent)]
    Photo(#[from] PhotoError),
    #[error(transparent)]
    Store(#[from] BlobStoreError),
    #[error(transparent)]
    Db(#[from] StoreError),
    #[error("temporary file: {0}")]
    Io(#[from] std::io::Error),
}

/// The photo service: the blob store, the database, the limits, and the workers' doorbell.
#[derive(Clone)]
pub struct Blobs {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn BlobStore>,
    db: Store,
    settings: BlobSettings,
    /// Uploads are received here before they go to the blob store (same filesystem as nothing
    /// in particular: they are copied, not renamed).
    tmp: PathBuf,
    /// Rung when an upload is complete, so an idle worker starts at once.
    wake: Notify,
    /// Seconds each photo this process processed took (`/metrics`).
    processing: crate::metrics::SharedHistogram,
}

impl Blobs {
    /// The blob store the settings name: local disk under `photo_dir`, or S3. Uploads are
    /// received in `data_dir/tmp`.
    pub fn open(
        db: Store,
        settings: &BlobSettings,
        photo_dir: &Path,
        data_dir: &Path,
    ) -> Result<Blobs, BlobError> {
        let store: Arc<dyn BlobStore> = match settings.backend {
            BlobBackend::Local => Arc::new(LocalDisk::new(photo_dir.to_owned())?),
            BlobBackend::S3 => Arc::new(S3Store::new(&s3_settings(&settings.s3))),
        };
        let tmp = data_dir.join("tmp");
        std::fs::create_dir_all(&tmp)?;
        Ok(Blobs::with_store(db, store, settings.clone(), tmp))
    }

    pub fn with_store(
        db: Store,
        store: Arc<dyn BlobStore>,
        settings: BlobSettings,
        tmp: PathBuf,
    ) -> Blobs {
        Blobs {
            inner: Arc::new(Inner {
                store,
                db,
                settings,
                tmp,
                wake: Notify::new(),
                processing: crate::metrics::SharedHistogram::new(crate::metrics::SECONDS),
            }),
        }
    }

    /// The same service over `wrap(store)`, before anything has used it: the tests of storage
    /// failures put a store that fails on purpose in front of the real one.
    pub fn wrapping_store(
        self,
        wrap: impl FnOnce(Arc<dyn BlobStore>) -> Arc<dyn BlobStore>,
    ) -> Blobs {
        let inner = &self.inner;
        Blobs::with_store(
            inner.db.clone(),
            wrap(inner.store.clone()),
            inner.settings.clone(),
            inner.tmp.clone(),
        )
    }

    pub fn store(&self) -> &dyn BlobStore {
        self.inner.store.as_ref()
    }

    pub fn settings(&self) -> &BlobSettings {
        &self.inner.settings
    }

    /// How long processing photos took in this process, for the metrics.
    pub fn processing_times(&self) -> Option<crate::metrics::Histogram> {
        self.inner.processing.snapshot()
    }

    fn db(&self) -> &Store {
        &self.inner.db
    }

    fn temp_file(&self) -> Result<tempfile::NamedTempFile, BlobError> {
        Ok(tempfile::NamedTempFile::new_in(&self.inner.tmp)?)
    }

    fn limits(&self) -> photo::Limits {
        photo::Limits {
            max_pixels: self.inner.settings.max_pixels,
            thumb_px: self.inner.settings.thumb_px,
            ..photo::Limits::default()
        }
    }

    /// What the server has of a blob, as the device sees it. `seen` is the blob's row when the
    /// device may see the blob (see `http::blobs`), `None` when the server has none or the
    /// device may not see it: then only the device's own chunked upload in progress is
    /// answered, exactly as if no one else had ever sent the blob. A photo whose bytes the
    /// server lost shows the device's own new upload of it, if one is under way, so that the
    /// phone resumes it rather than starting over. `None` when there is nothing to tell.
    pub async fn info(
        &self,
        sha256: &str,
        device_id: Uuid,
        seen: Option<&BlobRow>,
    ) -> Result<Option<BlobInfo>, BlobError> {
        if let Some(row) = seen.filter(|r| r.state != MISSING) {
            return Ok(Some(info_of(row)));
        }
        let upload = self.db().upload(sha256, device_id).await?;
        if let (Some(row), None) = (seen, &upload) {
            return Ok(Some(info_of(row)));
        }
        Ok(upload.map(|u| {
            BlobInfo::unprocessed(
                sha256,
                BlobState::Receiving,
                to_u64(u.received),
                to_u64(u.total),
            )
        }))
    }
}

pub fn s3_settings(c: &crate::config::S3Settings) -> S3Settings {
    use secrecy::ExposeSecret;
    S3Settings {
        endpoint: c.endpoint.clone(),
        region: c.region.clone(),
        bucket: c.bucket.clone(),
        prefix: c.prefix.clone(),
        access_key_id: c.access_key_id.clone(),
        secret_access_key: c.secret_access_key.expose_secret().to_owned(),
        path_style: c.path_style,
    }
}

/// The key of a complete upload waiting for processing.
fn incoming_key(sha256: &str) -> String {
    format!("incoming/{sha256}")
}

/// The key of the stored (EXIF-free) original. Two hex digits of fan-out keep directories of
/// the local store small.
pub fn original_key(sha256: &str) -> String {
    format!("originals/{}/{sha256}", &sha256[..2])
}

pub fn thumb_key(sha256: &str) -> String {
    format!("thumbs/{}/{sha256}.jpg", &sha256[..2])
}

fn staging_prefix(device_id: Uuid, sha256: &str) -> String {
    format!("staging/{}/{sha256}/", device_id.simple())
}

/// The `blobs.state` of a photo whose uploaded bytes are gone: the server needs them again.
const MISSING: &str = "missing";

pub fn info_of(row: &BlobRow) -> BlobInfo {
    let state = match row.state.as_str() {
        "ready" => BlobState::Ready,
        "rejected" => BlobState::Rejected,
        // Nothing of it is held: the phone sends it again from byte 0.
        MISSING => {
            return BlobInfo::unprocessed(&row.sha256, BlobState::Missing, 0, to_u64(row.size));
        }
        _ => BlobState::Processing,
    };
    let gps = match (row.gps_lat, row.gps_lon) {
        (Some(lat), Some(lon)) => Some(LatLon { lat, lon }),
        _ => None,
    };
    let dim = |v: Option<i64>| v.and_then(|v| u32::try_from(v).ok());
    BlobInfo {
        sha256: row.sha256.clone(),
        state,
        received: to_u64(row.size),
        size: Some(to_u64(row.size)),
        format: row.format.clone(),
        width: dim(row.width),
        height: dim(row.height),
        gps,
        taken_at: row.taken_at.clone(),
        metadata: row.metadata.as_deref().and_then(PhotoMetadata::parse),
        reason: row.reason.clone(),
    }
}

fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
