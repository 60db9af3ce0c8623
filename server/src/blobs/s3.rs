//! Blobs in an S3 bucket (AWS or a compatible server such as MinIO, Garage or, in tests, moto),
//! for deployments whose servers have no durable disk of their own.
//!
//! Key `a/b.jpg` is the object `<prefix>a/b.jpg`. Each object is one PUT (files are at most
//! 25 MB), which S3 applies atomically. The client is built without aws-config (no environment,
//! profile or IMDS lookups: the settings are all there is) and computes checksums only when an
//! operation requires them, because several S3-compatible servers reject the SDK's default
//! CRC32 trailers. Errors carry the operation, `s3://bucket/key` and the server's error code
//! or the chain of causes; the secret lives only in the credentials provider, whose `Debug`
//! redacts it.
//!
//! HEAD responses have no body, so `size` cannot tell a missing object from a missing bucket:
//! both read as absent. `check` (HEAD bucket) is what catches a wrong bucket.

use std::fmt;
use std::io::{self, ErrorKind};
use std::ops::Range;
use std::path::Path;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream as SdkByteStream;
use aws_smithy_http_client::{Builder, tls};
use tokio::io::AsyncWriteExt;
use tokio_util::io::ReaderStream;

use super::store::{
    BlobStore, BlobStoreError, Listed, Object, check_key, check_prefix, check_range,
};

/// Read size for streamed bodies, as in the local store.
const CHUNK: usize = 64 * 1024;

#[derive(Clone)]
pub struct S3Settings {
    /// `None` for AWS itself; `Some("https://minio.example:9000")` for anything else.
    pub endpoint: Option<String>,
    pub region: String,
    pub bucket: String,
    /// Prepended to every key, e.g. `"fieldsync/"`; a missing trailing `/` is added.
    pub prefix: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// `bucket` in the path rather than the host name: what most non-AWS servers need.
    pub path_style: bool,
}

impl fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Settings")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"** redacted **")
            .field("path_style", &self.path_style)
            .finish()
    }
}

pub struct S3Store {
    client: aws_sdk_s3::Client,
    bucket: String,
    /// Empty, or ends with `/`.
    prefix: String,
    /// Objects per `list_objects_v2` page; only tests lower it, to exercise pagination.
    page_size: i32,
}

impl S3Store {
    /// Builds the client; nothing is sent until the first operation (call `check` at startup).
    pub fn new(settings: &S3Settings) -> Self {
        let http = Builder::new()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let credentials = Credentials::new(
            &settings.access_key_id,
            &settings.secret_access_key,
            None,
            None,
            "fieldsync",
        );
        let mut config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(settings.region.clone()))
            .force_path_style(settings.path_style)
            .credentials_provider(credentials)
            .http_client(http)
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
            // Without a read timeout a store that accepts the connection and never answers
            // would hang uploads and the readiness probe for good.
            .timeout_config(
                aws_sdk_s3::config::timeout::TimeoutConfig::builder()
                    .connect_timeout(std::time::Duration::from_secs(5))
                    .read_timeout(std::time::Duration::from_secs(30))
                    .build(),
            );
        if let Some(endpoint) = &settings.endpoint {
            config = config.endpoint_url(endpoint);
        }
        let prefix = settings.prefix.trim_start_matches('/');
        let prefix = match prefix {
            "" => String::new(),
            p if p.ends_with('/') => p.to_owned(),
            p => format!("{p}/"),
        };
        Self {
            client: aws_sdk_s3::Client::from_conf(config.build()),
            bucket: settings.bucket.clone(),
            prefix,
            page_size: 1000,
        }
    }

    /// Creates the bucket (a fresh test server, or setting up a new store); one this account
    /// already owns is fine.
    pub async fn create_bucket(&self) -> Result<(), BlobStoreError> {
        match self
            .client
            .create_bucket()
            .bucket(&self.bucket)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_bucket_already_owned_by_you()) =>
            {
                Ok(())
            }
            Err(e) => Err(self.error("create_bucket", "", e)),
        }
    }

    fn object_key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    fn error<E>(
        &self,
        operation: &str,
        object: &str,
        err: SdkError<E, HttpResponse>,
    ) -> BlobStoreError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let bucket = &self.bucket;
        BlobStoreError::S3(format!(
            "{operation} s3://{bucket}/{object}: {}",
            describe(&err)
        ))
    }

    /// The object's size from a HEAD; `None` if absent.
    async fn head(&self, key: &str) -> Result<Option<u64>, BlobStoreError> {
        let object = self.object_key(key);
        let head = self.client.head_object().bucket(&self.bucket).key(&object);
        match head.send().await {
            Ok(out) => Ok(Some(known_size(
                out.content_length(),
                "head_object",
                &object,
            )?)),
            Err(e) if is_missing(&e) => Ok(None),
            Err(e) => Err(self.error("head_object", &object, e)),
        }
    }

    /// GET of the object or a range of it; `None` if absent.
    async fn fetch(
        &self,
        object: &str,
        range: Option<&Range<u64>>,
    ) -> Result<Option<aws_sdk_s3::operation::get_object::GetObjectOutput>, BlobStoreError> {
        let mut get = self.client.get_object().bucket(&self.bucket).key(object);
        if let Some(r) = range {
            // HTTP ranges are inclusive; callers pass non-empty ranges only.
            get = get.range(format!("bytes={}-{}", r.start, r.end - 1));
        }
        match get.send().await {
            Ok(out) => Ok(Some(out)),
            Err(e) if is_missing(&e) => Ok(None),
            // 416: the range starts at or past the end; refused like the local store does.
            Err(e) if status(&e) == Some(416) => Err(io::Error::new(
                ErrorKind::InvalidInput,
                format!("range {range:?} outside s3://{}/{object}", self.bucket),
            )
            .into()),
            Err(e) => Err(self.error("get_object", object, e)),
        }
    }
}

/// One line for the log: status, code and message from the server, or the chain of causes
/// (connect errors, timeouts). The SDK's own `DisplayErrorContext` appends a Debug dump of the
/// whole response, headers and body, which is too much for a log line.
fn describe<E>(err: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match (err, status(err)) {
        (SdkError::ServiceError(_), Some(status)) => {
            let code = err.code().unwrap_or("no error code");
            match err.message() {
                Some(message) => format!("HTTP {status} {code}: {message}"),
                None => format!("HTTP {status} {code}"),
            }
        }
        _ => causes(err),
    }
}

/// `err` and its sources, joined by `: `.
fn causes(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn status<E>(err: &SdkError<E, HttpResponse>) -> Option<u16> {
    err.raw_response().map(|r| r.status().as_u16())
}

/// 404 means "no such object" unless the body says the bucket is what is missing (a wrong
/// bucket must be an error, not an empty store). HEAD 404s carry no code at all.
fn is_missing<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    status(err) == Some(404) && err.code() != Some("NoSuchBucket")
}

fn known_size(length: Option<i64>, operation: &str, object: &str) -> Result<u64, BlobStoreError> {
    length
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| BlobStoreError::S3(format!("{operation} {object}: no Content-Length")))
}

/// The total in `bytes 0-9/1234`; `None` for `*` or a malformed header.
fn content_range_total(header: &str) -> Option<u64> {
    header.rsplit_once('/')?.1.trim().parse().ok()
}

#[async_trait::async_trait]
impl BlobStore for S3Store {
    fn name(&self) -> &'static str {
        "s3"
    }

    async fn put_file(&self, key: &str, file: &Path) -> Result<(), BlobStoreError> {
        check_key(key)?;
        // Checked here so a missing source is `Io(NotFound)` as on the local store: the SDK
        // would wrap it in an error of kind `Other`.
        tokio::fs::metadata(file).await?;
        let body = SdkByteStream::from_path(file)
            .await
            .map_err(io::Error::from)?;
        let object = self.object_key(key);
        let put = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(&object)
            .body(body);
        match put.send().await {
            Ok(_) => Ok(()),
            Err(e) => Err(self.error("put_object", &object, e)),
        }
    }

    async fn size(&self, key: &str) -> Result<Option<u64>, BlobStoreError> {
        check_key(key)?;
        self.head(key).await
    }

    async fn get(
        &self,
        key: &str,
        range: Option<Range<u64>>,
    ) -> Result<Option<Object>, BlobStoreError> {
        check_key(key)?;
        if let Some(r) = &range
            && r.start >= r.end
        {
            // An empty HTTP range cannot be written (`bytes=5-4`); only the size is needed.
            let Some(size) = self.head(key).await? else {
                return Ok(None);
            };
            check_range(r, size)?;
            return Ok(Some(Object {
                size,
                body: Box::pin(tokio_stream::empty()),
            }));
        }
        let object = self.object_key(key);
        let Some(out) = self.fetch(&object, range.as_ref()).await? else {
            return Ok(None);
        };
        let size = match &range {
            None => known_size(out.content_length(), "get_object", &object)?,
            // A server that ignored the Range header would send no Content-Range: refuse
            // rather than hand back the whole object as if it were the range.
            Some(r) => {
                let size = out
                    .content_range()
                    .and_then(content_range_total)
                    .ok_or_else(|| {
                        BlobStoreError::S3(format!("get_object {object}: no Content-Range total"))
                    })?;
                // S3 truncates a range running past the end; refuse it as the local store does.
                check_range(r, size)?;
                size
            }
        };
        let body = ReaderStream::with_capacity(out.body.into_async_read(), CHUNK);
        Ok(Some(Object {
            size,
            body: Box::pin(body),
        }))
    }

    async fn fetch_to_file(&self, key: &str, out: &Path) -> Result<bool, BlobStoreError> {
        check_key(key)?;
        let object = self.object_key(key);
        let Some(response) = self.fetch(&object, None).await? else {
            return Ok(false);
        };
        let mut body = response.body;
        let mut file = tokio::fs::File::create(out).await?;
        let copied = async {
            loop {
                let chunk = body.try_next().await.map_err(|e| {
                    let (bucket, e) = (&self.bucket, causes(&e));
                    BlobStoreError::S3(format!("get_object s3://{bucket}/{object}: {e}"))
                })?;
                match chunk {
                    Some(chunk) => file.write_all(&chunk).await?,
                    // tokio's File writes in the background; flush waits for the last write.
                    None => return Ok::<_, BlobStoreError>(file.flush().await?),
                }
            }
        }
        .await;
        if copied.is_err() {
            drop(file);
            if let Err(cleanup) = tokio::fs::remove_file(out).await {
                tracing::warn!(out = %out.display(), error = %cleanup, "removing partial blob copy");
            }
        }
        copied.map(|()| true)
    }

    async fn delete(&self, key: &str) -> Result<(), BlobStoreError> {
        check_key(key)?;
        let object = self.object_key(key);
        match self
            .client
            .delete_object()
            .bucket(&self.bucket)
            .key(&object)
            .send()
            .await
        {
            // S3 answers 204 for absent keys; some compatible servers answer 404.
            Err(e) if !is_missing(&e) => Err(self.error("delete_object", &object, e)),
            _ => Ok(()),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<Listed>, BlobStoreError> {
        check_prefix(prefix)?;
        let full = self.object_key(prefix);
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .set_prefix((!full.is_empty()).then(|| full.clone()))
            .into_paginator()
            .page_size(self.page_size)
            .send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.error("list_objects_v2", &format!("{full}*"), e))?;
            for listed in page.contents() {
                let Some(key) = listed.key().and_then(|k| k.strip_prefix(&self.prefix)) else {
                    continue;
                };
                // Objects not written through this store (other tools, other key schemes) are
                // not ours to report: their keys could not be passed back to `get`.
                if check_key(key).is_err() {
                    continue;
                }
                found.push(Listed {
                    key: key.to_owned(),
                    size: listed
                        .size()
                        .and_then(|n| u64::try_from(n).ok())
                        .unwrap_or(0),
                    modified_ms: listed
                        .last_modified()
                        .and_then(|t| t.to_millis().ok())
                        .unwrap_or(0),
                });
            }
        }
        // S3 already returns keys in byte order; sorting keeps the promise for odd servers.
        found.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        Ok(found)
    }

    async fn check(&self) -> Result<(), BlobStoreError> {
        match self.client.head_bucket().bucket(&self.bucket).send().await {
            Ok(_) => Ok(()),
            Err(e) => Err(self.error("head_bucket", "", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::store::contract;
    use super::*;

    const SECRET: &str = "s3cr3t-never-printed";

    fn settings(endpoint: &str, bucket: &str, prefix: &str) -> S3Settings {
        S3Settings {
            endpoint: Some(endpoint.to_owned()),
            region: "us-east-1".to_owned(),
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
            access_key_id: "fieldsync-test".to_owned(),
            secret_access_key: SECRET.to_owned(),
            path_style: true,
        }
    }

    /// The S3 server to test against; CI always sets it (moto), a laptop may not.
    fn endpoint() -> Option<String> {
        let endpoint = std::env::var("FIELDSYNC_TEST_S3_ENDPOINT")
            .ok()
            .filter(|e| !e.is_empty());
        if endpoint.is_none() {
            eprintln!("FIELDSYNC_TEST_S3_ENDPOINT is not set: skipping this S3 test");
        }
        endpoint
    }

    fn unique_bucket(tag: &str) -> String {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        format!("fieldsync-{tag}-{}-{nanos}", std::process::id())
    }

    /// A store on a bucket of its own, created through the store's own client.
    async fn store_on_new_bucket(endpoint: &str, tag: &str, prefix: &str) -> S3Store {
        let store = S3Store::new(&settings(endpoint, &unique_bucket(tag), prefix));
        store
            .client
            .create_bucket()
            .bucket(&store.bucket)
            .send()
            .await
            .unwrap();
        store
    }

    async fn remove_bucket(store: &S3Store) {
        let raw = store
            .client
            .list_objects_v2()
            .bucket(&store.bucket)
            .send()
            .await
            .unwrap();
        for object in raw.contents() {
            let key = object.key().unwrap();
            store
                .client
                .delete_object()
                .bucket(&store.bucket)
                .key(key)
                .send()
                .await
                .unwrap();
        }
        store
            .client
            .delete_bucket()
            .bucket(&store.bucket)
            .send()
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn s3_meets_the_contract() {
        let Some(endpoint) = endpoint() else { return };
        let mut store = store_on_new_bucket(&endpoint, "contract", "fieldsync/").await;
        // Pages of two objects, so every list in the contract crosses page boundaries.
        store.page_size = 2;
        contract::run(&store).await;
        remove_bucket(&store).await;
    }

    #[tokio::test]
    async fn s3_without_a_prefix_meets_the_contract() {
        let Some(endpoint) = endpoint() else { return };
        let store = store_on_new_bucket(&endpoint, "noprefix", "").await;
        contract::run(&store).await;
        remove_bucket(&store).await;
    }

    #[tokio::test]
    async fn objects_live_under_the_prefix_and_foreign_ones_are_not_listed() {
        let Some(endpoint) = endpoint() else { return };
        let store = store_on_new_bucket(&endpoint, "prefix", "/blobs").await;
        assert_eq!(store.prefix, "blobs/");
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::write(&src, b"x").unwrap();
        store.put_file("a/b", &src).await.unwrap();
        for foreign in ["blobs/Upper", "blobs/a b", "other/c", "blobsx"] {
            let put = store.client.put_object().bucket(&store.bucket).key(foreign);
            put.body(SdkByteStream::from_static(b"y"))
                .send()
                .await
                .unwrap();
        }
        let raw = store
            .client
            .list_objects_v2()
            .bucket(&store.bucket)
            .send()
            .await
            .unwrap();
        assert!(raw.contents().iter().any(|o| o.key() == Some("blobs/a/b")));
        let listed = store.list("").await.unwrap();
        assert_eq!(
            listed.iter().map(|l| l.key.as_str()).collect::<Vec<_>>(),
            ["a/b"]
        );
        remove_bucket(&store).await;
    }

    #[tokio::test]
    async fn a_missing_bucket_is_an_error_naming_the_operation_not_the_secret() {
        let Some(endpoint) = endpoint() else { return };
        let bucket = unique_bucket("missing");
        let store = S3Store::new(&settings(&endpoint, &bucket, "p"));
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::write(&src, b"x").unwrap();
        let errors = [
            ("head_bucket", store.check().await.err()),
            ("get_object", store.get("k/v", None).await.err()),
            (
                "get_object",
                store
                    .fetch_to_file("k/v", &dir.path().join("o"))
                    .await
                    .err(),
            ),
            ("put_object", store.put_file("k/v", &src).await.err()),
            ("list_objects_v2", store.list("k/").await.err()),
        ];
        for (operation, err) in errors {
            let msg = err
                .unwrap_or_else(|| panic!("{operation} on a missing bucket"))
                .to_string();
            assert!(msg.contains(operation) && msg.contains(&bucket), "{msg}");
            assert!(!msg.contains(SECRET), "{msg}");
        }
        assert!(!dir.path().join("o").exists());
    }

    #[tokio::test]
    async fn an_unreachable_endpoint_fails_check_without_printing_the_secret() {
        // Port 9 (discard) on loopback: nothing listens there, so the connect is refused.
        let store = S3Store::new(&settings("http://127.0.0.1:9", "bucket", ""));
        let msg = store.check().await.unwrap_err().to_string();
        assert!(
            msg.contains("head_bucket s3://bucket/") && !msg.contains(SECRET),
            "{msg}"
        );
    }

    #[test]
    fn settings_debug_redacts_the_secret() {
        let shown = format!("{:?}", settings("http://x", "b", ""));
        assert!(
            shown.contains("redacted") && !shown.contains(SECRET),
            "{shown}"
        );
    }

    #[test]
    fn content_range_total_is_parsed() {
        assert_eq!(content_range_total("bytes 0-9/1234"), Some(1234));
        assert_eq!(content_range_total("bytes 0-9/*"), None);
        assert_eq!(content_range_total("garbage"), None);
    }
}
