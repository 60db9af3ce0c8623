//! Signing receipts for accepted observations, and checking them (see
//! `fieldsync_protocol::receipt`). The key is made once and kept in the database, so every
//! replica signs with it and receipts outlive restarts.

use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use fieldsync_protocol::receipt::{Receipt, ReceiptBody, ReceiptKey};
use sha2::{Digest, Sha256};

use crate::clock;
use crate::store::{Store, StoreError};

#[derive(Clone)]
pub struct Signer {
    key: SigningKey,
    key_id: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReceiptError {
    #[error("the receipt is not well formed")]
    Malformed,
    #[error("signed by another key ({0}), not this server's")]
    OtherKey(String),
    #[error("the signature does not match: the receipt was altered or forged")]
    BadSignature,
}

impl Signer {
    /// The server's receipt key, made on first use.
    pub async fn load(store: &Store) -> Result<Signer, StoreError> {
        let secret = store
            .server_secret("receipt-ed25519", clock::now_ms())
            .await?;
        let seed: [u8; 32] = secret
            .try_into()
            .map_err(|_| StoreError::Corrupt("the receipt key is not 32 bytes".into()))?;
        Ok(Signer::from_seed(&seed))
    }

    pub fn from_seed(seed: &[u8; 32]) -> Signer {
        let key = SigningKey::from_bytes(seed);
        let digest = Sha256::digest(key.verifying_key().as_bytes());
        let key_id = crate::hex::hex(&digest[..8]);
        Signer { key, key_id }
    }

    pub fn public(&self) -> ReceiptKey {
        ReceiptKey {
            algorithm: "ed25519".into(),
            key_id: self.key_id.clone(),
            public_key: Receipt::encode(self.key.verifying_key().as_bytes()),
        }
    }

    pub fn sign(&self, body: &ReceiptBody) -> Receipt {
        // A struct of strings and integers always serialises.
        let payload = serde_json::to_vec(body).unwrap_or_default();
        let signature = self.key.sign(&payload);
        Receipt {
            key_id: self.key_id.clone(),
            payload: Receipt::encode(&payload),
            signature: Receipt::encode(&signature.to_bytes()),
        }
    }

    /// The body of a receipt this server signed; an error for anything else.
    pub fn verify(&self, receipt: &Receipt) -> Result<ReceiptBody, ReceiptError> {
        verify_with(&self.key.verifying_key(), &self.key_id, receipt)
    }
}

/// Checks a receipt against a public key.
pub fn verify_with(
    key: &VerifyingKey,
    key_id: &str,
    receipt: &Receipt,
) -> Result<ReceiptBody, ReceiptError> {
    if receipt.key_id != key_id {
        return Err(ReceiptError::OtherKey(receipt.key_id.clone()));
    }
    let payload = receipt.payload_bytes().ok_or(ReceiptError::Malformed)?;
    let signature =
        Signature::from_bytes(&receipt.signature_bytes().ok_or(ReceiptError::Malformed)?);
    key.verify(&payload, &signature)
        .map_err(|_| ReceiptError::BadSignature)?;
    serde_json::from_slice(&payload).map_err(|_| ReceiptError::Malformed)
}

/// SHA-256 (hex) of a mutation's fields: serde_json maps keep their keys sorted, so the same
/// fields always hash the same.
pub fn fields_sha256(fields: &serde_json::Value) -> String {
    let bytes = serde_json::to_vec(fields).unwrap_or_default();
    crate::hex::hex(&Sha256::digest(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn body() -> ReceiptBody {
        ReceiptBody {
            mutation_id: Uuid::now_v7(),
            record_id: Uuid::now_v7(),
            entity: "visit".into(),
            version: 1,
            device_id: Uuid::now_v7(),
            user_id: Uuid::now_v7(),
            fields_sha256: fields_sha256(&serde_json::json!({"b": 1, "a": "x"})),
            received_at_ms: 1_764_300_000_000,
        }
    }

    #[test]
    fn a_receipt_verifies_and_any_change_breaks_it() {
        let signer = Signer::from_seed(&[7; 32]);
        let b = body();
        let r = signer.sign(&b);
        assert_eq!(signer.verify(&r), Ok(b.clone()));

        let mut forged = b.clone();
        forged.received_at_ms -= 86_400_000;
        let mut altered = r.clone();
        altered.payload = Receipt::encode(&serde_json::to_vec(&forged).unwrap());
        assert_eq!(signer.verify(&altered), Err(ReceiptError::BadSignature));

        let other = Signer::from_seed(&[8; 32]);
        assert!(matches!(other.verify(&r), Err(ReceiptError::OtherKey(_))));
        let mut broken = r;
        broken.signature = "not base64!".into();
        assert_eq!(signer.verify(&broken), Err(ReceiptError::Malformed));
    }

    #[test]
    fn field_order_does_not_change_the_hash() {
        let a: serde_json::Value = serde_json::from_str(r#"{"a":1,"b":[1,2]}"#).unwrap();
        let b: serde_json::Value = serde_json::from_str(r#"{"b":[1,2],"a":1}"#).unwrap();
        assert_eq!(fields_sha256(&a), fields_sha256(&b));
    }
}
