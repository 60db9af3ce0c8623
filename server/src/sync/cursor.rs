//! The pull cursor: opaque to the phone, a small base64url JSON to the server.
//!
//! A device's villages are either *steady* (delivered up to sequence `s`) or *catching up*
//! (a village newly in scope, streamed from zero up to `s`, one village at a time, along the
//! `(scope, seq)` index). The steady set is stored server-side under its hash, so the cursor
//! stays short even for a county officer's hundreds of villages.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

const VERSION: u8 = 1;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    v: u8,
    /// Every change of a steady village with a sequence number up to here was delivered.
    pub s: i64,
    /// Hash of the steady set ("" for none).
    pub h: String,
    /// The village being caught up, and the last sequence number delivered of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub c: Option<(String, i64)>,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("the cursor was not issued by this server; pull again without a cursor")]
pub struct BadCursor;

impl Cursor {
    pub fn new(s: i64, h: String, c: Option<(String, i64)>) -> Self {
        Cursor {
            v: VERSION,
            s,
            h,
            c,
        }
    }

    pub fn encode(&self) -> String {
        // Serialising plain fields cannot fail.
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    pub fn decode(s: &str) -> Result<Cursor, BadCursor> {
        let bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| BadCursor)?;
        let c: Cursor = serde_json::from_slice(&bytes).map_err(|_| BadCursor)?;
        if c.v != VERSION || c.s < 0 || c.c.as_ref().is_some_and(|(_, p)| *p < 0) {
            return Err(BadCursor);
        }
        Ok(c)
    }
}

/// The hash a set of villages is stored under; "" for the empty set.
pub fn scope_hash<'a>(villages: impl IntoIterator<Item = &'a String>) -> String {
    let mut h = Sha256::new();
    let mut any = false;
    for v in villages {
        h.update(v.as_bytes());
        h.update(b",");
        any = true;
    }
    if !any {
        return String::new();
    }
    crate::hex::hex(&h.finalize()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejects_garbage() {
        let c = Cursor::new(
            42,
            scope_hash(&["640104001002".to_owned()]),
            Some(("640104001003".into(), 7)),
        );
        assert_eq!(Cursor::decode(&c.encode()), Ok(c));
        assert_eq!(Cursor::decode("not a cursor"), Err(BadCursor));
        assert_eq!(
            Cursor::decode(&URL_SAFE_NO_PAD.encode(br#"{"v":9,"s":1,"h":""}"#)),
            Err(BadCursor)
        );
        assert_eq!(
            Cursor::decode(&URL_SAFE_NO_PAD.encode(br#"{"v":1,"s":-1,"h":""}"#)),
            Err(BadCursor)
        );
    }

    #[test]
    fn hash_depends_on_the_set() {
        let a = vec!["1".to_owned(), "2".to_owned()];
        let b = vec!["1".to_owned(), "3".to_owned()];
        assert_ne!(scope_hash(&a), scope_hash(&b));
        assert_eq!(scope_hash(&a).len(), 32);
        assert_eq!(scope_hash(&Vec::<String>::new()), "");
    }
}
