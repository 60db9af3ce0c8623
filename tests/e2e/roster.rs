//! A county brings its cadres on board from a spreadsheet with `fieldsync admin import-users`,
//! fixes the rows it got wrong and runs the same file again. The good rows must land, the bad
//! ones must be named with their line and reason, a second run must change and duplicate
//! nothing, generated passwords must reach only the passwords file, and a handover, where an
//! old and a new first secretary overlap for two weeks, must let both see the village.

use std::path::{Path, PathBuf};

use fieldsync_client::{Api, Device};
use fieldsync_protocol::push::Status;
use serde_json::json;

use crate::harness::{Outcome, TestEnv, UserLine, VILLAGE};

/// Another village of the same township (兴隆社区居委会).
const OTHER_VILLAGE: &str = "640104001003";
/// 兴庆区, a county: assigned to it, a user works in all its villages.
const COUNTY: &str = "640104";
const HEADER: &str = "username,role,display_name,divisions,starts_on,ends_on,password\n";

/// Today in Ningxia, moved by `days`, as `YYYY-MM-DD`.
pub fn day(days: i64) -> String {
    let mut d = fieldsync_server::clock::today();
    for _ in 0..days.unsigned_abs() {
        d = if days > 0 {
            d.next_day()
        } else {
            d.previous_day()
        }
        .expect("a date near today");
    }
    fieldsync_server::clock::iso(d)
}

fn write(env: &TestEnv, name: &str, text: &str) -> PathBuf {
    let path = env.root().join(name);
    std::fs::write(&path, text).expect("the test dir is writable");
    path
}

async fn import(env: &TestEnv, csv: &Path, passwords_out: Option<&Path>) -> Outcome {
    let mut args = vec!["import-users", csv.to_str().expect("temp paths are UTF-8")];
    if let Some(out) = passwords_out {
        args.extend([
            "--passwords-out",
            out.to_str().expect("temp paths are UTF-8"),
        ]);
    }
    env.admin(&args, "").await
}

fn user(username: &str, role: &str, divisions: &str) -> UserLine {
    UserLine {
        username: username.into(),
        role: role.into(),
        divisions: divisions.into(),
    }
}

/// Logs a new device in; the error code if the server refused.
async fn login(base: &str, username: &str, password: &str) -> Result<Api, String> {
    let mut api = Api::new(base, Device::new().id);
    match api.login(username, password).await {
        Ok(_) => Ok(api),
        Err(e) => Err(e
            .code()
            .map_or_else(|| e.to_string(), |c| c.as_str().to_owned())),
    }
}

/// `username,password` lines of a passwords file.
fn passwords(path: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(path)
        .expect("the passwords file exists")
        .lines()
        .map(|l| {
            let (u, p) = l.split_once(',').expect("username,password");
            (u.to_owned(), p.to_owned())
        })
        .collect()
}

#[tokio::test]
async fn import_users_takes_the_good_rows_names_the_bad_and_can_run_again() {
    let env = TestEnv::new().await;
    let csv = write(
        &env,
        "staff.csv",
        &format!(
            "{HEADER}\
             ma,grid_worker,马德福,{VILLAGE},,,ma-password-1\n\
             li,first_secretary,李文,{VILLAGE};{OTHER_VILLAGE},{start},,\n\
             wang,team_member,,{COUNTY},,,\n\
             zhao,wizard,,{VILLAGE},,,\n\
             qian,grid_worker,,640104001999,,,\n\
             sun,grid_worker,,{VILLAGE},,,short\n\
             zhou,grid_worker,,{VILLAGE},{start},{before},\n",
            start = day(-30),
            before = day(-31),
        ),
    );
    let pw = env.root().join("passwords.csv");

    let out = import(&env, &csv, None).await;
    assert!(!out.status.success(), "{out:?}");
    assert!(
        out.stderr.contains("2 new users")
            && out.stderr.contains("--passwords-out")
            && out.stderr.contains("nothing was imported"),
        "{}",
        out.stderr
    );
    assert_eq!(env.users().await, [], "nothing was imported");

    let out = import(&env, &csv, Some(&pw)).await;
    assert!(!out.status.success(), "bad rows make the run fail: {out:?}");
    assert!(
        out.stdout.contains(
            "3 users created, 0 updated, 0 unchanged; assignments 4 added, 0 changed, 0 unchanged"
        ) && out.stdout.contains("2 generated passwords appended to"),
        "{}",
        out.stdout
    );
    for expected in [
        "line 5 (zhao): unknown role \"wizard\"",
        "line 6 (qian): 640104001999 is not a known division code",
        "line 7 (sun): the password needs at least 8 characters",
        "line 8 (zhou): ends_on",
        "4 of 7 rows",
    ] {
        assert!(out.stderr.contains(expected), "{expected}: {}", out.stderr);
    }
    assert!(
        out.stderr.contains("importing users [") && out.stderr.contains("] 3/3"),
        "a progress bar: {}",
        out.stderr
    );
    let good = vec![
        user(
            "li",
            "first_secretary",
            &format!("{VILLAGE},{OTHER_VILLAGE}"),
        ),
        user("ma", "grid_worker", VILLAGE),
        user("wang", "team_member", COUNTY),
    ];
    assert_eq!(env.users().await, good);

    let generated = passwords(&pw);
    let names: Vec<&str> = generated.iter().map(|(u, _)| u.as_str()).collect();
    assert_eq!(names, ["li", "wang"]);
    for (_, p) in &generated {
        assert!(
            p.len() >= 16 && p.chars().all(|c| c.is_ascii_alphanumeric()),
            "{p}"
        );
        assert!(!out.stdout.contains(p.as_str()) && !out.stderr.contains(p.as_str()));
    }
    assert!(!out.stdout.contains("ma-password-1") && !out.stderr.contains("ma-password-1"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&pw).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "only the owner reads the passwords");
    }

    let server = env.serve().await;
    login(&server.base, "ma", "ma-password-1").await.unwrap();
    for (name, secret) in &generated {
        login(&server.base, name, secret).await.unwrap();
    }

    // The same file again: nothing new, nothing duplicated, no new passwords.
    let out = import(&env, &csv, Some(&pw)).await;
    assert!(!out.status.success(), "the bad rows are still bad: {out:?}");
    assert!(
        out.stdout.contains(
            "0 users created, 0 updated, 3 unchanged; assignments 0 added, 0 changed, 4 unchanged"
        ),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("generated passwords"),
        "{}",
        out.stdout
    );
    assert_eq!(env.users().await, good);
    assert_eq!(passwords(&pw), generated);

    // The fixed file: the bad rows come in, li changes role and gets an end date, and ma's
    // password in the file no longer matters.
    let fixed = write(
        &env,
        "staff-fixed.csv",
        &format!(
            "{HEADER}\
             ma,grid_worker,马德福,{VILLAGE},,,another-password\n\
             li,team_member,李文,{VILLAGE};{OTHER_VILLAGE},{start},{end},\n\
             wang,team_member,,{COUNTY},,,\n\
             zhao,farmer,,{VILLAGE},,,\n\
             qian,grid_worker,,{VILLAGE},,,qian-password\n",
            start = day(-30),
            end = day(60),
        ),
    );
    let out = import(&env, &fixed, Some(&pw)).await;
    assert!(out.status.success(), "{out:?}");
    assert!(
        out.stdout.contains(
            "2 users created, 1 updated, 2 unchanged; assignments 2 added, 2 changed, 2 unchanged"
        ) && out.stdout.contains("1 generated passwords appended"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains("1 existing users kept their passwords"),
        "{}",
        out.stderr
    );
    let all = passwords(&pw);
    assert_eq!(all[..2], generated[..], "earlier passwords are never lost");
    assert_eq!(all[2].0, "zhao");
    login(&server.base, "zhao", &all[2].1).await.unwrap();
    login(&server.base, "qian", "qian-password").await.unwrap();
    login(&server.base, "ma", "ma-password-1").await.unwrap();
    assert_eq!(
        login(&server.base, "ma", "another-password").await.err(),
        Some("invalid_credentials".to_owned())
    );
    let users = env.users().await;
    assert_eq!(users.len(), 5, "{users:?}");
    assert!(users.contains(&user(
        "li",
        "team_member",
        &format!("{VILLAGE},{OTHER_VILLAGE}")
    )));
}

#[tokio::test]
async fn a_roster_that_is_not_one_is_refused_whole() {
    let env = TestEnv::new().await;
    let divisions = write(
        &env,
        "divisions.csv",
        "code,name,level,parent_code\n1,2,3,4\n",
    );
    let out = import(&env, &divisions, None).await;
    assert!(!out.status.success(), "{out:?}");
    assert!(
        out.stderr.contains(
            "the header must be username,role,display_name,divisions,starts_on,ends_on,password"
        ),
        "{}",
        out.stderr
    );
    let gbk = env.root().join("gbk.csv");
    std::fs::write(
        &gbk,
        [HEADER.as_bytes(), b"ma,farmer,\xc2\xed,640104001002,,,\n"].concat(),
    )
    .unwrap();
    let out = import(&env, &gbk, None).await;
    assert!(
        !out.status.success() && out.stderr.contains("is not UTF-8"),
        "{out:?}"
    );
    let out = import(&env, &env.root().join("missing.csv"), None).await;
    assert!(
        !out.status.success() && out.stderr.contains("cannot read"),
        "{out:?}"
    );
    assert_eq!(env.users().await, []);
}

#[tokio::test]
async fn overlapping_first_secretaries_both_see_the_village() {
    let env = TestEnv::new().await;
    let csv = write(
        &env,
        "handover.csv",
        &format!(
            "{HEADER}\
             old,first_secretary,,{VILLAGE},{long_ago},{in_two_weeks},old-password\n\
             new,first_secretary,,{VILLAGE},{yesterday},,new-password\n\
             ma,grid_worker,,{VILLAGE},,,ma-password\n",
            long_ago = day(-400),
            in_two_weeks = day(14),
            yesterday = day(-1),
        ),
    );
    let out = import(&env, &csv, None).await;
    assert!(out.status.success(), "{out:?}");
    env.create_user("third", "first_secretary", OTHER_VILLAGE)
        .await;
    let server = env.serve().await;

    let mut ma = Device::new();
    let mut ma_api = Api::new(&server.base, ma.id);
    ma_api.login("ma", "ma-password").await.unwrap();
    let household = ma.new_id();
    let res = ma_api
        .push(vec![ma.create(
            "household",
            household,
            json!({"village_code": VILLAGE, "head_name": "马德福"}),
        )])
        .await
        .unwrap();
    assert_eq!(res.results[0].status, Status::Applied, "{res:?}");

    let sees_household = |api: Api| async move {
        let (changes, _, _) = api.pull_all(None, None).await.unwrap();
        changes.iter().any(|c| c.id == household)
    };
    for (name, secret) in [("old", "old-password"), ("new", "new-password")] {
        let api = login(&server.base, name, secret).await.unwrap();
        assert!(sees_household(api).await, "{name} sees the village");
    }

    // The third secretary takes the village over in a week: until then, not hers.
    let next_week = day(7);
    let out = env
        .admin(
            &[
                "assign",
                "--username",
                "third",
                "--village",
                VILLAGE,
                "--from",
                &next_week,
            ],
            "",
        )
        .await;
    assert!(out.status.success(), "{out:?}");
    assert!(
        out.stdout.contains(&format!(
            "third works in {VILLAGE} from {next_week} until further notice"
        )),
        "{}",
        out.stdout
    );
    let third = || login(&server.base, "third", crate::harness::PASSWORD);
    assert!(!sees_household(third().await.unwrap()).await);
    assert!(
        env.users()
            .await
            .contains(&user("third", "first_secretary", OTHER_VILLAGE)),
        "her old village is hers until the handover"
    );

    // Brought forward to today, for a fixed period: hers at once, the old village not.
    let out = env
        .admin(
            &[
                "assign",
                "--username",
                "third",
                "--village",
                VILLAGE,
                "--from",
                &day(0),
                "--until",
                &day(90),
            ],
            "",
        )
        .await;
    assert!(out.status.success(), "{out:?}");
    assert!(sees_household(third().await.unwrap()).await);
    let users = env.users().await;
    assert!(
        users.contains(&user("third", "first_secretary", VILLAGE)),
        "{users:?}"
    );

    // The old secretary leaves earlier than the roster said; running the roster again puts
    // the roster's end date back, as one changed assignment.
    let out = env
        .admin(
            &[
                "assign",
                "--username",
                "old",
                "--village",
                VILLAGE,
                "--until",
                &day(3),
            ],
            "",
        )
        .await;
    assert!(out.status.success(), "{out:?}");
    assert!(
        out.stdout
            .contains(&format!("old works in {VILLAGE} until {}", day(3))),
        "{}",
        out.stdout
    );
    let out = import(&env, &csv, None).await;
    assert!(out.status.success(), "{out:?}");
    assert!(
        out.stdout
            .contains("assignments 0 added, 1 changed, 2 unchanged"),
        "{}",
        out.stdout
    );

    for (args, message) in [
        (
            vec![
                "assign",
                "--username",
                "new",
                "--village",
                VILLAGE,
                "--from",
                "2026-13-01",
            ],
            "\"2026-13-01\" is not a date like 2026-12-01",
        ),
        (
            vec![
                "assign",
                "--username",
                "new",
                "--village",
                VILLAGE,
                "--from",
                "2026-12-10",
                "--until",
                "2026-12-01",
            ],
            "--until 2026-12-01 is before the first day of the assignment, 2026-12-10",
        ),
    ] {
        let out = env.admin(&args, "").await;
        assert!(!out.status.success(), "{args:?} was accepted: {out:?}");
        assert!(out.stderr.contains(message), "{args:?}: {}", out.stderr);
    }
}
