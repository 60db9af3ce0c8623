//! The review console in a real browser: headless Chromium (Debian's `chromium`) driven by
//! Playwright (`playwright-core` from npm, `tests/console/`) against the real binary, seeded with
//! a realistic village: a first secretary's check-ins for every day of the month so far (one
//! with a mocked fix), visits and checks at households (one failing housing check, so a task),
//! a farmer's self-report (so a case), and field phones editing the same households offline (so
//! conflicts). The script signs in as the township supervisor, opens the cadre's sheet and
//! approves it, shows a CSRF-less POST refused, shows a supervisor of another township cannot
//! open the sheet; takes a 12317 call at the hotline desk through to the first secretary's task;
//! as the county officer makes an account, plans a handover, looks at the township's village
//! teams and finds a household by name and by ID-card number and opens its file; and saves a
//! screenshot of every page to `target/console-screenshots/` (1366×768).
//!
//! Needs `node`, `tests/console/node_modules` (`npm ci` there) and `/usr/bin/chromium`;
//! `.ci/run` installs them and sets `FIELDSYNC_TEST_REQUIRE_BROWSER=1`, so that there a missing
//! browser fails the test instead of skipping it.

use std::path::{Path, PathBuf};
use std::process::Command;

use fieldsync_client::sim::{SimConfig, run};
use fieldsync_protocol::gps::{Crs, GpsFix};
use fieldsync_protocol::push::Status;
use serde_json::json;
use time::OffsetDateTime;

use crate::harness::{PASSWORD, Phone, Server, TestEnv};

const TOWNSHIP: &str = "640104001";
const VILLAGE: &str = "640104001002";
const OTHER_VILLAGE: &str = "640104001003";
const OTHER_TOWNSHIP: &str = "640104002";
/// The ID-card number of 马德福, head of a household of the village.
const HEAD_ID_CARD: &str = "640104196503120133";
/// 银川鼓楼 (WGS-84), inside the village's county.
const HERE: (f64, f64) = (38.4680, 106.2719);
const CHROMIUM: &str = "/usr/bin/chromium";

fn script_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("console")
}

/// Why the browser test cannot run here, if it cannot.
fn missing_browser() -> Option<String> {
    if !Path::new(CHROMIUM).is_file() {
        return Some(format!(
            "{CHROMIUM} is not installed (apt-get install chromium)"
        ));
    }
    if !script_dir().join("node_modules/playwright-core").is_dir() {
        return Some("tests/console/node_modules is missing (npm ci in tests/console)".into());
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Some("node is not installed".into());
    }
    None
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn fixed(
    p: &mut Phone,
    entity: &str,
    fields: serde_json::Value,
    when: OffsetDateTime,
    mocked: bool,
) -> fieldsync_protocol::Mutation {
    let mut m = p.dev.create(entity, p.dev.new_id(), fields);
    m.hlc.wall_ms = u64::try_from(when.unix_timestamp_nanos() / 1_000_000).unwrap_or_default();
    m.gps = Some(GpsFix {
        lat: HERE.0,
        lon: HERE.1,
        accuracy_m: 10.0,
        crs: Crs::Wgs84,
        fix_at: when,
        mocked,
    });
    m
}

/// A month of field work in the village, pushed the way phones push it.
async fn seed(env: &TestEnv, server: &Server) {
    let csv = format!(
        "username,role,display_name,divisions,starts_on,ends_on,password\n\
         sec,first_secretary,马建国,{VILLAGE},2026-01-01,,{PASSWORD}\n\
         member,team_member,李娟,{VILLAGE},2026-01-01,,{PASSWORD}\n\
         grid,grid_worker,王强,{VILLAGE},2026-01-01,,{PASSWORD}\n\
         hotline,hotline_operator,热线,{TOWNSHIP},2026-01-01,,{PASSWORD}\n\
         sup,township_supervisor,张秀兰,{TOWNSHIP},2026-01-01,,{PASSWORD}\n\
         county,county_officer,周明,640104,2026-01-01,,{PASSWORD}\n\
         other,township_supervisor,赵磊,{OTHER_TOWNSHIP},2026-01-01,,{PASSWORD}\n"
    );
    let file = env.root().join("office.csv");
    std::fs::write(&file, csv).expect("roster file");
    let out = env
        .admin(&["import-users", file.to_str().unwrap_or_default()], "")
        .await;
    assert!(out.status.success(), "import-users: {out:?}");

    // The first secretary checks in at 09:00 every day of the month so far; one day's fix is
    // mocked, so the sheet has a doubt to accept.
    let mut sec = server.phone("sec").await;
    let beijing = time::UtcOffset::from_hms(8, 0, 0).expect("an offset");
    let now = OffsetDateTime::now_utc().to_offset(beijing);
    let today = now.date();
    let mut batch = Vec::new();
    for day in 1..today.day() {
        let Some(when) = today
            .replace_day(day)
            .and_then(|d| d.with_hms(9, 0, 0))
            .ok()
            .map(|t| t.assume_offset(beijing).to_offset(time::UtcOffset::UTC))
        else {
            continue;
        };
        batch.push(fixed(
            &mut sec,
            "presence",
            json!({"village_code": VILLAGE, "captured_at": rfc3339(when)}),
            when,
            day == 3,
        ));
    }
    // Households, a visit and checks at them, one housing check failing (a task).
    let mut households = Vec::new();
    for head in ["马德福", "杨秀英", "丁海军"] {
        let h = sec.dev.new_id();
        households.push(h);
        let mut fields = json!({"village_code": VILLAGE, "head_name": head});
        if head == "马德福" {
            // The hotline desk finds the household by it.
            fields["head_id_card"] = json!(HEAD_ID_CARD);
        }
        batch.push(sec.dev.create("household", h, fields));
    }
    let recent = (now - time::Duration::hours(2)).to_offset(time::UtcOffset::UTC);
    // The visit is photographed: the reviewer sees the photo with the day's evidence.
    let photo = fieldsync_server::testing::photo::TestPhoto::new(200, 133)
        .gps(HERE.0, HERE.1)
        .jpeg();
    let sha = fieldsync_client::photo_name(&photo);
    sec.api
        .upload_photo(&sha, &photo, 256 * 1024)
        .await
        .expect("upload");
    batch.push(fixed(
        &mut sec,
        "visit",
        json!({"village_code": VILLAGE, "household_id": households[0].to_string(), "started_at": rfc3339(recent), "purpose": "routine", "photos": [sha]}),
        recent,
        false,
    ));
    batch.push(fixed(
        &mut sec,
        "housing_check",
        json!({"household_id": households[1].to_string(), "captured_at": rfc3339(recent), "appraisal_grade": "D"}),
        recent,
        false,
    ));
    batch.push(fixed(
        &mut sec,
        "housing_check",
        json!({"household_id": households[2].to_string(), "captured_at": rfc3339(recent), "appraisal_grade": "A"}),
        recent,
        false,
    ));
    let r = sec.api.push(batch).await.expect("push");
    assert!(
        r.results.iter().all(|r| r.status == Status::Applied),
        "{:?}",
        r.results
            .iter()
            .filter(|r| r.status != Status::Applied)
            .collect::<Vec<_>>()
    );

    // A farmer calls the hotline: a self-report opens a case waiting for the home visit.
    let hotline = server.phone("hotline").await;
    let mut hl = hotline;
    let m = hl.dev.create(
        "self_report",
        hl.dev.new_id(),
        json!({"village_code": VILLAGE, "household_id": households[0].to_string(), "category": "illness",
               "description": "老伴住院，花费三万元", "consent_to_checks": true, "channel": "hotline"}),
    );
    let r = hl.api.push(vec![m]).await.expect("push");
    assert_eq!(r.results[0].status, Status::Applied, "{:?}", r.results[0]);

    // Field phones edit the same households offline: conflicts for the reviewer.
    let phones = env
        .import_phones(&[VILLAGE, OTHER_VILLAGE], 3, |i| match i {
            0 => "first_secretary",
            _ => "team_member",
        })
        .await;
    let dir = env.root().join("phones");
    std::fs::create_dir_all(&dir).expect("dir");
    let cfg = SimConfig {
        seed: 10,
        edits: 300,
        rounds: 4,
        households_per_village: 8,
        ..SimConfig::field(&server.base, phones, dir)
    };
    let summary = match run(&cfg).await {
        Ok(s) => s,
        Err(e) => panic!("simulation: {e:?}\n{}", server.log()),
    };
    assert!(summary.ok(), "{summary}");
    assert!(summary.conflicts > 0, "{summary}");
}

#[tokio::test]
async fn a_supervisor_reviews_in_the_browser() {
    if let Some(why) = missing_browser() {
        assert!(
            std::env::var_os("FIELDSYNC_TEST_REQUIRE_BROWSER").is_none(),
            "the browser test must run here: {why}"
        );
        eprintln!("skipped: {why}");
        return;
    }
    let env = TestEnv::new().await;
    let server = env.serve().await;
    seed(&env, &server).await;

    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"),
        |t| Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(t),
    );
    let shots = target.join("console-screenshots");
    std::fs::create_dir_all(&shots).expect("screenshot dir");
    let out = Command::new("node")
        .arg(script_dir().join("console.test.mjs"))
        .env("FIELDSYNC_URL", &server.base)
        .env("SUPERVISOR", "sup")
        .env("OTHER_SUPERVISOR", "other")
        .env("CADRE_NAME", "马建国")
        .env("HOTLINE", "hotline")
        .env("COUNTY_OFFICER", "county")
        .env("HEAD_ID_CARD", HEAD_ID_CARD)
        .env("PASSWORD", PASSWORD)
        .env("SHOTS", &shots)
        .env("CHROMIUM", CHROMIUM)
        .output()
        .expect("node should start");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "the browser test failed:\n{stdout}\n{stderr}\n{}",
        server.log()
    );
    for page in [
        "login",
        "attendance",
        "sheet",
        "approved",
        "dashboard",
        "tasks",
        "cases",
        "case",
        "reports",
        "conflicts",
        "map",
        "english",
        "tablet",
        "other-township",
        "hotline",
        "hotline-found",
        "accounts",
        "accounts-township",
        "handover",
        "staffing",
        "households-search",
        "households",
        "household",
    ] {
        let shot = shots.join(format!("{page}.png"));
        assert!(
            shot.metadata().is_ok_and(|m| m.len() > 5_000),
            "no screenshot of {page} at {}",
            shot.display()
        );
    }
    // The call the operator recorded in the browser (a housing difficulty) put the home
    // verification on the first secretary's phone.
    let sec = server.phone("sec").await;
    let cases: serde_json::Value = sec.api.get_json("/v1/cases").await.expect("cases");
    let housing = cases["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .find(|c| c["fields"]["category"] == json!("housing"))
        .unwrap_or_else(|| panic!("the call opened no housing case: {cases}"));
    let tasks: serde_json::Value = sec.api.get_json("/v1/tasks").await.expect("tasks");
    assert!(
        tasks["tasks"]
            .as_array()
            .expect("tasks")
            .iter()
            .any(|t| t["fields"]["case_id"] == housing["id"]),
        "no verification task for the call's case: {tasks}"
    );
}
