//! Settings: built-in defaults, then a TOML file, then `FIELDSYNC_*` environment variables;
//! the environment wins. Validated once at start; the database URL is a secret that never
//! prints.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::store::{ConnectOptions, Store, redact};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines, for a terminal.
    #[default]
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest request body, in bytes (after decompression).
    pub max_body_bytes: usize,
    /// Most mutations in one push.
    pub max_batch: usize,
    /// Most changes in one pull page (`limit` is clamped to this).
    pub max_pull_limit: usize,
    /// Page size when the phone does not ask for one.
    pub default_pull_limit: usize,
    /// How far ahead of the server's clock an edit's stamp may be, in seconds.
    pub max_clock_ahead_s: i64,
    /// Failed logins for one username within the window before logins for it pause.
    pub login_failures_per_user: i64,
    /// Failed logins from one address within the window before logins from it pause.
    pub login_failures_per_ip: i64,
    /// The login failure window, in seconds.
    pub login_window_s: i64,
    /// Take the client address from the last `X-Forwarded-For` entry (only behind a proxy
    /// that sets it; otherwise clients could pick their own address).
    pub trust_forwarded_for: bool,
    /// Self-reports one farmer account may send in 24 hours (the public channel).
    pub self_reports_per_day: i64,
    /// Days back an offline edit may have been made in a village its cadre has since been
    /// moved from, and still be taken (judged by the edit's clock stamp).
    pub late_edit_days: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 8 * 1024 * 1024,
            max_batch: 500,
            max_pull_limit: 2000,
            default_pull_limit: 500,
            max_clock_ahead_s: 3600,
            login_failures_per_user: 5,
            login_failures_per_ip: 30,
            login_window_s: 900,
            trust_forwarded_for: false,
            self_reports_per_day: 3,
            late_edit_days: 30,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// Lifetime of an access token, in seconds (at most 900).
    pub access_ttl_s: u64,
    /// Lifetime of a refresh token, in days.
    pub refresh_ttl_days: u64,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            access_ttl_s: 900,
            refresh_ttl_days: 30,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Address to listen on (`FIELDSYNC_LISTEN`).
    pub listen: SocketAddr,
    /// SQLite file and local photos live here (`FIELDSYNC_DATA_DIR`).
    pub data_dir: PathBuf,
    /// `postgres://…` to use PostgreSQL instead of the SQLite file (`FIELDSYNC_DATABASE_URL`).
    pub database_url: Option<SecretString>,
    /// 32 random bytes in base64 that encrypt ID-card numbers at rest (`FIELDSYNC_DATA_KEY`).
    /// Unset: `data_dir/data.key`, made on first start. Servers sharing one database must
    /// share this key.
    pub data_key: Option<SecretString>,
    /// When set, `GET /metrics` needs `Authorization: Bearer <token>`
    /// (`FIELDSYNC_METRICS_TOKEN`); unset, it is open (it holds counts, never personal data:
    /// keep it off the public side of the load balancer).
    pub metrics_token: Option<SecretString>,
    /// Most database connections per process.
    pub max_connections: u32,
    /// Milliseconds a request waits for the database (a free connection; on SQLite also the
    /// write lock another process holds) before it is answered 503 `unavailable`.
    pub database_wait_ms: u64,
    pub log_format: LogFormat,
    pub limits: Limits,
    pub auth: AuthSettings,
    pub gps: crate::geo::GpsLimits,
    pub blobs: BlobSettings,
    pub monitoring: MonitoringSettings,
    pub clients: ClientSettings,
    pub console: ConsoleSettings,
}

/// The review console in the browser (`[console]`).
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleSettings {
    /// Hours a sign-in lasts, however busy (the cookie's lifetime).
    pub session_hours: u32,
    /// Mark the sign-in cookie `Secure` (sent over HTTPS only). Unset: when the request came
    /// over HTTPS, as the load balancer says in `X-Forwarded-Proto` (only believed with
    /// `limits.trust_forwarded_for`).
    pub secure_cookie: Option<bool>,
    /// Map tiles under the village map, `https://…/{z}/{x}/{y}.png` (Web Mercator). Unset: the
    /// map draws the village's boundary and points alone, with no tile server.
    pub tile_url: Option<String>,
}

impl Default for ConsoleSettings {
    fn default() -> Self {
        ConsoleSettings {
            session_hours: 12,
            secure_cookie: None,
            tile_url: None,
        }
    }
}

/// The phone apps (`[clients]`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientSettings {
    /// The oldest app version served (`1.4.0`): an older one (by `X-Fieldsync-App-Version`)
    /// gets `426 upgrade_required` on every request, before it can write anything. Unset:
    /// every version is served.
    pub min_version: Option<String>,
}

/// The monitoring procedure (`[monitoring]`).
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MonitoringSettings {
    /// The monitoring line per year, yuan per person (`"2021" = 6000`): a year without its own
    /// line uses the latest earlier one. Risk counts as eliminated above the line × 1.1.
    pub lines: std::collections::BTreeMap<String, f64>,
    /// How often overdue tasks are looked for and escalated to the team leader, in seconds
    /// (0: never; `fieldsync admin escalate-tasks` does it on demand).
    pub escalate_every_s: u64,
}

impl Default for MonitoringSettings {
    fn default() -> Self {
        MonitoringSettings {
            lines: [("2021".to_owned(), 6000.0)].into_iter().collect(),
            escalate_every_s: 3600,
        }
    }
}

impl MonitoringSettings {
    /// The line for a year: its own, else the latest earlier one.
    pub fn line_for(&self, year: i32) -> Option<f64> {
        self.lines
            .iter()
            .filter_map(|(y, line)| Some((y.parse::<i32>().ok()?, *line)))
            .filter(|(y, _)| *y <= year)
            .max_by_key(|(y, _)| *y)
            .map(|(_, line)| line)
    }
}

/// Photos: limits, processing and where the bytes are kept (`[blobs]`).
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BlobSettings {
    /// Largest photo, in bytes.
    pub max_photo_bytes: u64,
    /// Most bytes one device may upload per day (UTC+8): a phone stuck in a retry loop, or a
    /// stolen token, cannot fill the disk.
    pub max_device_bytes_per_day: u64,
    /// Largest picture decoded (width × height): anything larger is refused from its header,
    /// before a byte of pixels is allocated.
    pub max_pixels: u64,
    /// Longest side of thumbnails, in pixels.
    pub thumb_px: u32,
    /// Photos processed at once by this process; 0 = one per CPU core.
    pub workers: usize,
    /// Days an unreferenced photo is kept: phones upload photos before the record that names
    /// them, and may be offline for days in between.
    pub grace_days: u32,
    /// Days an unfinished chunked upload is kept for resuming.
    pub unfinished_days: u32,
    /// Wait before a photo whose processing failed for a reason other than the photo (the
    /// blob store or the disk failing) is tried again, in milliseconds; doubles with each
    /// attempt up to `retry_max_ms`. Such a photo is never given up.
    pub retry_first_ms: u64,
    /// Longest wait between two attempts at one photo, in milliseconds.
    pub retry_max_ms: u64,
    /// `local` (under the data directory) or `s3`.
    pub backend: BlobBackend,
    pub s3: S3Settings,
}

impl Default for BlobSettings {
    fn default() -> Self {
        BlobSettings {
            max_photo_bytes: 20 * 1024 * 1024,
            max_device_bytes_per_day: 1024 * 1024 * 1024,
            max_pixels: 64_000_000,
            thumb_px: 320,
            workers: 0,
            grace_days: 30,
            unfinished_days: 7,
            retry_first_ms: 5_000,
            retry_max_ms: 15 * 60 * 1000,
            backend: BlobBackend::Local,
            s3: S3Settings::default(),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlobBackend {
    #[default]
    Local,
    S3,
}

/// An S3-compatible bucket (AWS, MinIO, Ceph, Aliyun OSS …).
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct S3Settings {
    /// `https://…`; unset for AWS itself.
    pub endpoint: Option<String>,
    pub region: String,
    pub bucket: String,
    /// Prepended to every key, e.g. `fieldsync/`.
    pub prefix: String,
    pub access_key_id: String,
    pub secret_access_key: SecretString,
    /// Bucket in the path instead of the host name (MinIO, Ceph and most self-hosted stores).
    pub path_style: bool,
}

impl Default for S3Settings {
    fn default() -> Self {
        S3Settings {
            endpoint: None,
            region: "us-east-1".to_owned(),
            bucket: String::new(),
            prefix: String::new(),
            access_key_id: String::new(),
            secret_access_key: SecretString::from(String::new()),
            path_style: true,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("data"),
            database_url: None,
            data_key: None,
            metrics_token: None,
            max_connections: 16,
            database_wait_ms: 10_000,
            log_format: LogFormat::Pretty,
            limits: Limits::default(),
            auth: AuthSettings::default(),
            gps: crate::geo::GpsLimits::default(),
            blobs: BlobSettings::default(),
            monitoring: MonitoringSettings::default(),
            clients: ClientSettings::default(),
            console: ConsoleSettings::default(),
        }
    }
}

/// Top-level keys, for telling real settings from typos in the environment.
const KEYS: &[&str] = &[
    "listen",
    "data_dir",
    "database_url",
    "data_key",
    "metrics_token",
    "max_connections",
    "database_wait_ms",
    "log_format",
    "limits",
    "auth",
    "gps",
    "blobs",
    "monitoring",
    "clients",
    "console",
];

/// Variables with the prefix that are not settings but are read elsewhere.
const OTHER_VARS: &[&str] = &["FIELDSYNC_CONFIG", "FIELDSYNC_LOG"];
const OTHER_PREFIXES: &[&str] = &["FIELDSYNC_TEST_", "FIELDSYNC_BENCH_"];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Figment(#[from] Box<figment::Error>),
    #[error("configuration: {0}")]
    Invalid(String),
}

/// Loaded settings and the warnings to log once logging is up.
pub struct Loaded {
    pub settings: Settings,
    pub warnings: Vec<String>,
}

impl Settings {
    /// Loads settings from `file` (if given, it must exist) and the process environment.
    pub fn load(file: Option<&Path>) -> Result<Loaded, ConfigError> {
        Self::load_from(file, std::env::vars())
    }

    /// Like [`Settings::load`] with an explicit environment, for tests.
    pub fn load_from(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Loaded, ConfigError> {
        let env: Vec<(String, String)> = env.into_iter().collect();
        let mut warnings = Vec::new();
        let mut figment = Figment::new();
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::Invalid(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        let mut known: Vec<(String, String)> = Vec::new();
        for (k, v) in env.iter().filter(|(k, _)| k.starts_with("FIELDSYNC_")) {
            if OTHER_VARS.contains(&k.as_str()) || OTHER_PREFIXES.iter().any(|p| k.starts_with(p)) {
                continue;
            }
            let key = k["FIELDSYNC_".len()..].to_ascii_lowercase();
            let top = key.split("__").next().unwrap_or("");
            if KEYS.contains(&top) {
                known.push((k.clone(), v.clone()));
            } else {
                warnings.push(format!("ignoring unknown environment variable {k}"));
            }
        }
        // Only the known variables reach figment, nested at `__` as figment's `Env::split` would.
        let figment = figment.merge(figment::providers::Serialized::defaults(nest(&known)));
        let settings: Settings = figment.extract().map_err(Box::new)?;
        settings.validate()?;
        Ok(Loaded { settings, warnings })
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.to_owned()));
        if self.auth.access_ttl_s == 0 || self.auth.access_ttl_s > 900 {
            return bad("auth.access_ttl_s must be within 1..=900 (access tokens are short-lived)");
        }
        if self.limits.max_batch == 0
            || self.limits.max_pull_limit == 0
            || self.limits.default_pull_limit == 0
            || self.limits.login_failures_per_user <= 0
            || self.limits.login_failures_per_ip <= 0
            || self.limits.login_window_s <= 0
        {
            return bad("limits must be positive");
        }
        if self.limits.default_pull_limit > self.limits.max_pull_limit {
            return bad("limits.default_pull_limit exceeds limits.max_pull_limit");
        }
        if self.max_connections == 0 {
            return bad("max_connections must be positive");
        }
        if !(100..=600_000).contains(&self.database_wait_ms) {
            return bad("database_wait_ms is 100 to 600000");
        }
        // An empty token would let `Authorization: Bearer ` with nothing after it through.
        if self
            .metrics_token
            .as_ref()
            .is_some_and(|t| t.expose_secret().trim().len() < 16)
        {
            return bad(
                "metrics_token must have at least 16 characters (leave it unset to serve /metrics without one)",
            );
        }
        let b = &self.blobs;
        if b.max_photo_bytes == 0 || b.max_pixels == 0 || b.thumb_px < 32 || b.grace_days == 0 {
            return bad(
                "blobs: max_photo_bytes, max_pixels, grace_days must be positive and thumb_px at least 32",
            );
        }
        if b.retry_first_ms == 0 || b.retry_max_ms < b.retry_first_ms {
            return bad("blobs: retry_first_ms must be positive and retry_max_ms at least as long");
        }
        if b.backend == BlobBackend::S3 && (b.s3.bucket.is_empty() || b.s3.access_key_id.is_empty())
        {
            return bad(
                "blobs.backend = \"s3\" needs blobs.s3.bucket and blobs.s3.access_key_id (and FIELDSYNC_BLOBS__S3__SECRET_ACCESS_KEY)",
            );
        }
        let m = &self.monitoring;
        if m.lines.is_empty()
            || m.lines.iter().any(|(year, line)| {
                year.parse::<i32>().is_err() || !line.is_finite() || *line <= 0.0
            })
        {
            return bad(
                "monitoring.lines maps years to the line in yuan per person, e.g. \"2021\" = 6000",
            );
        }
        if let Some(v) = &self.clients.min_version
            && fieldsync_protocol::client::version_numbers(v).is_none()
        {
            return Err(ConfigError::Invalid(format!(
                "clients.min_version {v:?} is not a version such as 1.4.0"
            )));
        }
        if !(1..=24 * 30).contains(&self.console.session_hours) {
            return bad("console.session_hours is 1 to 720");
        }
        if let Some(u) = &self.console.tile_url
            && (!(u.starts_with("https://") || u.starts_with("http://"))
                || !(u.contains("{z}") && u.contains("{x}") && u.contains("{y}")))
        {
            return bad("console.tile_url is an http(s) URL with {z}, {x} and {y}");
        }
        if let Some(url) = &self.database_url {
            let url = url.expose_secret();
            if !(url.starts_with("sqlite:")
                || url.starts_with("postgres://")
                || url.starts_with("postgresql://"))
            {
                return Err(ConfigError::Invalid(format!(
                    "database_url {:?} must start with sqlite: or postgres://",
                    redact(url)
                )));
            }
        }
        Ok(())
    }

    /// The database to use: `database_url`, or the SQLite file in `data_dir`.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.expose_secret().to_owned(),
            None => Store::sqlite_url(&self.data_dir),
        }
    }

    /// The database URL for messages, password hidden.
    pub fn database_url_redacted(&self) -> String {
        redact(&self.database_url())
    }

    pub fn connect_options(&self) -> ConnectOptions {
        ConnectOptions {
            max_connections: self.max_connections,
            wait: std::time::Duration::from_millis(self.database_wait_ms),
        }
    }
}

/// Turns `FIELDSYNC_LIMITS__MAX_BATCH=5` into `{"limits": {"max_batch": "5"}}`. Values stay
/// strings; figment converts them to the field's type.
fn nest(vars: &[(String, String)]) -> figment::value::Dict {
    use figment::value::{Dict, Value};
    fn insert(dict: &mut Dict, path: &[&str], value: Value) {
        match path {
            [] => {}
            [last] => {
                dict.insert((*last).to_owned(), value);
            }
            [first, rest @ ..] => {
                let entry = dict
                    .entry((*first).to_owned())
                    .or_insert_with(|| Value::from(Dict::new()));
                if let Value::Dict(_, inner) = entry {
                    insert(inner, rest, value);
                }
            }
        }
    }
    let mut root = Dict::new();
    for (k, v) in vars {
        let key = k["FIELDSYNC_".len()..].to_ascii_lowercase();
        let path: Vec<&str> = key.split("__").collect();
        let value = v
            .parse::<Value>()
            .unwrap_or_else(|_| Value::from(v.clone()));
        insert(&mut root, &path, value);
    }
    root
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_need_nothing() {
        let l = Settings::load_from(None, env(&[])).unwrap();
        assert_eq!(l.settings.listen.port(), 8080);
        assert!(l.settings.database_url().starts_with("sqlite:"));
        assert!(l.warnings.is_empty());
    }

    #[test]
    fn environment_beats_the_file() {
        let dir = std::env::temp_dir().join(format!("fieldsync-config-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("fieldsync.toml");
        std::fs::write(
            &file,
            "listen = \"0.0.0.0:9000\"\ndata_dir = \"/srv/fieldsync\"\n[limits]\nmax_batch = 100\n",
        )
        .unwrap();
        let l = Settings::load_from(
            Some(&file),
            env(&[
                ("FIELDSYNC_LISTEN", "127.0.0.1:7000"),
                ("FIELDSYNC_LIMITS__MAX_BATCH", "50"),
                ("FIELDSYNC_LISTN", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(l.settings.listen.to_string(), "127.0.0.1:7000");
        assert_eq!(l.settings.data_dir, PathBuf::from("/srv/fieldsync"));
        assert_eq!(l.settings.limits.max_batch, 50);
        assert_eq!(
            l.warnings,
            vec!["ignoring unknown environment variable FIELDSYNC_LISTN".to_owned()]
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn secrets_do_not_print_and_bad_values_fail() {
        let l = Settings::load_from(
            None,
            env(&[("FIELDSYNC_DATABASE_URL", "postgres://u:hunter2@db/x")]),
        )
        .unwrap();
        assert!(!format!("{:?}", l.settings).contains("hunter2"));
        assert_eq!(l.settings.database_url_redacted(), "postgres://u:***@db/x");
        assert!(
            Settings::load_from(None, env(&[("FIELDSYNC_DATABASE_URL", "mysql://x")])).is_err()
        );
        assert!(
            Settings::load_from(None, env(&[("FIELDSYNC_AUTH__ACCESS_TTL_S", "3600")])).is_err()
        );
        assert!(Settings::load_from(None, env(&[("FIELDSYNC_LISTEN", "nowhere")])).is_err());
        // An empty (or guessable) metrics token would open /metrics to `Bearer ` alone.
        assert!(Settings::load_from(None, env(&[("FIELDSYNC_METRICS_TOKEN", "\"\"")])).is_err());
        assert!(Settings::load_from(None, env(&[("FIELDSYNC_METRICS_TOKEN", "short")])).is_err());
        assert!(
            Settings::load_from(
                None,
                env(&[("FIELDSYNC_METRICS_TOKEN", "a-long-enough-metrics-token")])
            )
            .is_ok()
        );
    }
}
