//! Receiving an upload: whole in one `PUT`, or in chunks (`Content-Range: bytes a-b/total`)
//! that survive a dropped connection.
//!
//! Every body streams into a temporary file while it is hashed and counted; nothing waits in
//! memory. A chunk is kept even when its connection drops half-way: what arrived is stored as a
//! part and counted, so the phone resumes from the last byte the server has (`HEAD` says which),
//! not from the start of the chunk. Parts live in the blob store, not on this replica's disk,
//! so the next chunk may reach any replica.

use std::io::Write;

use axum::body::Bytes;
use fieldsync_protocol::blob::{BlobInfo, BlobState};
use sha2::{Digest, Sha256};
use tokio_stream::{Stream, StreamExt};
use uuid::Uuid;

use super::{BlobError, Blobs, incoming_key, photo, staging_prefix, to_i64, to_u64};
use crate::clock;
use crate::hex::hex;

/// One chunk of an upload: bytes `start..=end` of `total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chunk {
    pub start: u64,
    pub end: u64,
    pub total: u64,
}

impl Chunk {
    fn len(&self) -> u64 {
        self.end - self.start + 1
    }
}

/// Reads `bytes START-END/TOTAL`.
pub fn parse_content_range(value: &str) -> Result<Chunk, BlobError> {
    let bad = || {
        BlobError::BadRange(format!(
            "Content-Range {value:?} is not of the form bytes START-END/TOTAL"
        ))
    };
    let rest = value.trim().strip_prefix("bytes ").ok_or_else(bad)?;
    let (span, total) = rest.split_once('/').ok_or_else(bad)?;
    let (start, end) = span.split_once('-').ok_or_else(bad)?;
    let number = |s: &str| s.trim().parse::<u64>().map_err(|_| bad());
    let chunk = Chunk {
        start: number(start)?,
        end: number(end)?,
        total: number(total)?,
    };
    if chunk.start > chunk.end || chunk.end >= chunk.total {
        return Err(BlobError::BadRange(format!(
            "Content-Range {value:?}: START ≤ END < TOTAL is required"
        )));
    }
    Ok(chunk)
}

/// What a body stream yields.
type Body = Result<Bytes, axum::Error>;

impl Blobs {
    /// Takes an upload of the blob named `sha256` from `device_id`. `declared` is the body's
    /// `Content-Length`, when sent, so that an oversized upload is refused before it is read.
    /// `visible`: the device may see the blob already (it owns it, or a record it may read
    /// links to it); only then does a bodyless `PUT` answer what the server has without the
    /// bytes.
    ///
    /// Possession is proved by bytes alone: a blob the server holds is answered to anyone else
    /// exactly as one it has never seen, step for step (limits, hash check), and only the
    /// whole of it, hashed, makes the device an owner.
    pub async fn put(
        &self,
        sha256: &str,
        device_id: Uuid,
        chunk: Option<Chunk>,
        declared: Option<u64>,
        visible: bool,
        body: impl Stream<Item = Body> + Unpin,
    ) -> Result<BlobInfo, BlobError> {
        if !fieldsync_protocol::blob::is_sha256_hex(sha256) {
            return Err(BlobError::BadName(sha256.to_owned()));
        }
        if chunk.is_none() && declared.unwrap_or(0) == 0 {
            // A bodyless PUT after HEAD said every byte is here: a server died between
            // storing the last chunk and putting the parts together (the phone was told
            // nothing). Put them together now: they are this device's own.
            if let Some(u) = self.db().upload(sha256, device_id).await?
                && u.total > 0
                && u.received == u.total
            {
                let prefix = staging_prefix(device_id, sha256);
                return self
                    .complete_staged(sha256, device_id, &prefix, to_u64(u.total))
                    .await;
            }
            // The phone's answer was lost, or it has the photo through a record: what the
            // server has, without the bytes (and without making the device an owner). A
            // photo whose bytes the server lost needs them: the empty body goes on to fail
            // the hash check, as it did before.
            if visible
                && let Some(row) = self.held(sha256).await?
                && !self.takes_bytes_again(&row).await?
            {
                return Ok(super::info_of(&row));
            }
        }
        let max = self.settings().max_photo_bytes;
        let announced = chunk.map(|c| c.total).or(declared).unwrap_or(0);
        if announced > max {
            return Err(BlobError::TooLarge { max });
        }
        let coming = chunk.map(|c| c.len()).or(declared).unwrap_or(0);
        self.check_quota(device_id, coming).await?;
        match chunk {
            None => self.put_whole(sha256, device_id, body).await,
            Some(chunk) => self.put_chunk(sha256, device_id, chunk, body).await,
        }
    }

    /// Takes a whole photo whose name is not known before its bytes: an ODK Collect
    /// attachment, named by its file name on the phone. The bytes are hashed as they arrive and
    /// the photo is named by that hash; the same limits, quota and proof of possession apply
    /// as to [`Blobs::put`] (a photo the server already held makes the device an owner only
    /// because every byte of it was just sent).
    pub async fn put_unnamed(
        &self,
        device_id: Uuid,
        declared: Option<u64>,
        body: impl Stream<Item = Body> + Unpin,
    ) -> Result<BlobInfo, BlobError> {
        let max = self.settings().max_photo_bytes;
        if declared.unwrap_or(0) > max {
            return Err(BlobError::TooLarge { max });
        }
        self.check_quota(device_id, declared.unwrap_or(0)).await?;
        let mut hasher = Sha256::new();
        let mut file = self.temp_file()?;
        let received = receive(body, file.as_file_mut(), Some(&mut hasher), max).await;
        self.count(device_id, received.bytes).await?;
        received.ended?;
        let sha256 = hex(&hasher.finalize());
        if self.held(&sha256).await?.is_some() {
            return self.proven(&sha256, device_id, received.bytes).await;
        }
        self.finish(&sha256, device_id, file, received.bytes).await
    }

    async fn check_quota(&self, device_id: Uuid, coming: u64) -> Result<(), BlobError> {
        let limit = self.settings().max_device_bytes_per_day;
        let used = to_u64(
            self.db()
                .uploaded_on(device_id, &clock::iso(clock::today()))
                .await?,
        );
        if used.saturating_add(coming) > limit {
            return Err(BlobError::Quota { limit, used });
        }
        Ok(())
    }

    async fn count(&self, device_id: Uuid, bytes: u64) -> Result<(), BlobError> {
        if bytes > 0 {
            let day = clock::iso(clock::today());
            self.db()
                .count_upload(device_id, &day, to_i64(bytes))
                .await?;
        }
        Ok(())
    }

    async fn put_whole(
        &self,
        sha256: &str,
        device_id: Uuid,
        body: impl Stream<Item = Body> + Unpin,
    ) -> Result<BlobInfo, BlobError> {
        let max = self.settings().max_photo_bytes;
        let mut hasher = Sha256::new();
        // Bytes the server holds already are only hashed, as proof, not stored again.
        if self.held(sha256).await?.is_some() {
            let received = receive(body, &mut std::io::sink(), Some(&mut hasher), max).await;
            self.count(device_id, received.bytes).await?;
            received.ended?;
            let actual = hex(&hasher.finalize());
            if actual != sha256 {
                return Err(BlobError::HashMismatch { actual });
            }
            return self.proven(sha256, device_id, received.bytes).await;
        }
        let mut file = self.temp_file()?;
        let received = receive(body, file.as_file_mut(), Some(&mut hasher), max).await;
        self.count(device_id, received.bytes).await?;
        received.ended?;
        let actual = hex(&hasher.finalize());
        if actual != sha256 {
            return Err(BlobError::HashMismatch { actual });
        }
        self.finish(sha256, device_id, file, received.bytes).await
    }

    async fn put_chunk(
        &self,
        sha256: &str,
        device_id: Uuid,
        chunk: Chunk,
        body: impl Stream<Item = Body> + Unpin,
    ) -> Result<BlobInfo, BlobError> {
        let db = self.db();
        let prefix = staging_prefix(device_id, sha256);
        let mut received = match db.upload(sha256, device_id).await? {
            // The phone started over with another size (a re-encoded photo under the same
            // name cannot be, so this is a new attempt): drop what was there.
            Some(u) if to_u64(u.total) != chunk.total && chunk.start == 0 => {
                self.drop_parts(&prefix).await?;
                0
            }
            Some(u) if to_u64(u.total) != chunk.total => {
                return Err(BlobError::BadRange(format!(
                    "this upload was started with a total of {} bytes",
                    u.total
                )));
            }
            Some(u) => to_u64(u.received),
            None => 0,
        };
        if chunk.start != received {
            return Err(BlobError::Offset { received });
        }
        let mut file = self.temp_file()?;
        let got = receive(body, file.as_file_mut(), None, chunk.len()).await;
        self.count(device_id, got.bytes).await?;
        if got.bytes > 0 {
            // Keep what arrived even if the connection dropped: the phone resumes from here.
            let key = format!("{prefix}{:012}", chunk.start);
            file.as_file_mut().flush()?;
            self.store().put_file(&key, file.path()).await?;
            received += got.bytes;
            db.set_upload(
                sha256,
                device_id,
                to_i64(chunk.total),
                to_i64(received),
                clock::now_ms(),
            )
            .await?;
        }
        got.ended?;
        if got.bytes != chunk.len() {
            return Err(BlobError::Incomplete);
        }
        if received < chunk.total {
            return Ok(BlobInfo::unprocessed(
                sha256,
                BlobState::Receiving,
                received,
                chunk.total,
            ));
        }
        self.complete_staged(sha256, device_id, &prefix, chunk.total)
            .await
    }

    /// Every byte is staged: put the parts together, hashing as they go, and hand the photo on.
    async fn complete_staged(
        &self,
        sha256: &str,
        device_id: Uuid,
        prefix: &str,
        total: u64,
    ) -> Result<BlobInfo, BlobError> {
        let assembled = self.assemble(prefix, total).await;
        self.drop_parts(prefix).await?;
        self.db().end_upload(sha256, device_id).await?;
        let (file, actual) = assembled?;
        if actual != sha256 {
            return Err(BlobError::HashMismatch { actual });
        }
        if self.held(sha256).await?.is_some() {
            return self.proven(sha256, device_id, total).await;
        }
        self.finish(sha256, device_id, file, total).await
    }

    /// The device sent every byte of a blob the server holds already: it becomes an owner
    /// (which may link records naming the blob) and gets what the server has.
    async fn proven(
        &self,
        sha256: &str,
        device_id: Uuid,
        size: u64,
    ) -> Result<BlobInfo, BlobError> {
        self.db()
            .add_blob_owner(sha256, device_id, clock::now_ms())
            .await?;
        if let Some(row) = self.db().blob(sha256).await? {
            // A photo waiting out a failed attempt is tried again at once.
            self.takes_bytes_again(&row).await?;
        }
        self.received(sha256, size).await
    }

    /// The blob's row, if the server holds its bytes (a `missing` photo's are lost: the
    /// server takes them again from whoever sends them).
    async fn held(&self, sha256: &str) -> Result<Option<crate::store::BlobRow>, BlobError> {
        Ok(self
            .db()
            .blob(sha256)
            .await?
            .filter(|r| r.state != super::MISSING))
    }

    /// What the server has of a blob just received whole.
    async fn received(&self, sha256: &str, size: u64) -> Result<BlobInfo, BlobError> {
        let row = self.db().blob(sha256).await?;
        Ok(row
            .map(|r| super::info_of(&r))
            .unwrap_or(BlobInfo::unprocessed(
                sha256,
                BlobState::Processing,
                size,
                size,
            )))
    }

    /// Concatenates the staged parts, in order, into a temporary file; returns it with the
    /// hash of its bytes.
    async fn assemble(
        &self,
        prefix: &str,
        total: u64,
    ) -> Result<(tempfile::NamedTempFile, String), BlobError> {
        let mut parts = self.store().list(prefix).await?;
        parts.sort_by(|a, b| a.key.cmp(&b.key));
        let mut out = self.temp_file()?;
        let mut hasher = Sha256::new();
        let mut offset = 0u64;
        for part in parts {
            let start = part.key[prefix.len()..].parse::<u64>().ok();
            if start != Some(offset) {
                return Err(BlobError::BadRange(format!(
                    "the stored parts of this upload do not join up at byte {offset}; send it again"
                )));
            }
            let piece = self.temp_file()?;
            if !self.store().fetch_to_file(&part.key, piece.path()).await? {
                return Err(BlobError::Offset { received: offset });
            }
            let mut input = std::fs::File::open(piece.path())?;
            let mut tee = HashingWriter {
                out: out.as_file_mut(),
                hasher: &mut hasher,
            };
            offset += std::io::copy(&mut input, &mut tee)?;
        }
        if offset != total {
            return Err(BlobError::Incomplete);
        }
        out.as_file_mut().flush()?;
        Ok((out, hex(&hasher.finalize())))
    }

    pub(super) async fn drop_parts(&self, prefix: &str) -> Result<(), BlobError> {
        for part in self.store().list(prefix).await? {
            self.store().delete(&part.key).await?;
        }
        Ok(())
    }

    /// A complete upload whose hash matched: checked cheaply on the spot (format, size from the
    /// header, truncation), then handed to the workers.
    async fn finish(
        &self,
        sha256: &str,
        device_id: Uuid,
        file: tempfile::NamedTempFile,
        size: u64,
    ) -> Result<BlobInfo, BlobError> {
        let limits = self.limits();
        let path = file.path().to_owned();
        tokio::task::spawn_blocking(move || photo::inspect(&path, &limits))
            .await
            .map_err(|e| BlobError::Io(std::io::Error::other(e)))??;
        self.store()
            .put_file(&incoming_key(sha256), file.path())
            .await?;
        let now = clock::now_ms();
        self.db()
            .add_blob(sha256, to_i64(size), device_id, now)
            .await?;
        self.db().requeue_blob(sha256).await?;
        self.inner.wake.notify_one();
        self.received(sha256, size).await
    }
}

/// How a body went: the bytes written, and whether it ended cleanly.
struct Received {
    bytes: u64,
    ended: Result<(), BlobError>,
}

/// Writes the body into `out` (and the hasher), refusing more than `max` bytes.
async fn receive(
    mut body: impl Stream<Item = Body> + Unpin,
    out: &mut impl Write,
    mut hasher: Option<&mut Sha256>,
    max: u64,
) -> Received {
    let mut bytes = 0u64;
    while let Some(piece) = body.next().await {
        let piece = match piece {
            Ok(p) => p,
            // The phone went away (or the body was malformed): keep what arrived.
            Err(_) => {
                return Received {
                    bytes,
                    ended: Err(BlobError::Incomplete),
                };
            }
        };
        let len = piece.len() as u64;
        if bytes + len > max {
            return Received {
                bytes,
                ended: Err(BlobError::TooLarge { max }),
            };
        }
        // Small synchronous writes into the page cache; a blocking hop per piece would cost
        // more than it saves.
        if let Err(e) = out.write_all(&piece) {
            return Received {
                bytes,
                ended: Err(BlobError::Io(e)),
            };
        }
        if let Some(h) = hasher.as_deref_mut() {
            h.update(&piece);
        }
        bytes += len;
    }
    Received {
        bytes,
        ended: Ok(()),
    }
}

struct HashingWriter<'a> {
    out: &'a mut std::fs::File,
    hasher: &'a mut Sha256,
}

impl Write for HashingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges_are_read_strictly() {
        assert_eq!(
            parse_content_range("bytes 0-99/1000").unwrap(),
            Chunk {
                start: 0,
                end: 99,
                total: 1000
            }
        );
        for bad in [
            "0-99/1000",
            "bytes 0-99",
            "bytes 99-0/1000",
            "bytes 0-1000/1000",
            "bytes a-b/c",
            "bytes */1000",
            "bytes -1-5/10",
        ] {
            assert!(parse_content_range(bad).is_err(), "{bad}");
        }
    }
}
