//! Stateless replicas: three `fieldsync serve` processes on one PostgreSQL database and one
//! S3 bucket (each with its own data directory, sharing only the data key), behind nginx as
//! the load balancer (no sticky sessions), driven by the field simulator. One replica is
//! killed with SIGKILL in the middle of the run. At the end every phone equals the server,
//! no edit is lost, every photo is stored and processed, the mutation log holds each
//! mutation exactly once, a paged pull through the balancer (each page from whichever
//! replica) skips nothing, and a periodic job made due after the kill runs on a survivor.
//!
//! Needs `FIELDSYNC_TEST_DATABASE_URL` (PostgreSQL), `FIELDSYNC_TEST_S3_ENDPOINT` and nginx
//! (`apt-get install nginx-light`); `.ci/run` provides all three. Without PostgreSQL or S3 it
//! says so and passes (the embedded engine has no replicas). `FIELDSYNC_SCALEOUT_PHONES` and
//! `FIELDSYNC_SCALEOUT_EDITS` make the long version (`ops/load/` runs it).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fieldsync_client::sim::{SimConfig, run};
use fieldsync_client::{Api, Device};

use crate::harness::{PASSWORD, TestEnv, free_port};

const VILLAGES: [&str; 3] = ["640104001002", "640104001003", "640104001005"];
const DATA_KEY: &str = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=";

fn number(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// nginx in the foreground on a free port, with its files in `dir`; killed on `Drop`.
struct Nginx {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Nginx {
    fn start(dir: &Path, upstreams: &[String]) -> Nginx {
        let bin = ["/usr/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .find(|p| Path::new(p).is_file())
            .unwrap_or_else(|| {
                panic!("the scale-out test needs nginx as its load balancer: apt-get install nginx-light")
            });
        let port = free_port();
        let mut servers = String::new();
        for u in upstreams {
            let _ = writeln!(
                servers,
                "    server {} max_fails=3 fail_timeout=10s;",
                u.trim_start_matches("http://")
            );
        }
        let conf = include_str!("../../ops/load/nginx-loopback.conf")
            .replace("@DIR@", &dir.display().to_string())
            .replace("@PORT@", &port.to_string())
            .replace("@SERVERS@", servers.trim_end());
        let file = dir.join("nginx.conf");
        std::fs::write(&file, conf).expect("write nginx.conf");
        let log = dir.join("nginx.stderr.log");
        let child = Command::new(bin)
            .arg("-c")
            .arg(&file)
            .arg("-p")
            .arg(dir)
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("nginx log"))
            .spawn()
            .expect("nginx should start");
        Nginx {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        }
    }

    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "nginx exited ({status}): {}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            if reqwest::get(format!("{}/readyz", self.base))
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("nginx did not answer within 15 s");
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One value from PostgreSQL.
fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args([url, "-Atc", sql])
        .output()
        .expect("psql should run");
    assert!(
        out.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Mutations the replicas have answered so far, from their metrics (each counts its own).
async fn pushed(bases: &[String]) -> usize {
    let mut n = 0.0;
    for base in bases {
        let Ok(res) = reqwest::get(format!("{base}/metrics")).await else {
            continue;
        };
        n += res
            .text()
            .await
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with("fieldsync_push_mutations_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>();
    }
    n as usize
}

#[tokio::test]
async fn three_replicas_behind_nginx_lose_nothing_when_one_is_killed() {
    let Some(s3) = fieldsync_server::testing::s3_test_bucket("fieldsync-scaleout").await else {
        return;
    };
    let mut env = TestEnv::new().await;
    let Some(db_url) = env.var("FIELDSYNC_DATABASE_URL").map(str::to_owned) else {
        eprintln!("replicas need PostgreSQL (FIELDSYNC_TEST_DATABASE_URL): scale-out test skipped");
        return;
    };
    let per_village = number("FIELDSYNC_SCALEOUT_PHONES", 12) / VILLAGES.len();
    let edits = number("FIELDSYNC_SCALEOUT_EDITS", 3_000);

    // One bucket, one data key: all the replicas share besides the database.
    for (k, v) in [
        ("FIELDSYNC_BLOBS__BACKEND", "s3".to_owned()),
        (
            "FIELDSYNC_BLOBS__S3__ENDPOINT",
            s3.endpoint.clone().unwrap_or_default(),
        ),
        ("FIELDSYNC_BLOBS__S3__BUCKET", s3.bucket.clone()),
        ("FIELDSYNC_BLOBS__S3__PREFIX", s3.prefix.clone()),
        ("FIELDSYNC_BLOBS__S3__REGION", s3.region.clone()),
        (
            "FIELDSYNC_BLOBS__S3__ACCESS_KEY_ID",
            s3.access_key_id.clone(),
        ),
        ("FIELDSYNC_BLOBS__S3__SECRET_ACCESS_KEY", "test".to_owned()),
        ("FIELDSYNC_BLOBS__S3__PATH_STYLE", "true".to_owned()),
        ("FIELDSYNC_DATA_KEY", DATA_KEY.to_owned()),
        ("FIELDSYNC_LIMITS__TRUST_FORWARDED_FOR", "true".to_owned()),
        // The cadres of this run sign in many times from one address.
        (
            "FIELDSYNC_LIMITS__LOGIN_FAILURES_PER_IP",
            "100000".to_owned(),
        ),
    ] {
        env.set(k, v);
    }

    let phones = env
        .import_phones(&VILLAGES, per_village.max(2), |i| match i {
            0 => "first_secretary",
            _ => "grid_worker",
        })
        .await;

    // Each replica with a data directory of its own: nothing is shared on disk.
    let mut replicas = Vec::new();
    for r in 0..3 {
        let dir = env.root().join(format!("replica-{r}"));
        replicas.push(
            env.serve_with(&[("FIELDSYNC_DATA_DIR", dir.display().to_string())])
                .await,
        );
    }
    let upstreams: Vec<String> = replicas.iter().map(|r| r.base.clone()).collect();
    let lb_dir = env.root().join("nginx");
    std::fs::create_dir_all(&lb_dir).expect("nginx dir");
    let mut nginx = Nginx::start(&lb_dir, &upstreams);
    nginx.wait_ready().await;

    let dir = env.root().join("phones");
    std::fs::create_dir_all(&dir).expect("dir");
    let cfg = SimConfig {
        seed: 99,
        edits,
        rounds: 12,
        households_per_village: 20,
        photo: Some(env.camera_photo()),
        ..SimConfig::field(&nginx.base, phones, dir)
    };
    let expected_mutations = VILLAGES.len() * cfg.households_per_village + cfg.edits;
    let sim = tokio::spawn(async move { run(&cfg).await });

    // Kill a replica once about a third of the edits are in. (Metrics are per replica and
    // not behind the balancer.)
    let watch: Vec<String> = replicas.iter().map(|r| r.base.clone()).collect();
    let started = Instant::now();
    while pushed(&watch).await < expected_mutations / 3 {
        if sim.is_finished() {
            let outcome = sim.await.expect("simulation task");
            panic!(
                "the simulation ended before the replica could be killed: {:?}",
                outcome.map(|s| s.to_string())
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the simulation made too little progress"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let killed_at = pushed(&watch).await;
    replicas[1].kill_hard();
    eprintln!("replica 1 killed after {killed_at} of about {expected_mutations} mutations");

    let summary = sim.await.expect("simulation task").expect("simulation");
    println!("{summary}");
    let logs = || {
        replicas
            .iter()
            .map(|r| r.log())
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(summary.ok(), "{summary}\n{}", logs());
    assert!(summary.photos > 0, "{summary}");

    // Each mutation the phones made is in the log exactly once: none lost, none applied twice
    // (a push retried by nginx on another replica is answered `duplicate`).
    let made = VILLAGES.len() * 20 + summary.edits + summary.photos;
    let logged: usize = psql(&db_url, "SELECT COUNT(*) FROM mutations")
        .parse()
        .expect("a count");
    let distinct: usize = psql(&db_url, "SELECT COUNT(DISTINCT mutation_id) FROM mutations")
        .parse()
        .expect("a count");
    assert_eq!((logged, distinct), (made, made), "{summary}");

    // A paged pull through the balancer, each page from whichever replica, delivers every
    // record at its current version: cursors mean the same on every replica.
    let reviewer = &replicas[0];
    let dev = Device::new();
    let mut api = Api::new(&nginx.base, dev.id);
    api.login("p0-0", PASSWORD).await.expect("login");
    let mut pulled: BTreeMap<String, u64> = BTreeMap::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = api
            .pull(cursor.as_deref(), Some(5))
            .await
            .expect("pull through nginx");
        pages += 1;
        for c in page.changes {
            let v = pulled.entry(c.id.to_string()).or_default();
            *v = (*v).max(c.version);
        }
        cursor = Some(page.cursor);
        if !page.has_more {
            break;
        }
    }
    let stored: BTreeMap<String, u64> = psql(
        &db_url,
        &format!(
            "SELECT id, version FROM records WHERE scope = '{}' ORDER BY id",
            VILLAGES[0]
        ),
    )
    .lines()
    .filter_map(|l| {
        let (id, v) = l.split_once('|')?;
        Some((id.to_owned(), v.parse().ok()?))
    })
    .collect();
    assert!(pages > 3, "paged over several replicas");
    assert_eq!(pulled, stored, "{}", reviewer.log());

    // The killed replica's share of background work goes on: a job made due now runs on a
    // survivor.
    let runs = |env_url: &str| {
        psql(
            env_url,
            "SELECT runs FROM jobs WHERE name = 'collect_photos'",
        )
        .parse::<i64>()
        .unwrap_or(0)
    };
    let before = runs(&db_url);
    let out = env.admin(&["run-job", "collect_photos"], "").await;
    assert!(out.status.success(), "{out:?}");
    let deadline = Instant::now() + Duration::from_secs(40);
    while runs(&db_url) == before {
        assert!(
            Instant::now() < deadline,
            "no surviving replica ran the job\n{}",
            logs()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    drop(nginx);
}
