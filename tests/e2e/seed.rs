//! `admin seed-region`: a measurement database filled in bulk. On PostgreSQL the seeded
//! households, members and checks are there, numbered after the sync head, and a cadre of a
//! seeded village pulls them; a database with records is refused without `--add`. The
//! embedded engine is refused with a clear message.

use crate::harness::TestEnv;

#[tokio::test]
async fn seed_region_fills_postgres_and_refuses_what_it_should() {
    let env = TestEnv::new().await;
    let args = [
        "seed-region",
        "--households",
        "300",
        "--members",
        "2",
        "--checks",
        "4",
        "--skip-village",
        "640104001003",
    ];
    let out = env.admin(&args, "").await;
    if !env.is_postgres() {
        assert!(!out.status.success());
        assert!(out.stderr.contains("needs PostgreSQL"), "{out:?}");
        return;
    }
    assert!(out.status.success(), "{out:?}");
    assert!(
        out.stdout.contains("seeded 2100 records: 300 households"),
        "{out:?}"
    );
    // Again without --add: refused, nothing added.
    let again = env.admin(&args, "").await;
    assert!(!again.status.success());
    assert!(
        again.stderr.contains("already holds 2100 records"),
        "{again:?}"
    );

    // A cadre of a seeded village pulls its households with their members and checks; the
    // skipped village has none.
    let server = env.serve().await;
    env.create_user("sec", "first_secretary", "640104001002")
        .await;
    env.create_user("other", "first_secretary", "640104001003")
        .await;
    let phone = server.phone("sec").await;
    let (changes, _, _) = phone.api.pull_all(None, None).await.expect("pull");
    let households = changes.iter().filter(|c| c.entity == "household").count();
    assert!(households >= 1, "{changes:?}");
    assert_eq!(
        changes.iter().filter(|c| c.entity == "member").count(),
        households * 2
    );
    assert_eq!(
        changes
            .iter()
            .filter(|c| c.entity.ends_with("_check"))
            .count(),
        households * 4
    );
    let other = server.phone("other").await;
    let (none, _, _) = other.api.pull_all(None, None).await.expect("pull");
    assert!(none.is_empty(), "{none:?}");
}
