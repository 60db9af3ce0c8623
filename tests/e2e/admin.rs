//! `fieldsync admin` is the only way to create users and load divisions, run by people on a
//! server console: a mistake must fail loudly, say what to fix, and leave nothing half-made.

use crate::harness::{PASSWORD, TestEnv, UserLine, VILLAGE};

fn create_user<'a>(username: &'a str, role: &'a str, village: &'a str) -> [&'a str; 7] {
    [
        "create-user",
        "--username",
        username,
        "--role",
        role,
        "--village",
        village,
    ]
}

#[tokio::test]
async fn admin_commands_reject_bad_input() {
    let env = TestEnv::new().await;
    env.create_user("ma", "grid_worker", VILLAGE).await;
    let only_ma = vec![UserLine {
        username: "ma".into(),
        role: "grid_worker".into(),
        divisions: VILLAGE.into(),
    }];
    assert_eq!(env.users().await, only_ma);

    let password = format!("{PASSWORD}\n");
    let cases = [
        (
            "an unknown role",
            create_user("li", "wizard", VILLAGE),
            password.as_str(),
            "unknown role \"wizard\"; expected one of",
        ),
        (
            "an unknown village",
            create_user("li", "grid_worker", "640104001999"),
            &password,
            "640104001999 is not a known division code",
        ),
        (
            "a seven-character password",
            create_user("li", "grid_worker", VILLAGE),
            "1234567\n",
            "needs at least 8 characters",
        ),
        (
            "a taken username",
            create_user("ma", "first_secretary", VILLAGE),
            &password,
            "a user named \"ma\" already exists",
        ),
    ];
    for (what, args, stdin, message) in cases {
        let out = env.admin(&args, stdin).await;
        assert!(!out.status.success(), "{what} was accepted: {out:?}");
        assert!(out.stderr.contains(message), "{what}: {}", out.stderr);
        assert_eq!(
            env.users().await,
            only_ma,
            "{what} created or changed a user"
        );
    }

    let header = "code,name,level,parent_code\n";
    let province = "640000,宁夏回族自治区,province,\n";
    let bad = env.root().join("bad.csv");
    std::fs::write(
        &bad,
        format!("{header}{province}64010400100,崇安,village,640000\n"),
    )
    .unwrap();
    let out = env
        .admin(&["import-divisions", bad.to_str().unwrap()], "")
        .await;
    assert!(!out.status.success(), "{out:?}");
    assert!(
        out.stderr.contains("line 3") && out.stderr.contains("12 digits"),
        "the message names the line and the problem: {}",
        out.stderr
    );

    let good = env.root().join("good.csv");
    std::fs::write(&good, format!("{header}{province}")).unwrap();
    let out = env
        .admin(&["import-divisions", good.to_str().unwrap()], "")
        .await;
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.contains("imported 1 divisions"), "{out:?}");
}

/// A farmer's own ID-card number comes from standard input, never the command line, and only
/// farmer accounts carry one.
#[tokio::test]
async fn a_farmers_id_card_is_read_from_standard_input() {
    let env = TestEnv::new().await;
    env.create_user("ma", "farmer", VILLAGE).await;
    env.create_user("li", "grid_worker", VILLAGE).await;
    for (args, stdin, message) in [
        (
            vec!["set-id-card", "--username", "ma"],
            "11010519491231002\n",
            "not valid: an ID-card number has 18 characters",
        ),
        (
            vec!["set-id-card", "--username", "ma"],
            "110105194912310021\n",
            "check digit",
        ),
        (
            vec!["set-id-card", "--username", "li"],
            "11010519491231002X\n",
            "only farmer accounts",
        ),
        (
            vec!["set-id-card", "--username", "nobody"],
            "11010519491231002X\n",
            "no user named \"nobody\"",
        ),
        (
            vec!["set-id-card", "--username", "ma", "11010519491231002X"],
            "",
            "unexpected argument",
        ),
    ] {
        let out = env.admin(&args, stdin).await;
        assert!(!out.status.success(), "{args:?} was accepted: {out:?}");
        assert!(out.stderr.contains(message), "{args:?}: {}", out.stderr);
    }
    let out = env
        .admin(&["set-id-card", "--username", "ma"], "11010519491231002x\n")
        .await;
    assert!(out.status.success(), "{out:?}");
    assert!(
        out.stdout.contains("1101**********002X") && !out.stdout.contains("19491231"),
        "the number is shown masked: {}",
        out.stdout
    );
    let out = env
        .admin(&["set-id-card", "--username", "ma", "--remove"], "")
        .await;
    assert!(out.status.success(), "{out:?}");
    assert!(
        out.stdout.contains("no ID-card number on file"),
        "{}",
        out.stdout
    );
}
