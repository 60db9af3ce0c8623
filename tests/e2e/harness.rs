//! Runs the real `fieldsync` binary the way an operator does: built once per test run, then for
//! each test a fresh data directory (and, when `FIELDSYNC_TEST_DATABASE_URL` names a PostgreSQL
//! server, a fresh database), a free port, and settings given only as `FIELDSYNC_*` environment
//! variables. Nothing of the caller's environment leaks in: inherited `FIELDSYNC_*`, `RUST_LOG`
//! and backtrace variables are removed, so a test sees what a new user sees.
//!
//! A [`TestEnv`] outlives the servers started on it, so a test can stop a server and start
//! another on the same data, or run `fieldsync admin` before any server exists. Servers are
//! killed, databases dropped and directories removed on `Drop`.

mod server;

pub use server::{Phone, Server, free_port};

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use fieldsync_server::testing::ScratchDatabase;
use fieldsync_server::testing::photo::TestPhoto;
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

/// Every user the tests create has this password.
pub const PASSWORD: &str = "e2e-password-1";
/// 崇安社区居委会 in 兴庆区, one of the built-in Ningxia villages.
pub const VILLAGE: &str = "640104001002";

const ADMIN_TIMEOUT: Duration = Duration::from_secs(60);

/// The `fieldsync` binary. `cargo test` does not build another package's binaries for us, so
/// the first test to ask builds it; the others wait for that build.
pub fn binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(build)
}

fn build() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["build", "-p", "fieldsync-server", "--bin", "fieldsync"])
        .current_dir(&workspace)
        .output()
        .expect("cargo should start");
    assert!(
        out.status.success(),
        "cargo build of the fieldsync binary failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A relative CARGO_TARGET_DIR is relative to where cargo runs; an absolute one replaces it.
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace.join("target"), |t| workspace.join(t));
    let bin = target
        .join("debug")
        .join(format!("fieldsync{}", std::env::consts::EXE_SUFFIX));
    assert!(bin.is_file(), "cargo built no binary at {}", bin.display());
    bin
}

/// What an `admin` command printed, and how it ended.
#[derive(Debug)]
pub struct Outcome {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// One line of `fieldsync admin users`.
#[derive(Debug, PartialEq, Eq)]
pub struct UserLine {
    pub username: String,
    pub role: String,
    pub divisions: String,
}

/// A data directory, maybe a PostgreSQL database, and the settings every command gets.
pub struct TestEnv {
    root: PathBuf,
    vars: Vec<(String, String)>,
    starts: AtomicUsize,
    pg: Option<ScratchDatabase>,
}

impl TestEnv {
    /// The data directory does not exist yet: the first command must create it.
    pub async fn new() -> TestEnv {
        // The database first: when it panics, no directory is left behind.
        let pg = ScratchDatabase::postgres_from_env("FIELDSYNC_TEST_DATABASE_URL", "fieldsync_e2e")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let root = std::env::temp_dir().join(format!("fieldsync-e2e-{}", Uuid::now_v7().simple()));
        std::fs::create_dir_all(&root).expect("the temp dir should be creatable");
        let mut env = TestEnv {
            vars: Vec::new(),
            starts: AtomicUsize::new(0),
            pg,
            root,
        };
        env.set(
            "FIELDSYNC_DATA_DIR",
            env.root.join("data").display().to_string(),
        );
        if let Some(url) = env.pg.as_ref().map(|db| db.url.clone()) {
            env.set("FIELDSYNC_DATABASE_URL", url);
        }
        env
    }

    pub fn is_postgres(&self) -> bool {
        self.pg.is_some()
    }

    /// The test's own temp dir, for files it wants to hand to a command.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A phone photo for the simulator's cameras (`SimConfig::photo`), built at run time and
    /// written into this environment's folder: 200 × 133 pixels, taken in [`VILLAGE`].
    pub fn camera_photo(&self) -> PathBuf {
        TestPhoto::new(200, 133)
            .gps(38.4680, 106.2719)
            .taken_at("2026:05:14 09:30:05", Some("+08:00"))
            .camera("HUAWEI", "nova 11")
            .write_jpeg(&self.root.join("camera.jpg"))
            .expect("the test photo should be writable")
    }

    pub fn data_dir(&self) -> PathBuf {
        PathBuf::from(self.var("FIELDSYNC_DATA_DIR").unwrap_or_default())
    }

    pub fn var(&self, key: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Sets (or replaces) a variable for every command started from now on.
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.vars.retain(|(k, _)| k != key);
        self.vars.push((key.to_owned(), value.into()));
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(binary());
        for (key, _) in std::env::vars_os() {
            let name = key.to_string_lossy();
            if name.starts_with("FIELDSYNC_")
                || ["RUST_LOG", "RUST_BACKTRACE", "RUST_LIB_BACKTRACE"].contains(&&*name)
            {
                cmd.env_remove(&key);
            }
        }
        cmd.envs(self.vars.iter().map(|(k, v)| (k, v)))
            .args(args)
            .current_dir(&self.root);
        cmd
    }

    /// Runs `fieldsync admin <args>` with `stdin` as its standard input.
    pub async fn admin(&self, args: &[&str], stdin: &str) -> Outcome {
        let mut cmd = tokio::process::Command::from(self.command(&[&["admin"], args].concat()));
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("fieldsync admin should start");
        let mut input = child.stdin.take().expect("stdin is piped");
        // The command may exit before reading (bad arguments): a broken pipe is its answer.
        let _ = input.write_all(stdin.as_bytes()).await;
        drop(input);
        let out = tokio::time::timeout(ADMIN_TIMEOUT, child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("fieldsync admin {args:?} did not finish"))
            .expect("fieldsync admin output should be readable");
        Outcome {
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// `admin create-user` that must succeed, with [`PASSWORD`].
    pub async fn create_user(&self, username: &str, role: &str, village: &str) {
        let args = [
            "create-user",
            "--username",
            username,
            "--role",
            role,
            "--village",
            village,
        ];
        let out = self.admin(&args, &format!("{PASSWORD}\n")).await;
        assert!(out.status.success(), "create-user {username}: {out:?}");
    }

    /// Phones for the simulator: `per_village` users in each village (`p{v}-{i}`, role by
    /// index, the first one the village's reviewer), imported with `admin import-users`.
    pub async fn import_phones(
        &self,
        villages: &[&str],
        per_village: usize,
        role: impl Fn(usize) -> &'static str,
    ) -> Vec<fieldsync_client::sim::PhoneSpec> {
        use std::fmt::Write as _;
        let mut csv =
            String::from("username,role,display_name,divisions,starts_on,ends_on,password\n");
        let mut phones = Vec::new();
        for (v, village) in villages.iter().enumerate() {
            for i in 0..per_village {
                let username = format!("p{v}-{i}");
                let _ = writeln!(
                    csv,
                    "{username},{},,{village},2026-01-01,,{PASSWORD}",
                    role(i)
                );
                phones.push(fieldsync_client::sim::PhoneSpec {
                    username,
                    password: PASSWORD.to_owned(),
                    village: (*village).to_owned(),
                    reviewer: i == 0,
                });
            }
        }
        let file = self.root.join("phones.csv");
        std::fs::write(&file, csv).expect("the phones file should be writable");
        let out = self
            .admin(&["import-users", file.to_str().unwrap_or_default()], "")
            .await;
        assert!(out.status.success(), "import-users: {out:?}");
        phones
    }

    /// The users `admin users` lists.
    pub async fn users(&self) -> Vec<UserLine> {
        let out = self.admin(&["users"], "").await;
        assert!(out.status.success(), "admin users: {out:?}");
        out.stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let mut cols = l.split_whitespace().map(str::to_owned);
                UserLine {
                    username: cols.next().unwrap_or_default(),
                    role: cols.next().unwrap_or_default(),
                    divisions: cols.collect::<Vec<_>>().join(" "),
                }
            })
            .collect()
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}
