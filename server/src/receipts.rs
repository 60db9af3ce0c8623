//! Signing receipts for accepted observations, and checking them (see
//! `fieldsync_protocol::receipt`). A push's receipts share one signature over a Merkle tree
//! of their payloads: an Ed25519 signature had been the largest single cost of a survey batch
//! (about 15 % of the CPU at 100 a push), the tree's hashes are a few percent of it. The key
//! is made once and kept in the database, so every replica signs with it and receipts outlive
//! restarts.

use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use fieldsync_protocol::receipt::{self, Receipt, ReceiptBody, ReceiptKey};
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
        let payload = payload_of(body);
        let signature = self.key.sign(&payload);
        Receipt {
            key_id: self.key_id.clone(),
            payload: Receipt::encode(&payload),
            signature: Receipt::encode(&signature.to_bytes()),
            proof: Vec::new(),
        }
    }

    /// The receipts of one push, in order, under one signature: of the tree of their payloads
    /// when there are two or more, of the payload itself when there is one.
    pub fn sign_all(&self, bodies: &[ReceiptBody]) -> Vec<Receipt> {
        if let [body] = bodies {
            return vec![self.sign(body)];
        }
        let payloads: Vec<Vec<u8>> = bodies.iter().map(payload_of).collect();
        let leaves: Vec<[u8; 32]> = payloads.iter().map(|p| receipt::leaf_hash(p)).collect();
        let Some((root, proofs)) = receipt::tree(&leaves) else {
            return Vec::new();
        };
        let signature = Receipt::encode(&self.key.sign(&receipt::tree_message(&root)).to_bytes());
        payloads
            .iter()
            .zip(proofs)
            .map(|(payload, proof)| Receipt {
                key_id: self.key_id.clone(),
                payload: Receipt::encode(payload),
                signature: signature.clone(),
                proof,
            })
            .collect()
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
    let signed = receipt.signed_bytes().ok_or(ReceiptError::Malformed)?;
    let signature =
        Signature::from_bytes(&receipt.signature_bytes().ok_or(ReceiptError::Malformed)?);
    key.verify(&signed, &signature)
        .map_err(|_| ReceiptError::BadSignature)?;
    receipt.body().ok_or(ReceiptError::Malformed)
}

/// The signed bytes of a body: a struct of strings and integers always serialises.
fn payload_of(body: &ReceiptBody) -> Vec<u8> {
    serde_json::to_vec(body).unwrap_or_default()
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
    use fieldsync_protocol::receipt::ProofStep;
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
    fn a_push_signed_once_gives_receipts_that_each_verify_alone() {
        let signer = Signer::from_seed(&[7; 32]);
        for n in [1, 2, 3, 5, 8, 100] {
            let bodies: Vec<ReceiptBody> = (0..n).map(|_| body()).collect();
            let receipts = signer.sign_all(&bodies);
            assert_eq!(receipts.len(), n);
            // Two or more share one signature; one is signed over its payload, as before trees.
            let signatures: std::collections::BTreeSet<&str> =
                receipts.iter().map(|r| r.signature.as_str()).collect();
            assert_eq!(signatures.len(), 1, "{n} receipts");
            assert_eq!(receipts[0].proof.is_empty(), n == 1);
            for (r, b) in receipts.iter().zip(&bodies) {
                assert_eq!(signer.verify(r), Ok(b.clone()), "{n} receipts");
                // At most ceil(log2 n) steps.
                assert!(r.proof.len() <= n.next_power_of_two().trailing_zeros() as usize);
            }
        }
    }

    #[test]
    fn a_receipt_of_a_tree_cannot_be_altered_or_borrowed() {
        let signer = Signer::from_seed(&[7; 32]);
        let bodies: Vec<ReceiptBody> = (0..5).map(|_| body()).collect();
        let receipts = signer.sign_all(&bodies);

        // Another body under a receipt's proof and signature.
        let mut forged = receipts[2].clone();
        let mut other = bodies[2].clone();
        other.version += 1;
        forged.payload = Receipt::encode(&serde_json::to_vec(&other).unwrap());
        assert_eq!(signer.verify(&forged), Err(ReceiptError::BadSignature));
        // A neighbour's proof, a step dropped, a sibling changed, a side swapped.
        let mut swapped = receipts[0].clone();
        swapped.proof = receipts[1].proof.clone();
        assert_eq!(signer.verify(&swapped), Err(ReceiptError::BadSignature));
        let mut short = receipts[0].clone();
        short.proof.pop();
        assert_eq!(signer.verify(&short), Err(ReceiptError::BadSignature));
        let mut changed = receipts[0].clone();
        changed.proof[0] = ProofStep::Right(Receipt::encode(&[0; 32]));
        assert_eq!(signer.verify(&changed), Err(ReceiptError::BadSignature));
        let mut sides = receipts[0].clone();
        sides.proof[0] = match &sides.proof[0] {
            ProofStep::Right(h) => ProofStep::Left(h.clone()),
            ProofStep::Left(h) => ProofStep::Right(h.clone()),
        };
        assert_eq!(signer.verify(&sides), Err(ReceiptError::BadSignature));
        // The tree's signature over a lone payload (no proof): not what it signed.
        let mut bare = receipts[0].clone();
        bare.proof.clear();
        assert_eq!(signer.verify(&bare), Err(ReceiptError::BadSignature));
        // A sibling that is not 32 bytes of base64url.
        let mut broken = receipts[0].clone();
        broken.proof[0] = ProofStep::Left("short".into());
        assert_eq!(signer.verify(&broken), Err(ReceiptError::Malformed));
    }

    #[test]
    fn field_order_does_not_change_the_hash() {
        let a: serde_json::Value = serde_json::from_str(r#"{"a":1,"b":[1,2]}"#).unwrap();
        let b: serde_json::Value = serde_json::from_str(r#"{"b":[1,2],"a":1}"#).unwrap();
        assert_eq!(fields_sha256(&a), fields_sha256(&b));
    }
}
