//! `fieldsync serve` as a child process: a free port, the log captured to files in the test's
//! directory, ready when `/readyz` answers 200, stopped with SIGTERM like systemd does, killed
//! on `Drop`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::Ordering;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use fieldsync_client::{Api, Device};

use super::{PASSWORD, TestEnv};

const READY_TIMEOUT: Duration = Duration::from_secs(30);
const EXIT_TIMEOUT: Duration = Duration::from_secs(30);

impl TestEnv {
    /// Starts `fieldsync serve` on a free port and waits until `/readyz` answers 200.
    pub async fn serve(&self) -> Server {
        self.serve_with(&[]).await
    }

    /// [`TestEnv::serve`] with variables of this server's own on top of the environment's (a
    /// replica's own data directory, say).
    pub async fn serve_with(&self, own: &[(&str, String)]) -> Server {
        // The port is free when probed but another process may take it before the server binds.
        for _ in 0..3 {
            let mut server = self.spawn_server(own);
            match server.wait_ready().await {
                Ok(()) => return server,
                Err(_) if server.log().contains("cannot listen") => continue,
                Err(why) => panic!("fieldsync serve {why}\n{}", server.log()),
            }
        }
        panic!("fieldsync serve found no free port in three tries");
    }

    fn spawn_server(&self, own: &[(&str, String)]) -> Server {
        let port = free_port();
        let n = self.starts.fetch_add(1, Ordering::Relaxed);
        let stdout = self.root.join(format!("serve-{n}.stdout.log"));
        let stderr = self.root.join(format!("serve-{n}.stderr.log"));
        let file = |p: &Path| std::fs::File::create(p).expect("the log file should be creatable");
        let child = self
            .command(&["serve"])
            .env("FIELDSYNC_LISTEN", format!("127.0.0.1:{port}"))
            .envs(own.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(file(&stdout))
            .stderr(file(&stderr))
            .spawn()
            .expect("fieldsync serve should start");
        Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            stdout,
            stderr,
        }
    }
}

/// A port nothing listens on, never the same twice in this run: two tests given the same
/// port would each see the other's server answer `/readyz`.
pub fn free_port() -> u16 {
    static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("the OS should hand out a free port")
            .port();
        if handed_out.insert(port) {
            return port;
        }
    }
}

/// A running `fieldsync serve`, killed on `Drop`.
pub struct Server {
    child: Child,
    pub base: String,
    stdout: PathBuf,
    stderr: PathBuf,
}

/// A logged-in phone.
pub struct Phone {
    pub api: Api,
    pub dev: Device,
}

impl Server {
    async fn wait_ready(&mut self) -> Result<(), String> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .expect("an HTTP client should build");
        let url = format!("{}/readyz", self.base);
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("exited before it was ready ({status})"));
            }
            if let Ok(res) = http.get(&url).send().await
                && res.status() == reqwest::StatusCode::OK
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(format!("was not ready within {READY_TIMEOUT:?}"))
    }

    /// Waits up to `within` for the process to end by itself; its exit status, if it did.
    pub async fn exited(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }

    /// Sends SIGTERM, as systemd or `docker stop` does, and waits for the process to exit.
    pub async fn terminate(&mut self) -> ExitStatus {
        let sent = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .expect("kill should run");
        assert!(sent.success(), "kill -TERM failed");
        let deadline = Instant::now() + EXIT_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("the child should be waitable") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "fieldsync did not exit within {EXIT_TIMEOUT:?} of SIGTERM\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Kills the process at once (SIGKILL): no shutdown, requests in flight cut off, as when a
    /// machine dies.
    pub fn kill_hard(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Everything the server wrote so far, standard output then standard error.
    pub fn log(&self) -> String {
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        format!(
            "--- stdout ---\n{}--- stderr ---\n{}",
            read(&self.stdout),
            read(&self.stderr)
        )
    }

    /// Standard output alone, where the server's log lines go.
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    /// A new phone, logged in as `username` with [`PASSWORD`].
    pub async fn phone(&self, username: &str) -> Phone {
        self.rejoin(username, Device::new()).await
    }

    /// A phone that already has an outbox, logged in again as `username` on this server (one
    /// started after its last server went away).
    pub async fn rejoin(&self, username: &str, dev: Device) -> Phone {
        let mut api = Api::new(&self.base, dev.id);
        if let Err(e) = api.login(username, PASSWORD).await {
            panic!("login as {username}: {e}\n{}", self.log());
        }
        Phone { api, dev }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
