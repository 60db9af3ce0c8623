//! Photos on the wire: how they are named, and what the server says about one.
//!
//! A photo is named by the SHA-256 of its bytes as the phone took them, in lower-case hex;
//! records list these names (`photos`), and `PUT /v1/blobs/{sha256}` uploads the bytes.

use serde::{Deserialize, Serialize};

/// Whether `s` names a blob: 64 lower-case hex digits.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Where a blob stands on the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BlobState {
    /// Part of it has arrived (a chunked upload); `received` says how much.
    Receiving,
    /// All of it arrived and the hash matched; the thumbnail is being made.
    Processing,
    /// Stored without its EXIF, with a thumbnail.
    Ready,
    /// Not a photo the server takes; `reason` says why. Uploading it again will not help.
    Rejected,
    /// Accepted once, but the server no longer has its bytes (its storage lost them before
    /// the photo was processed): upload it again, from byte 0 (`received` is 0). The photo
    /// keeps its owners and the records that name it.
    Missing,
}

/// What became of a processed photo's EXIF block, which the stored file no longer has: `read`
/// (GPS, time and orientation come from it, where the camera wrote them), `none` (the photo had
/// none) or `unreadable` (damaged, so dropped whole: no GPS, no time, orientation 1; the photo
/// itself is kept).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PhotoMetadata {
    /// Read: `gps`, `taken_at` and the orientation come from it where the camera wrote them.
    Read,
    /// The photo had none.
    None,
    /// It was damaged (a directory running past its end, looping, pointing outside the block)
    /// and was dropped whole: no GPS, no time, orientation 1. The photo itself is kept.
    Unreadable,
}

impl PhotoMetadata {
    pub fn as_str(self) -> &'static str {
        match self {
            PhotoMetadata::Read => "read",
            PhotoMetadata::None => "none",
            PhotoMetadata::Unreadable => "unreadable",
        }
    }

    pub fn parse(s: &str) -> Option<PhotoMetadata> {
        [
            PhotoMetadata::Read,
            PhotoMetadata::None,
            PhotoMetadata::Unreadable,
        ]
        .into_iter()
        .find(|m| m.as_str() == s)
    }
}

/// The answer to an upload and to `GET /v1/blobs/{sha256}/meta`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BlobInfo {
    pub sha256: String,
    pub state: BlobState,
    /// Bytes the server holds of this upload (the whole size once complete).
    pub received: u64,
    /// The whole size, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// As displayed (the EXIF orientation applied).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// Where the camera says it was taken (WGS-84, from the EXIF, which the stored file no
    /// longer has).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gps: Option<crate::gps::LatLon>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taken_at: Option<String>,
    /// What became of the EXIF, once processed (absent for photos processed by servers
    /// before this field existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<PhotoMetadata>,
    /// Why it was rejected: `unsupported_format`, `too_many_pixels`, `truncated`, `corrupt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl BlobInfo {
    /// What is known of a blob before it is processed: its name, state and size.
    pub fn unprocessed(sha256: &str, state: BlobState, received: u64, size: u64) -> BlobInfo {
        BlobInfo {
            sha256: sha256.to_owned(),
            state,
            received,
            size: Some(size),
            format: None,
            width: None,
            height: None,
            gps: None,
            taken_at: None,
            metadata: None,
            reason: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_lower_case_sha256_hex() {
        let ok = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert!(is_sha256_hex(ok));
        assert!(!is_sha256_hex(&ok.to_uppercase()));
        assert!(!is_sha256_hex(&ok[1..]));
        assert!(!is_sha256_hex(&format!("{}g", &ok[1..])));
        assert!(!is_sha256_hex("../etc/passwd"));
    }

    #[test]
    fn photo_metadata_names_round_trip() {
        for m in [
            PhotoMetadata::Read,
            PhotoMetadata::None,
            PhotoMetadata::Unreadable,
        ] {
            assert_eq!(PhotoMetadata::parse(m.as_str()), Some(m));
            assert_eq!(
                serde_json::to_value(m).ok(),
                Some(serde_json::Value::from(m.as_str()))
            );
        }
        assert_eq!(PhotoMetadata::parse("partial"), None);
    }
}
