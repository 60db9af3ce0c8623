//! The field simulator against the real binary: 24 phones in 3 villages, 5,000+ edits over
//! 20 rounds of field work with offline periods of up to days, clocks hours wrong and push
//! answers lost, photos taken on visits; at the end every phone equals the server, no edit is
//! lost and every photo is stored and processed.

use fieldsync_client::sim::{SimConfig, run};

use crate::harness::TestEnv;

const VILLAGES: [&str; 3] = ["640104001002", "640104001003", "640104001005"];
const PER_VILLAGE: usize = 8;

#[tokio::test]
async fn twenty_four_phones_converge_and_lose_nothing() {
    let env = TestEnv::new().await;
    let server = env.serve().await;
    let phones = env
        .import_phones(&VILLAGES, PER_VILLAGE, |i| match i {
            0 => "first_secretary",
            1..=4 => "team_member",
            _ => "grid_worker",
        })
        .await;

    let dir = env.root().join("phones");
    std::fs::create_dir_all(&dir).expect("dir");
    let cfg = SimConfig {
        seed: 2026,
        photo: Some(env.camera_photo()),
        ..SimConfig::field(&server.base, phones, dir)
    };
    let summary = match run(&cfg).await {
        Ok(summary) => summary,
        Err(e) => panic!("simulation: {e:?}\n{}", server.log()),
    };
    println!("{summary}");
    assert!(summary.ok(), "{summary}\n{}", server.log());
    assert!(summary.edits >= 5_000);
    assert!(
        summary.offline_periods > 0 && summary.lost_answers > 0,
        "{summary}"
    );
    assert!(
        summary.conflicts > 0,
        "phones really did edit the same fields: {summary}"
    );
    assert!(
        summary.duplicates > 0,
        "lost answers were re-sent: {summary}"
    );
    assert!(summary.photos > 50, "phones took photos: {summary}");
}
