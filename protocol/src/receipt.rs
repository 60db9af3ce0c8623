//! Receipts: the server's signed word that it received an observation (a visit, a check, a
//! check-in …), which the phone keeps. If a record is later disputed, the cadre shows the
//! receipt; anyone with the server's public key (`GET /v1/receipts/key`) can check it.
//!
//! The signature (Ed25519) covers the exact bytes of `payload` (base64url of the JSON
//! [`ReceiptBody`]), so verifying never depends on how JSON is re-serialised.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What a receipt attests.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReceiptBody {
    pub mutation_id: Uuid,
    pub record_id: Uuid,
    pub entity: String,
    /// The record's version after the mutation.
    pub version: u64,
    pub device_id: Uuid,
    pub user_id: Uuid,
    /// SHA-256 (hex) of the mutation's `fields` as sent, serialised as JSON with sorted keys.
    pub fields_sha256: String,
    /// When the server confirmed it, Unix milliseconds.
    pub received_at_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Receipt {
    /// Which server key signed it (the first 16 hex digits of the SHA-256 of the public key).
    pub key_id: String,
    /// base64url (no padding) of the JSON body.
    pub payload: String,
    /// base64url (no padding) of the 64-byte Ed25519 signature of the payload's bytes.
    pub signature: String,
}

impl Receipt {
    /// The signed bytes.
    pub fn payload_bytes(&self) -> Option<Vec<u8>> {
        URL_SAFE_NO_PAD.decode(&self.payload).ok()
    }

    pub fn signature_bytes(&self) -> Option<[u8; 64]> {
        URL_SAFE_NO_PAD
            .decode(&self.signature)
            .ok()?
            .try_into()
            .ok()
    }

    /// The body, read from the payload (not yet verified).
    pub fn body(&self) -> Option<ReceiptBody> {
        serde_json::from_slice(&self.payload_bytes()?).ok()
    }

    pub fn encode(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }
}

/// The public key that verifies receipts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReceiptKey {
    pub algorithm: String,
    pub key_id: String,
    /// base64url (no padding) of the 32-byte Ed25519 public key.
    pub public_key: String,
}
