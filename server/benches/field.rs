//! Field benchmark: `cargo bench -p fieldsync-server --bench field`.
//!
//! The field simulator (`fieldsync_client::sim`) as a load generator against a server running
//! in this process over real HTTP: 60 phones in 6 villages, 30 households each, 24,000 edits
//! over 20 rounds, one phone in seven going offline for up to 6 rounds at a time, clocks up to
//! two hours off and one push answer in ten lost. Reports edits and syncs per second of the
//! whole run (phones sync at once each round; every sync is a push and a pull) and that every
//! phone converged with nothing lost. SQLite, then PostgreSQL
//! (`FIELDSYNC_BENCH_DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`).

// Only the password of the shared helpers: these phones log in through the simulator.
#[allow(dead_code)]
mod common;

use common::PASSWORD;
use fieldsync_client::sim::{PhoneSpec, SimConfig, run};
use fieldsync_protocol::Role;
use fieldsync_server::auth::password;
use fieldsync_server::clock;
use fieldsync_server::store::NewUser;
use fieldsync_server::testing::ScratchDatabase;
use uuid::Uuid;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const COUNTY: &str = "640422";
const VILLAGES: usize = 6;
const PHONES_PER_VILLAGE: usize = 10;

#[tokio::main]
async fn main() {
    let rows = fieldsync_server::testing::on_each_engine("field", bench).await;
    println!();
    println!(
        "| engine | phones | edits | syncs | time | edits/s | syncs/s | conflicts | converged, nothing lost |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        println!("{r}");
    }
}

async fn bench(engine: &str, db: &ScratchDatabase) -> String {
    eprintln!("== {engine}");
    let server = common::serve(db, None).await;
    let store = server.store.clone();
    let hash = password::hash(PASSWORD).expect("hash");
    let villages: Vec<String> = store
        .villages_under(COUNTY)
        .await
        .expect("villages")
        .into_iter()
        .take(VILLAGES)
        .collect();
    let mut phones = Vec::new();
    for village in &villages {
        for i in 0..PHONES_PER_VILLAGE {
            let username = format!("p{village}-{i}");
            let user = NewUser {
                id: Uuid::now_v7(),
                username: username.clone(),
                password_hash: hash.clone(),
                role: if i == 0 {
                    Role::FirstSecretary
                } else {
                    Role::TeamMember
                },
                display_name: None,
            };
            store
                .create_user(
                    &user,
                    std::slice::from_ref(village),
                    &clock::iso(clock::today()),
                    clock::now_ms(),
                )
                .await
                .expect("user");
            phones.push(PhoneSpec {
                username,
                password: PASSWORD.to_owned(),
                village: village.clone(),
                reviewer: i == 0,
            });
        }
    }
    let dir = db.dir().join("phones");
    std::fs::create_dir_all(&dir).expect("phones dir");
    let cfg = SimConfig {
        edits: 24_000,
        seed: 11,
        ..SimConfig::field(&server.base_url(), phones, dir)
    };
    let s = run(&cfg).await.expect("simulation");
    eprintln!("{s}");
    format!(
        "| {engine} | {} | {} | {} | {:.1} s | {:.0} | {:.1} | {} | {} |",
        s.phones,
        s.edits,
        s.syncs,
        s.seconds,
        s.edits as f64 / s.seconds,
        s.syncs as f64 / s.seconds,
        s.conflicts,
        if s.ok() { "yes" } else { "NO" }
    )
}
