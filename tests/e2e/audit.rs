//! A county security officer asks at the server's console who read or changed a household's
//! personal data: `fieldsync admin audit`. The answer must name the people, the records and
//! the fields, filter by household, user and day, and must not itself leak what it guards: no
//! field value may appear in anything the command prints.

use std::collections::HashSet;

use fieldsync_protocol::push::Status;
use fieldsync_server::clock;
use serde_json::json;
use uuid::Uuid;

use crate::harness::{Outcome, TestEnv, VILLAGE};

const HEAD: &str = "马德福";
const MEMBER: &str = "马小花";
const PHONE: &str = "13912345678";
const MEMBER_PHONE: &str = "13887654321";

/// One line of `admin audit`, by column.
#[derive(Debug)]
struct Entry {
    time: String,
    user: String,
    action: String,
    entity: String,
    record: String,
    household: String,
    fields: Vec<String>,
}

/// The entries `admin audit <args>` lists; the command must succeed.
async fn audit(env: &TestEnv, args: &[&str]) -> (Vec<Entry>, Outcome) {
    let out = env.admin(&[&["audit"], args].concat(), "").await;
    assert!(out.status.success(), "audit {args:?}: {out:?}");
    if out.stdout.trim() == "no audit entries match" {
        return (Vec::new(), out);
    }
    let mut lines = out.stdout.lines();
    let header = lines.next().unwrap_or_default();
    assert!(
        header.starts_with("time (UTC+8)") && header.ends_with("fields"),
        "{}",
        out.stdout
    );
    let entries = lines
        .map(|l| {
            // The time is two columns: date and clock.
            let cols: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(cols.len(), 8, "eight columns: {l}");
            Entry {
                time: format!("{} {}", cols[0], cols[1]),
                user: cols[2].to_owned(),
                action: cols[3].to_owned(),
                entity: cols[4].to_owned(),
                record: cols[5].to_owned(),
                household: cols[6].to_owned(),
                fields: cols[7].split(',').map(str::to_owned).collect(),
            }
        })
        .collect();
    (entries, out)
}

fn has(entries: &[Entry], user: &str, action: &str, entity: &str, record: Uuid) -> bool {
    entries.iter().any(|e| {
        e.user == user && e.action == action && e.entity == entity && e.record == record.to_string()
    })
}

#[tokio::test]
async fn audit_lists_who_wrote_and_read_a_household_without_values() {
    let env = TestEnv::new().await;
    env.create_user("ma", "grid_worker", VILLAGE).await;
    env.create_user("secretary", "first_secretary", VILLAGE)
        .await;
    let server = env.serve().await;
    let day = clock::today();

    let mut ma = server.phone("ma").await;
    let household = ma.dev.new_id();
    let member = ma.dev.new_id();
    let batch = vec![
        ma.dev.create(
            "household",
            household,
            json!({"village_code": VILLAGE, "head_name": HEAD, "phone": PHONE}),
        ),
        ma.dev.create(
            "member",
            member,
            json!({"household_id": household.to_string(), "name": MEMBER,
                   "relation": "child", "phone": MEMBER_PHONE}),
        ),
    ];
    let res = ma.api.push(batch).await.unwrap();
    assert!(
        res.results.iter().all(|r| r.status == Status::Applied),
        "{res:?}"
    );
    let secretary = server.phone("secretary").await;
    let (changes, _, _) = secretary.api.pull_all(None, None).await.unwrap();
    assert_eq!(changes.len(), 2, "{changes:?}");

    let mut outputs = Vec::new();
    let h = household.to_string();
    let (all, out) = audit(&env, &["--household", &h]).await;
    outputs.push(out);
    assert!(has(&all, "ma", "write", "household", household), "{all:#?}");
    assert!(has(&all, "ma", "write", "member", member), "{all:#?}");
    assert!(
        has(&all, "secretary", "read", "household", household),
        "{all:#?}"
    );
    assert!(has(&all, "secretary", "read", "member", member), "{all:#?}");
    assert!(all.iter().all(|e| e.household == h), "{all:#?}");
    let written = all
        .iter()
        .find(|e| e.action == "write" && e.entity == "household")
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    assert!(
        written.contains(&"phone".to_owned()) && written.contains(&"head_name".to_owned()),
        "the field names are listed: {written:?}"
    );
    let times: Vec<&str> = all.iter().map(|e| e.time.as_str()).collect();
    assert!(times.is_sorted(), "oldest first: {times:?}");

    let (read, out) = audit(&env, &["--username", "secretary"]).await;
    outputs.push(out);
    assert_eq!(read.len(), 2, "one read of each record: {read:#?}");
    assert!(
        read.iter()
            .all(|e| e.user == "secretary" && e.action == "read"),
        "{read:#?}"
    );
    let (wrote, out) = audit(&env, &["--username", "ma", "--household", &h]).await;
    outputs.push(out);
    assert_eq!(wrote.len(), 2, "{wrote:#?}");
    assert!(
        wrote.iter().all(|e| e.user == "ma" && e.action == "write"),
        "{wrote:#?}"
    );

    // --limit keeps the oldest entries and says that more exist.
    let (first, out) = audit(&env, &["--household", &h, "--limit", "1"]).await;
    assert_eq!(first.len(), 1, "{first:#?}");
    assert_eq!(
        (first[0].user.as_str(), first[0].action.as_str()),
        ("ma", "write")
    );
    assert!(out.stderr.contains("only the first 1 entries"), "{out:?}");
    outputs.push(out);

    // Days are local: today (from 00:00 to the end of the day) holds everything, a range
    // ending yesterday nothing. Skipped if the test ran across midnight in Ningxia.
    if clock::today() == day {
        let today = clock::iso(day);
        let yesterday = clock::iso(clock::yesterday_of(day));
        let (on_day, out) = audit(
            &env,
            &["--household", &h, "--since", &today, "--until", &today],
        )
        .await;
        outputs.push(out);
        assert_eq!(on_day.len(), all.len(), "{on_day:#?}");
        let (before, out) = audit(&env, &["--household", &h, "--until", &yesterday]).await;
        assert!(before.is_empty(), "{before:#?}");
        assert_eq!(out.stdout.trim(), "no audit entries match");
        outputs.push(out);
    }

    for out in &outputs {
        let printed = format!("{}{}", out.stdout, out.stderr);
        for value in [HEAD, MEMBER, PHONE, MEMBER_PHONE] {
            assert!(
                !printed.contains(value),
                "admin audit printed the value {value:?}:\n{printed}"
            );
        }
    }

    let out = env.admin(&["audit", "--username", "nobody"], "").await;
    assert!(!out.status.success(), "{out:?}");
    assert!(out.stderr.contains("no user named \"nobody\""), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    let out = env
        .admin(
            &[
                "audit",
                "--since",
                &clock::iso(day),
                "--until",
                "2000-01-01",
            ],
            "",
        )
        .await;
    assert!(!out.status.success(), "{out:?}");
    assert!(out.stderr.contains("is before --since"), "{out:?}");
}

/// More entries than one page of the store's query: every page is read, none twice.
#[tokio::test]
async fn audit_reads_past_the_first_page() {
    let env = TestEnv::new().await;
    env.create_user("ma", "grid_worker", VILLAGE).await;
    let server = env.serve().await;
    let mut ma = server.phone("ma").await;
    let mut ids = HashSet::new();
    for _ in 0..3 {
        let batch = (0..200)
            .map(|i| {
                let id = ma.dev.new_id();
                ids.insert(id.to_string());
                ma.dev.create(
                    "household",
                    id,
                    json!({"village_code": VILLAGE, "head_name": format!("户主{i}")}),
                )
            })
            .collect();
        let res = ma.api.push(batch).await.unwrap();
        assert!(
            res.results.iter().all(|r| r.status == Status::Applied),
            "{res:?}"
        );
    }

    let (entries, out) = audit(&env, &["--username", "ma"]).await;
    assert_eq!(entries.len(), ids.len(), "{}", out.stdout);
    let listed: HashSet<String> = entries.iter().map(|e| e.record.clone()).collect();
    assert_eq!(listed, ids, "each write once");
    assert!(out.stderr.is_empty(), "{out:?}");

    let (entries, out) = audit(&env, &["--username", "ma", "--limit", "550"]).await;
    assert_eq!(entries.len(), 550);
    assert!(out.stderr.contains("only the first 550 entries"), "{out:?}");
}
