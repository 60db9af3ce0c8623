//! `fieldsync admin staffing` and `set-village-category`: the console's village teams page at
//! the server's console. The list names each village short of its class's team, when and what
//! it lacks; a designation is checked before anything is written, and audited.

use crate::harness::{Outcome, TestEnv};

/// 原州区 (class B): 南关街道 and one of its villages.
const TOWNSHIP_B: &str = "640402001";
const VILLAGE_B: &str = "640402001003";
/// 崇安社区居委会 in 兴庆区 (class D) and its township.
const VILLAGE_D: &str = "640104001002";
const TOWNSHIP_D: &str = "640104001";

/// The command succeeded and printed `line` among its lines.
fn printed(out: &Outcome, line: &str) {
    assert!(out.status.success(), "{out:?}");
    assert!(
        out.stdout.lines().any(|l| l == line),
        "{line}\n{}",
        out.stdout
    );
}

#[tokio::test]
async fn the_shortfall_list_and_a_designation_from_the_command_line() {
    let env = TestEnv::new().await;
    env.create_user("ma", "first_secretary", VILLAGE_B).await;
    env.create_user("li", "team_member", VILLAGE_B).await;
    let today = fieldsync_server::clock::iso(fieldsync_server::clock::today());

    let out = env.admin(&["staffing", "--division", TOWNSHIP_B], "").await;
    assert!(
        out.stdout.starts_with("南关街道 (640402001) on "),
        "{}",
        out.stdout
    );
    let open = format!("{today} .. open      ");
    printed(
        &out,
        &format!("{VILLAGE_B}  B  {open}  1 team member of 2  工农巷社区居委会"),
    );
    printed(
        &out,
        &format!(
            "640402001001  B  {open}  no first secretary; 0 team members of 2  南寺巷社区居委会"
        ),
    );

    // Class D is never short, until designated a resettlement village (A).
    let d = env.admin(&["staffing", "--division", TOWNSHIP_D], "").await;
    printed(&d, "no village is short of its team");
    let set = env
        .admin(&["set-village-category", VILLAGE_D, "A"], "")
        .await;
    printed(
        &set,
        &format!(
            "{VILLAGE_D} 崇安社区居委会 is class A (designated): it needs a first secretary and at least 2 team members"
        ),
    );
    let again = env
        .admin(&["set-village-category", VILLAGE_D, "A"], "")
        .await;
    assert!(again.stdout.contains("nothing changed"), "{}", again.stdout);
    let a = env
        .admin(&["staffing", "--division", TOWNSHIP_D, "--all"], "")
        .await;
    printed(
        &a,
        &format!("{VILLAGE_D}  A  {open}  no first secretary; 0 team members of 2  崇安社区居委会"),
    );
    printed(
        &a,
        &format!("{VILLAGE_D}  A*  first secretaries 0/1  team members 0/2  崇安社区居委会"),
    );
    // Audited as made at the server's console.
    let audit = env.admin(&["audit"], "").await;
    assert!(
        audit
            .stdout
            .lines()
            .any(|l| l.contains("village_category_set") && l.contains("village")),
        "{}",
        audit.stdout
    );

    for (args, message) in [
        (
            vec!["set-village-category", VILLAGE_D, "D"],
            "class D already",
        ),
        (vec!["set-village-category", VILLAGE_D, "X"], "not a class"),
        (
            vec!["set-village-category", "640104001999", "A"],
            "640104001999 is not a village code",
        ),
        (
            vec!["staffing", "--division", "640199"],
            "640199 is not a known division code",
        ),
        (
            vec!["staffing", "--division", TOWNSHIP_B, "--on", "2026-13-01"],
            "not a date",
        ),
    ] {
        let out = env.admin(&args, "").await;
        assert!(!out.status.success(), "{args:?} was accepted: {out:?}");
        assert!(out.stderr.contains(message), "{args:?}: {}", out.stderr);
    }

    let back = env
        .admin(&["set-village-category", VILLAGE_D, "none"], "")
        .await;
    assert!(
        back.stdout.contains("is class D (its county's)"),
        "{back:?}"
    );
    let d = env.admin(&["staffing", "--division", VILLAGE_D], "").await;
    printed(&d, "no village is short of its team");
}
