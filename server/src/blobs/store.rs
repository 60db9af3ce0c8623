//! The blob-store contract: one trait, its error type and the rules every key obeys.
//!
//! Blobs (attachments, exports) live either on local disk or in an S3 bucket; the rest of the
//! server only sees [`BlobStore`]. Both implementations promise the same behaviour, and one
//! contract suite (`contract::run`, below) is run against each to hold them to it:
//! - `put_file` replaces atomically: a reader sees the old object or the new one, never a mix;
//! - absent objects are `None`/`false`, not errors, and deleting one is a no-op;
//! - `list` is a plain string-prefix match (S3 semantics), sorted by key;
//! - a range outside the object is an `Io` error of kind `InvalidInput` on both backends;
//! - every method refuses a key outside [`check_key`]'s rules before touching storage, so a
//!   key can never escape the local root or the bucket prefix.

use std::ops::Range;
use std::path::Path;
use std::pin::Pin;

/// An object's bytes, streamed: files are up to 25 MB and are never held whole in memory.
pub type ByteStream =
    Pin<Box<dyn tokio_stream::Stream<Item = std::io::Result<bytes::Bytes>> + Send>>;

/// Longest key accepted, in bytes; leaves room for a bucket prefix under S3's 1024-byte limit.
const MAX_KEY_LEN: usize = 200;

/// Segment prefix reserved for the local store's in-flight temporary files.
pub(super) const TEMP_PREFIX: &str = ".tmp-";

/// One object found by [`BlobStore::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub key: String,
    pub size: u64,
    /// Last modification, milliseconds since the Unix epoch.
    pub modified_ms: i64,
}

/// An object (or the requested part of it) being read.
pub struct Object {
    /// Size of the whole object, whatever range was asked for.
    pub size: u64,
    /// The requested range, or the whole object.
    pub body: ByteStream,
}

#[derive(Debug, thiserror::Error)]
pub enum BlobStoreError {
    #[error("blob storage I/O: {0}")]
    Io(#[from] std::io::Error),
    /// Names the operation and the key; never carries credentials.
    #[error("S3: {0}")]
    S3(String),
    #[error("invalid blob key: {0}")]
    BadKey(String),
}

#[async_trait::async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// `"local"` or `"s3"`, for logs and the readiness report.
    fn name(&self) -> &'static str;
    /// Stores the file's contents under `key`, replacing any object there; readers see the old
    /// or the new object, never a partial one.
    async fn put_file(&self, key: &str, file: &Path) -> Result<(), BlobStoreError>;
    /// The object's size, `None` if absent.
    async fn size(&self, key: &str) -> Result<Option<u64>, BlobStoreError>;
    /// Streams the object, or `range` of it (end exclusive; must lie within the object).
    /// `None` if absent.
    async fn get(
        &self,
        key: &str,
        range: Option<Range<u64>>,
    ) -> Result<Option<Object>, BlobStoreError>;
    /// Streams the whole object into `out` (created or truncated); `false`, with `out`
    /// untouched, if absent. On error `out` is removed rather than left half-written.
    async fn fetch_to_file(&self, key: &str, out: &Path) -> Result<bool, BlobStoreError>;
    /// Removes the object; an absent object is not an error.
    async fn delete(&self, key: &str) -> Result<(), BlobStoreError>;
    /// Every object whose key starts with `prefix` (a string prefix: `"a/b"` also matches
    /// `"a/bc"`), sorted by key. `""` lists everything.
    async fn list(&self, prefix: &str) -> Result<Vec<Listed>, BlobStoreError>;
    /// Readiness: the directory is writable / the bucket is reachable with these credentials.
    async fn check(&self) -> Result<(), BlobStoreError>;
}

/// Keys are relative paths of `[a-z0-9._-]` segments joined by `/`, at most 200 bytes, with no
/// empty, `.` or `..` segment and no segment starting with `.tmp-` (reserved for temp files).
///
/// The rules are strict so that a key means the same file on every file system (no case
/// folding, no separators or traversal) and the same object in S3 (no URL-encoding surprises).
pub fn check_key(key: &str) -> Result<(), BlobStoreError> {
    let refuse = |why: &str| {
        // Echo at most a short, printable piece of what was refused: the key may come from a
        // client and end up in logs.
        let shown: String = key
            .chars()
            .take(64)
            .flat_map(char::escape_default)
            .collect();
        Err(BlobStoreError::BadKey(format!("\"{shown}\": {why}")))
    };
    if key.is_empty() {
        return refuse("empty");
    }
    if key.len() > MAX_KEY_LEN {
        return refuse("longer than 200 bytes");
    }
    for segment in key.split('/') {
        if segment.is_empty() {
            return refuse("empty segment (leading, trailing or double '/')");
        }
        if segment == "." || segment == ".." {
            return refuse("'.' or '..' segment");
        }
        if segment.starts_with(TEMP_PREFIX) {
            return refuse("segment starts with the reserved '.tmp-'");
        }
        let allowed = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b);
        if !segment.bytes().all(allowed) {
            return refuse("only a-z, 0-9, '.', '_', '-' and '/' are allowed");
        }
    }
    Ok(())
}

/// Prefixes for [`BlobStore::list`]: empty, or a key with an optional trailing `/`.
pub(super) fn check_prefix(prefix: &str) -> Result<(), BlobStoreError> {
    match prefix {
        "" => Ok(()),
        _ => check_key(prefix.strip_suffix('/').unwrap_or(prefix)),
    }
}

/// Refuses a range that is reversed or runs past the object, the same way on both backends.
pub(super) fn check_range(range: &Range<u64>, size: u64) -> Result<(), BlobStoreError> {
    if range.start > range.end || range.end > size {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("range {range:?} outside an object of {size} bytes"),
        )
        .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_rules() {
        let long_ok = format!("a/{}", "b".repeat(MAX_KEY_LEN - 2));
        for ok in [
            "a",
            "a/b.txt",
            "x-1/y_2/z.3",
            "..a",
            "a..",
            ".hidden",
            &long_ok,
        ] {
            assert!(check_key(ok).is_ok(), "{ok} should be accepted");
        }
        let too_long = format!("{long_ok}c");
        for bad in [
            "", "/a", "a/", "a//b", ".", "..", "a/../b", "./a", "A.txt", "a b", "a\\b", "ü",
            "a\0b", "a?b", "a%2f", ".tmp-x", "a/.tmp-y", &too_long,
        ] {
            assert!(
                matches!(check_key(bad), Err(BlobStoreError::BadKey(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn prefixes_may_be_empty_or_end_in_a_slash() {
        for ok in ["", "a", "a/", "a/b", "a/b/"] {
            assert!(check_prefix(ok).is_ok(), "{ok}");
        }
        for bad in ["/", "//", "../", "a//", "A/"] {
            assert!(check_prefix(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_key_message_is_short_and_printable() {
        let msg = check_key(&format!("\n{}", "Z".repeat(500)))
            .unwrap_err()
            .to_string();
        assert!(msg.len() < 200 && !msg.contains('\n'), "{msg}");
    }
}

/// The contract suite: every backend runs exactly this, through `&dyn BlobStore`.
#[cfg(test)]
pub(super) mod contract {
    use super::*;
    use std::io::ErrorKind;
    use tokio_stream::StreamExt;

    pub(crate) async fn collect(mut body: ByteStream) -> Vec<u8> {
        let mut all = Vec::new();
        while let Some(chunk) = body.next().await {
            all.extend_from_slice(&chunk.unwrap());
        }
        all
    }

    async fn read(store: &dyn BlobStore, key: &str, range: Option<Range<u64>>) -> (u64, Vec<u8>) {
        let object = store.get(key, range).await.unwrap().expect(key);
        (object.size, collect(object.body).await)
    }

    /// Bytes that do not repeat with any short period, so an offset error cannot go unseen.
    pub(crate) fn pattern(len: usize) -> Vec<u8> {
        let mut x: u32 = 0x9e37_79b9;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect()
    }

    fn is_bad_key<T>(r: Result<T, BlobStoreError>) -> bool {
        matches!(r, Err(BlobStoreError::BadKey(_)))
    }

    pub(crate) async fn run(store: &dyn BlobStore) {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str, data: &[u8]| {
            let path = dir.path().join(name);
            std::fs::write(&path, data).unwrap();
            path
        };
        let out = dir.path().join("out");
        store.check().await.unwrap();

        // Absent objects.
        assert_eq!(store.size("docs/none").await.unwrap(), None);
        assert!(store.get("docs/none", None).await.unwrap().is_none());
        assert!(store.get("docs/none", Some(0..1)).await.unwrap().is_none());
        assert!(!store.fetch_to_file("docs/none", &out).await.unwrap());
        assert!(
            !out.exists(),
            "an absent object must not create the output file"
        );
        store.delete("docs/none").await.unwrap();
        assert!(store.list("").await.unwrap().is_empty());

        // Put, size, whole and ranged reads.
        store
            .put_file("docs/a.txt", &file("a", b"hello world"))
            .await
            .unwrap();
        assert_eq!(store.size("docs/a.txt").await.unwrap(), Some(11));
        assert_eq!(
            read(store, "docs/a.txt", None).await,
            (11, b"hello world".to_vec())
        );
        assert_eq!(
            read(store, "docs/a.txt", Some(6..11)).await,
            (11, b"world".to_vec())
        );
        assert_eq!(
            read(store, "docs/a.txt", Some(0..1)).await,
            (11, b"h".to_vec())
        );
        assert_eq!(
            read(store, "docs/a.txt", Some(4..4)).await,
            (11, Vec::new())
        );
        for bad in [5..12, 11..12, 20..30] {
            let Err(BlobStoreError::Io(e)) = store.get("docs/a.txt", Some(bad.clone())).await
            else {
                panic!("range {bad:?} past the end must be refused");
            };
            assert_eq!(e.kind(), ErrorKind::InvalidInput);
        }

        // Replacing, including with a shorter object.
        store
            .put_file("docs/a.txt", &file("a2", b"bye"))
            .await
            .unwrap();
        assert_eq!(read(store, "docs/a.txt", None).await, (3, b"bye".to_vec()));

        // A source file that does not exist is an I/O error and stores nothing.
        let missing = dir.path().join("missing");
        assert!(matches!(
            store.put_file("docs/m", &missing).await,
            Err(BlobStoreError::Io(e)) if e.kind() == ErrorKind::NotFound
        ));
        assert_eq!(store.size("docs/m").await.unwrap(), None);

        // Listing is a sorted string-prefix match.
        for key in [
            "docs/b.bin",
            "docs/sub/c.txt",
            "docsx/e",
            "other/d.txt",
            "z",
        ] {
            store
                .put_file(key, &file("k", key.as_bytes()))
                .await
                .unwrap();
        }
        let keys = |listed: Vec<Listed>| listed.into_iter().map(|l| l.key).collect::<Vec<_>>();
        let docs = ["docs/a.txt", "docs/b.bin", "docs/sub/c.txt"];
        assert_eq!(keys(store.list("docs/").await.unwrap()), docs);
        assert_eq!(
            keys(store.list("docs").await.unwrap()),
            [&docs[..], &["docsx/e"]].concat()
        );
        assert_eq!(
            keys(store.list("docs/s").await.unwrap()),
            ["docs/sub/c.txt"]
        );
        assert_eq!(
            keys(store.list("docs/sub/").await.unwrap()),
            ["docs/sub/c.txt"]
        );
        assert!(store.list("nothing/").await.unwrap().is_empty());
        // A key prefix ("directory") is not an object.
        assert_eq!(store.size("docs/sub").await.unwrap(), None);
        assert!(store.get("docs/sub", None).await.unwrap().is_none());
        assert!(!store.fetch_to_file("docs/sub", &out).await.unwrap());
        store.delete("docs/sub").await.unwrap();
        assert_eq!(store.size("docs/sub/c.txt").await.unwrap(), Some(14));
        let all = store.list("").await.unwrap();
        assert_eq!(all.len(), 6);
        assert!(all.windows(2).all(|w| w[0].key < w[1].key));
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        for l in &all {
            let expected = if l.key == "docs/a.txt" {
                3
            } else {
                l.key.len() as u64
            };
            assert_eq!(l.size, expected, "{}", l.key);
            assert!(
                (l.modified_ms - now_ms).abs() < 3_600_000,
                "{l:?} vs {now_ms}"
            );
        }

        // fetch_to_file truncates whatever was in the output file.
        std::fs::write(&out, vec![b'x'; 1000]).unwrap();
        assert!(store.fetch_to_file("docs/sub/c.txt", &out).await.unwrap());
        assert_eq!(std::fs::read(&out).unwrap(), b"docs/sub/c.txt");

        // A 6 MB object round-trips byte-exact, whole, ranged and through a file.
        let big = pattern(6 * 1024 * 1024 + 7);
        store
            .put_file("big/six.bin", &file("big", &big))
            .await
            .unwrap();
        assert_eq!(
            store.size("big/six.bin").await.unwrap(),
            Some(big.len() as u64)
        );
        assert!(store.fetch_to_file("big/six.bin", &out).await.unwrap());
        assert!(std::fs::read(&out).unwrap() == big, "fetched 6 MB differs");
        let (size, whole) = read(store, "big/six.bin", None).await;
        assert!(size == big.len() as u64 && whole == big, "6 MB get differs");
        let (size, part) = read(store, "big/six.bin", Some(1_000_003..5_500_001)).await;
        assert!(size == big.len() as u64 && part == big[1_000_003..5_500_001]);
        let tail = big.len() as u64 - 10..big.len() as u64;
        assert_eq!(
            read(store, "big/six.bin", Some(tail)).await.1,
            big[big.len() - 10..]
        );

        // Bad keys are refused by every method before touching storage.
        let long = "a".repeat(201);
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            "A",
            "a b",
            ".tmp-x",
            &long,
        ] {
            assert!(
                is_bad_key(store.put_file(bad, &file("bad", b"x")).await),
                "{bad}"
            );
            assert!(is_bad_key(store.size(bad).await), "{bad}");
            assert!(
                is_bad_key(store.get(bad, None).await.map(|o| o.is_some())),
                "{bad}"
            );
            assert!(is_bad_key(store.fetch_to_file(bad, &out).await), "{bad}");
            assert!(is_bad_key(store.delete(bad).await), "{bad}");
        }
        for bad in ["/", "../", "a//", "A/"] {
            assert!(is_bad_key(store.list(bad).await), "{bad}");
        }
        // The longest allowed key works.
        let longest = format!("k/{}", "x".repeat(198));
        store.put_file(&longest, &file("l", b"long")).await.unwrap();
        assert_eq!(store.size(&longest).await.unwrap(), Some(4));

        // Delete, twice, then clear everything: the store ends empty.
        store.delete("docs/a.txt").await.unwrap();
        store.delete("docs/a.txt").await.unwrap();
        assert_eq!(store.size("docs/a.txt").await.unwrap(), None);
        assert!(store.get("docs/a.txt", None).await.unwrap().is_none());
        assert_eq!(keys(store.list("docs/").await.unwrap()), &docs[1..]);
        for l in store.list("").await.unwrap() {
            store.delete(&l.key).await.unwrap();
        }
        assert!(store.list("").await.unwrap().is_empty());
    }
}
