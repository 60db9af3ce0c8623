//! Receipts: the server's signed word that it received an observation (a visit, a check, a
//! check-in …), which the phone keeps. If a record is later disputed, the cadre shows the
//! receipt; anyone with the server's public key (`GET /v1/receipts/key`) can check it.
//!
//! The signature (Ed25519) covers the exact bytes of `payload` (base64url of the JSON
//! [`ReceiptBody`]), so verifying never depends on how JSON is re-serialised.
//!
//! A push of many observations is signed once, not once per receipt: the payloads are the
//! leaves of a Merkle tree, the signature covers its root ([`tree_message`]), and each receipt
//! carries the `proof` that leads from its payload to that root. A receipt without a proof
//! (a push with one observation, and every receipt before trees) is signed over its payload
//! itself. Either way a receipt stands alone: checking it needs only the public key.
//!
//! Hashes are SHA-256 with the domain separation of RFC 6962 (a leaf is `H(0x00 ‖ payload)`,
//! a node `H(0x01 ‖ left ‖ right)`), so a node can never pass for a leaf, and the signed
//! message of a root starts with [`TREE_CONTEXT`], which no JSON payload does.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// What the signature of a tree's root signs: this, then the root's 32 bytes.
pub const TREE_CONTEXT: &[u8] = b"fieldsync receipt tree v1\0";

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
    /// base64url (no padding) of the 64-byte Ed25519 signature: of the payload's bytes when
    /// there is no `proof`, else of the tree's root ([`tree_message`]).
    pub signature: String,
    /// The hashes beside this payload's path to the signed root, from the leaf up; absent
    /// when the signature covers the payload itself.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub proof: Vec<ProofStep>,
}

/// One step up a receipt's Merkle path: the sibling's hash (base64url, no padding, of its
/// 32 bytes) and on which side of the path it stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProofStep {
    /// The parent is `H(0x01 ‖ sibling ‖ this)`.
    Left(String),
    /// The parent is `H(0x01 ‖ this ‖ sibling)`.
    Right(String),
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

    /// The bytes the signature must cover: the payload, or the message of the root its proof
    /// leads to. `None` when the receipt is not well formed.
    pub fn signed_bytes(&self) -> Option<Vec<u8>> {
        let payload = self.payload_bytes()?;
        if self.proof.is_empty() {
            return Some(payload);
        }
        let mut hash = leaf_hash(&payload);
        for step in &self.proof {
            hash = match step {
                ProofStep::Left(h) => node_hash(&hash_of(h)?, &hash),
                ProofStep::Right(h) => node_hash(&hash, &hash_of(h)?),
            };
        }
        Some(tree_message(&hash))
    }
}

/// A proof step's hash: base64url of exactly 32 bytes.
fn hash_of(encoded: &str) -> Option<[u8; 32]> {
    URL_SAFE_NO_PAD.decode(encoded).ok()?.try_into().ok()
}

/// The hash of a payload as a leaf.
pub fn leaf_hash(payload: &[u8]) -> [u8; 32] {
    Sha256::new()
        .chain_update([0u8])
        .chain_update(payload)
        .finalize()
        .into()
}

fn node_hash(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    Sha256::new()
        .chain_update([1u8])
        .chain_update(left)
        .chain_update(right)
        .finalize()
        .into()
}

/// What is signed for a tree whose root is `root`.
pub fn tree_message(root: &[u8; 32]) -> Vec<u8> {
    [TREE_CONTEXT, root.as_slice()].concat()
}

/// The Merkle tree over `leaves` (hashes of payloads, in order): its root and each leaf's
/// proof. Neighbours are paired level by level; an odd one out goes up unchanged (it adds no
/// step), so no leaf is ever paired with a copy of itself. `None` for no leaves.
pub fn tree(leaves: &[[u8; 32]]) -> Option<([u8; 32], Vec<Vec<ProofStep>>)> {
    let mut level: Vec<[u8; 32]> = leaves.to_vec();
    let mut proofs: Vec<Vec<ProofStep>> = vec![Vec::new(); leaves.len()];
    // Leaf `n`'s path passes through node `n >> depth` of each level.
    let mut depth = 0;
    while level.len() > 1 {
        for (n, proof) in proofs.iter_mut().enumerate() {
            let i = n >> depth;
            if let Some(h) = level.get(i ^ 1) {
                let h = Receipt::encode(h);
                proof.push(if i % 2 == 1 {
                    ProofStep::Left(h)
                } else {
                    ProofStep::Right(h)
                });
            }
        }
        depth += 1;
        level = level
            .chunks(2)
            .filter_map(|pair| pair.iter().copied().reduce(|l, r| node_hash(&l, &r)))
            .collect();
    }
    level.first().map(|root| (*root, proofs))
}

/// The public key that verifies receipts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReceiptKey {
    pub algorithm: String,
    pub key_id: String,
    /// base64url (no padding) of the 32-byte Ed25519 public key.
    pub public_key: String,
}
