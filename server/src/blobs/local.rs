//! Blobs as files under one directory: the default, for a server with its own disk.
//!
//! Key `a/b.jpg` is the file `<root>/a/b.jpg`; [`check_key`] keeps every key inside the root.
//! `put_file` copies into a `.tmp-*` file in the destination directory, fsyncs it, renames it
//! over the target and fsyncs the directory: a reader sees the old file or the new one, and
//! once `put_file` returns the object survives a crash. A reader that opened the old file keeps
//! reading the old bytes. Temp files orphaned by a crash never collide with keys (the `.tmp-`
//! prefix is not a valid key segment) and `list` skips them, as it skips any file whose path
//! is not a valid key.
//!
//! `delete` leaves empty directories behind: pruning them would race with a `put_file` creating
//! a file in the same directory, and they cost nothing. Because keys are paths, `a` and `a/b`
//! cannot both exist here (S3 allows it); the server's key scheme must not need both.
//!
//! std::fs work runs on tokio's blocking pool, as tokio::fs itself does.

use std::io::{self, ErrorKind, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use super::store::{
    BlobStore, BlobStoreError, ByteStream, Listed, Object, TEMP_PREFIX, check_key, check_prefix,
    check_range,
};

/// Read size for streamed bodies: large enough to keep syscalls per MB low.
const CHUNK: usize = 64 * 1024;

pub struct LocalDisk {
    root: PathBuf,
}

impl LocalDisk {
    /// Uses `root` (created if missing) as the store's directory.
    pub fn new(root: PathBuf) -> io::Result<Self> {
        std::fs::create_dir_all(&root)?;
        Ok(Self { root })
    }

    fn path(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }
}

/// `NotADirectory` too: under key `a/b`, `a` may be a file, which also means "no such object".
fn is_absent(e: &io::Error) -> bool {
    matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory)
}

async fn blocking<T, F>(work: F) -> Result<T, BlobStoreError>
where
    T: Send + 'static,
    F: FnOnce() -> io::Result<T> + Send + 'static,
{
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => Ok(result?),
        // Only a panic in `work` gets here; report it rather than take the caller down.
        Err(join) => Err(io::Error::other(join).into()),
    }
}

/// Opens a stored file; `None` if absent or if the path is a directory (a key prefix).
async fn open_object(path: &Path) -> io::Result<Option<(tokio::fs::File, u64)>> {
    let file = match tokio::fs::File::open(path).await {
        Ok(file) => file,
        Err(e) if is_absent(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    // The open handle's metadata, so size and bytes belong to the same version of the object.
    let meta = file.metadata().await?;
    Ok(meta.is_file().then_some((file, meta.len())))
}

fn millis(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
    }
}

fn put_blocking(root: &Path, dest: &Path, src: &Path) -> io::Result<()> {
    // Open the source first: a missing source must not leave directories behind.
    let mut source = std::fs::File::open(src)?;
    let dir = dest.parent().unwrap_or(root);
    let new_dir = !dir.is_dir();
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempfile_in(dir)?;
    io::copy(&mut source, tmp.as_file_mut())?;
    tmp.as_file().sync_all()?;
    tmp.persist(dest).map_err(|e| e.error)?;
    std::fs::File::open(dir)?.sync_all()?;
    if new_dir {
        // Directories just created are only durable once their parents are synced too.
        for parent in dir.ancestors().skip(1).take_while(|p| p.starts_with(root)) {
            std::fs::File::open(parent)?.sync_all()?;
        }
    }
    Ok(())
}

fn fetch_blocking(src: &Path, out: &Path) -> io::Result<bool> {
    let mut source = match std::fs::File::open(src) {
        Ok(file) => file,
        Err(e) if is_absent(&e) => return Ok(false),
        Err(e) => return Err(e),
    };
    if !source.metadata()?.is_file() {
        return Ok(false);
    }
    let mut dst = std::fs::File::create(out)?;
    if let Err(e) = io::copy(&mut source, &mut dst) {
        drop(dst);
        if let Err(cleanup) = std::fs::remove_file(out) {
            tracing::warn!(out = %out.display(), error = %cleanup, "removing partial blob copy");
        }
        return Err(e);
    }
    Ok(true)
}

/// Collects the files whose keys start with `prefix`, starting in directory `start` (the part
/// of `prefix` before its last `/`, so no directory outside the prefix is read).
fn list_blocking(root: &Path, start: &str, prefix: &str) -> io::Result<Vec<Listed>> {
    let mut found = Vec::new();
    let mut pending = vec![start.to_owned()];
    while let Some(dir_key) = pending.pop() {
        let entries = match std::fs::read_dir(root.join(&dir_key)) {
            Ok(entries) => entries,
            // Absent, or deleted while we walk: nothing listed from it.
            Err(e) if is_absent(&e) => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            // A name that is not UTF-8 is not a key: not ours.
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let key = match dir_key.as_str() {
                "" => name,
                dir => format!("{dir}/{name}"),
            };
            // Fails only if the entry vanished meanwhile; symlinks are neither file nor dir
            // here and are skipped, so nothing outside the root is ever listed.
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                let as_dir = format!("{key}/");
                if (as_dir.starts_with(prefix) || prefix.starts_with(&as_dir))
                    && check_key(&key).is_ok()
                {
                    pending.push(key);
                }
            } else if kind.is_file() && key.starts_with(prefix) && check_key(&key).is_ok() {
                let meta = match entry.metadata() {
                    Ok(meta) => meta,
                    Err(e) if is_absent(&e) => continue,
                    Err(e) => return Err(e),
                };
                let modified_ms = millis(meta.modified()?);
                found.push(Listed {
                    key,
                    size: meta.len(),
                    modified_ms,
                });
            }
        }
    }
    Ok(found)
}

#[async_trait::async_trait]
impl BlobStore for LocalDisk {
    fn name(&self) -> &'static str {
        "local"
    }

    async fn put_file(&self, key: &str, file: &Path) -> Result<(), BlobStoreError> {
        check_key(key)?;
        let (root, dest, src) = (self.root.clone(), self.path(key), file.to_path_buf());
        blocking(move || put_blocking(&root, &dest, &src)).await
    }

    async fn size(&self, key: &str) -> Result<Option<u64>, BlobStoreError> {
        check_key(key)?;
        match tokio::fs::metadata(self.path(key)).await {
            Ok(meta) => Ok(meta.is_file().then_some(meta.len())),
            Err(e) if is_absent(&e) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn get(
        &self,
        key: &str,
        range: Option<Range<u64>>,
    ) -> Result<Option<Object>, BlobStoreError> {
        check_key(key)?;
        let Some((mut file, size)) = open_object(&self.path(key)).await? else {
            return Ok(None);
        };
        let body: ByteStream = match range {
            None => Box::pin(ReaderStream::with_capacity(file, CHUNK)),
            Some(range) => {
                check_range(&range, size)?;
                file.seek(SeekFrom::Start(range.start)).await?;
                let part = file.take(range.end - range.start);
                Box::pin(ReaderStream::with_capacity(part, CHUNK))
            }
        };
        Ok(Some(Object { size, body }))
    }

    async fn fetch_to_file(&self, key: &str, out: &Path) -> Result<bool, BlobStoreError> {
        check_key(key)?;
        let (src, out) = (self.path(key), out.to_path_buf());
        blocking(move || fetch_blocking(&src, &out)).await
    }

    async fn delete(&self, key: &str) -> Result<(), BlobStoreError> {
        check_key(key)?;
        let path = self.path(key);
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if is_absent(&e) => Ok(()),
            // A directory is a key prefix, not an object: as on S3, nothing to delete.
            Err(_) if tokio::fs::metadata(&path).await.is_ok_and(|m| m.is_dir()) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<Listed>, BlobStoreError> {
        check_prefix(prefix)?;
        let start = prefix
            .rsplit_once('/')
            .map_or("", |(dir, _)| dir)
            .to_owned();
        let (root, prefix) = (self.root.clone(), prefix.to_owned());
        let mut found = blocking(move || list_blocking(&root, &start, &prefix)).await?;
        found.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        Ok(found)
    }

    async fn check(&self) -> Result<(), BlobStoreError> {
        let root = self.root.clone();
        blocking(move || {
            // Creating a file proves more than a permission check (read-only mounts, full
            // disks); the probe is deleted when dropped.
            let mut probe = tempfile::Builder::new()
                .prefix(&format!("{TEMP_PREFIX}check-"))
                .tempfile_in(&root)?;
            probe.write_all(b"ok")
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::super::store::contract;
    use super::*;

    #[tokio::test]
    async fn local_disk_meets_the_contract() {
        let dir = tempfile::tempdir().unwrap();
        contract::run(&LocalDisk::new(dir.path().join("nested/blobs")).unwrap()).await;
    }

    #[tokio::test]
    async fn keys_are_files_under_the_root_and_no_temp_files_remain() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("blobs");
        let store = LocalDisk::new(root.clone()).unwrap();
        let src = dir.path().join("src");
        std::fs::write(&src, b"one").unwrap();
        store.put_file("a/b/c.txt", &src).await.unwrap();
        store.put_file("a/b/c.txt", &src).await.unwrap();
        store.check().await.unwrap();
        assert_eq!(std::fs::read(root.join("a/b/c.txt")).unwrap(), b"one");
        let names = |d: &Path| {
            let mut n: Vec<_> = std::fs::read_dir(d)
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            n.sort();
            n
        };
        assert_eq!(names(&root.join("a/b")), ["c.txt"]);
        assert_eq!(names(&root), ["a"]);
    }

    #[tokio::test]
    async fn list_skips_what_is_not_a_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDisk::new(dir.path().to_path_buf()).unwrap();
        std::fs::create_dir_all(dir.path().join("d/Upper")).unwrap();
        for junk in [
            ".tmp-crashed",
            "README.TXT",
            "d/.tmp-x",
            "d/Upper/f",
            "d/has space",
        ] {
            std::fs::write(dir.path().join(junk), b"junk").unwrap();
        }
        std::fs::write(dir.path().join("d/ok"), b"fine").unwrap();
        std::os::unix::fs::symlink("/etc/hostname", dir.path().join("d/link")).unwrap();
        let listed = store.list("").await.unwrap();
        assert_eq!(
            listed.iter().map(|l| l.key.as_str()).collect::<Vec<_>>(),
            ["d/ok"]
        );
    }

    #[tokio::test]
    async fn an_open_reader_keeps_the_old_bytes_across_a_replace() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDisk::new(dir.path().join("b")).unwrap();
        let (old, new) = (dir.path().join("old"), dir.path().join("new"));
        std::fs::write(&old, contract::pattern(300_000)).unwrap();
        std::fs::write(&new, b"new").unwrap();
        store.put_file("k", &old).await.unwrap();
        let reading = store.get("k", None).await.unwrap().unwrap();
        store.put_file("k", &new).await.unwrap();
        assert!(contract::collect(reading.body).await == contract::pattern(300_000));
        assert_eq!(store.size("k").await.unwrap(), Some(3));
    }

    #[tokio::test]
    async fn check_fails_when_the_root_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDisk::new(dir.path().join("gone")).unwrap();
        std::fs::remove_dir(dir.path().join("gone")).unwrap();
        assert!(matches!(store.check().await, Err(BlobStoreError::Io(_))));
    }
}
