//! The village teams page (驻村力量) over HTTP, on both engines: the shortfall list names each
//! village short of its class's team today or after a planned change, with what it lacks in
//! words; a class comes from the county unless an admin designated it (audited); who may read
//! which division, and that only an admin designates.

use fieldsync_protocol::Role;
use fieldsync_server::clock;
use fieldsync_server::store::village_record;
use reqwest::StatusCode;
use time::Date;
use uuid::Uuid;

use super::{Browser, Page, audit_by};
use crate::helpers::*;

/// 原州区 (a national key county: class B), its township 南关街道 and four of its villages.
const COUNTY_B: &str = "640402";
const TOWNSHIP_B: &str = "640402001";
const FULL: &str = "640402001001";
const SHORT: &str = "640402001003";
const HANDED_OVER: &str = "640402001004";
const WITH_DISABLED: &str = "640402001005";
/// Another township of 原州区.
const OTHER_TOWNSHIP_B: &str = "640402002";
/// 永宁县 (class C): two villages of 团结西路街道.
const TOWNSHIP_C: &str = "640121001";
const C_EMPTY: &str = "640121001001";
const C_SECRETARY: &str = "640121001002";

fn day(d: Date) -> String {
    clock::iso(d)
}

fn later(days: i64) -> Date {
    clock::today() + time::Duration::days(days)
}

/// The rows of the shortfall table: village, first short day, the row's text.
fn short_rows(body: &str) -> Vec<(String, String, String)> {
    let Some(start) = body.find(r#"data-testid="short""#) else {
        return Vec::new();
    };
    let table = &body[start..start + body[start..].find("</table>").unwrap_or(0)];
    table
        .split(r#"<tr data-village=""#)
        .skip(1)
        .map(|row| {
            let village = row[..12].to_owned();
            let from_at = row.find(r#"data-from=""#).unwrap() + r#"data-from=""#.len();
            (
                village,
                row[from_at..from_at + 10].to_owned(),
                row.to_owned(),
            )
        })
        .collect()
}

/// What a shortfall row says is missing.
fn missing(row: &(String, String, String)) -> &str {
    let marker = r#"class="badge bad">"#;
    let at = row.2.find(marker).expect("the missing posts") + marker.len();
    &row.2[at..at + row.2[at..].find('<').unwrap_or(0)]
}

fn rows_of<'a>(
    rows: &'a [(String, String, String)],
    village: &str,
) -> Vec<&'a (String, String, String)> {
    rows.iter().filter(|r| r.0 == village).collect()
}

#[tokio::test]
async fn the_shortfall_list_shows_who_is_missing_today_and_after_a_handover() {
    let app = spawn_app().await;
    let since = day(later(-60));
    for (role, village) in [
        (Role::FirstSecretary, FULL),
        (Role::TeamMember, FULL),
        (Role::TeamMember, FULL),
        (Role::TeamMember, SHORT),
        (Role::TeamMember, HANDED_OVER),
        (Role::TeamMember, HANDED_OVER),
        (Role::FirstSecretary, WITH_DISABLED),
        (Role::TeamMember, WITH_DISABLED),
        (Role::FirstSecretary, C_SECRETARY),
    ] {
        app.user_since(role, &[village], &since).await;
    }
    // A disabled member holds no post.
    let (_, disabled) = app
        .user_since(Role::TeamMember, &[WITH_DISABLED], &since)
        .await;
    app.store
        .set_user_disabled(&disabled, true, clock::now_ms())
        .await
        .unwrap();
    // The first secretary leaves after the 10th day from now, the next one starts on the
    // 12th: the 11th is without one.
    let (leaving, leaving_name) = app
        .user_since(Role::FirstSecretary, &[HANDED_OVER], &since)
        .await;
    app.store
        .schedule_assignments(
            leaving,
            &[HANDED_OVER.to_owned()],
            &since,
            &day(later(-61)),
            Some(&day(later(10))),
        )
        .await
        .unwrap();
    app.user_since(Role::FirstSecretary, &[HANDED_OVER], &day(later(12)))
        .await;

    let (_, officer) = app.user(Role::CountyOfficer, &[COUNTY_B]).await;
    let mut b = Browser::new(&app.base);
    b.sign_in(&officer).await;
    let page = b
        .get(&format!("/console/staffing?division={TOWNSHIP_B}"))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains(r#"href="/console/staffing""#),
        "in the nav"
    );
    let rows = short_rows(&page.body);
    let today = day(clock::today());

    assert!(rows_of(&rows, FULL).is_empty(), "a full team is not short");
    let short = rows_of(&rows, SHORT);
    assert_eq!(short.len(), 1, "{short:?}");
    assert_eq!(short[0].1, today);
    assert!(short[0].2.contains("B 类"), "{}", short[0].2);
    assert_eq!(
        missing(short[0]),
        "没有第一书记；工作队员 1 名（应不少于 2 名）"
    );

    let handed = rows_of(&rows, HANDED_OVER);
    assert_eq!(handed.len(), 1, "short on the one day between: {handed:?}");
    assert_eq!(handed[0].1, day(later(11)));
    assert_eq!(missing(handed[0]), "没有第一书记", "the members are there");
    assert!(handed[0].2.contains(&leaving_name), "names who left");

    let disabled_row = rows_of(&rows, WITH_DISABLED);
    assert_eq!(disabled_row.len(), 1, "{disabled_row:?}");
    assert_eq!(missing(disabled_row[0]), "工作队员 1 名（应不少于 2 名）");

    // On the day the new first secretary starts, the handover is complete.
    let then = b
        .get(&format!(
            "/console/staffing?division={TOWNSHIP_B}&on={}",
            day(later(12))
        ))
        .await;
    assert!(rows_of(&short_rows(&then.body), HANDED_OVER).is_empty());

    // The same in English.
    b.get("/console/lang?to=en&next=/console/").await;
    let en = b
        .get(&format!("/console/staffing?division={TOWNSHIP_B}"))
        .await;
    let rows = short_rows(&en.body);
    let short = rows_of(&rows, SHORT);
    assert_eq!(missing(short[0]), "no first secretary; 1 team member of 2");
    assert!(short[0].2.contains("national key county"));

    // Class C needs a first secretary only; the officer of 原州区 does not see 永宁县.
    let elsewhere = b
        .get(&format!("/console/staffing?division={TOWNSHIP_C}"))
        .await;
    assert_eq!(elsewhere.status, StatusCode::NOT_FOUND);
    let (_, admin) = app.user(Role::Admin, &[]).await;
    let mut a = Browser::new(&app.base);
    a.sign_in(&admin).await;
    let c = a
        .get(&format!("/console/staffing?division={TOWNSHIP_C}"))
        .await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.body);
    let rows = short_rows(&c.body);
    let empty = rows_of(&rows, C_EMPTY);
    assert_eq!(empty.len(), 1);
    assert!(empty[0].2.contains("C 类"));
    assert_eq!(
        missing(empty[0]),
        "没有第一书记",
        "members are optional in C"
    );
    assert!(rows_of(&rows, C_SECRETARY).is_empty());

    // Not an out-of-poverty village of its county: designated D, it is never short.
    let token = c.csrf();
    let d = a
        .post(
            "/console/staffing/category",
            &[
                ("village", C_EMPTY),
                ("category", "D"),
                ("division", TOWNSHIP_C),
                ("csrf", &token),
            ],
            None,
        )
        .await;
    assert_eq!(d.status, StatusCode::SEE_OTHER, "{}", d.body);
    let after = a.get(d.location.as_deref().unwrap()).await;
    assert!(rows_of(&short_rows(&after.body), C_EMPTY).is_empty());
    assert!(after.body.contains("D 类"));
}

/// Posts the designation form of the township's page.
async fn designate(
    b: &mut Browser,
    village: &str,
    category: &str,
    csrf: Option<&String>,
    origin: Option<&str>,
) -> Page {
    let mut form = vec![
        ("village", village),
        ("category", category),
        ("division", TOWNSHIP),
    ];
    if let Some(t) = csrf {
        form.push(("csrf", t));
    }
    b.post("/console/staffing/category", &form, origin).await
}

/// A village of a class D county is never short until an admin designates it a resettlement
/// village (class A); the designation is audited, and back to the county's class it is never
/// short again. A county officer cannot designate; a form without the token changes nothing;
/// D is refused in a D county, on the form with what was chosen.
#[tokio::test]
async fn an_admin_designates_a_resettlement_village_and_it_is_audited() {
    let app = spawn_app().await;
    let (admin_id, admin) = app.user(Role::Admin, &["640104"]).await;
    let mut a = Browser::new(&app.base);
    a.sign_in(&admin).await;
    let path = format!("/console/staffing?division={TOWNSHIP}");
    let page = a.get(&path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(rows_of(&short_rows(&page.body), VILLAGE_A).is_empty(), "D");
    assert!(page.body.contains(r#"data-testid="designate""#));
    let token = page.csrf();
    let forged = "forged".to_owned();
    for csrf in [None, Some(&forged)] {
        let refused = designate(&mut a, VILLAGE_A, "A", csrf, None).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
    }
    let cross_site = designate(
        &mut a,
        VILLAGE_A,
        "A",
        Some(&token),
        Some("https://evil.example"),
    );
    assert_eq!(cross_site.await.status, StatusCode::FORBIDDEN);
    assert!(audit_by(&app, admin_id).await.is_empty());

    // A county officer of the county may read, not designate.
    let (officer_id, officer) = app.user(Role::CountyOfficer, &["640104"]).await;
    let mut o = Browser::new(&app.base);
    o.sign_in(&officer).await;
    let officers = o.get(&path).await;
    assert_eq!(officers.status, StatusCode::OK);
    assert!(!officers.body.contains(r#"data-testid="designate""#));
    let refused = designate(&mut o, VILLAGE_A, "A", Some(&officers.csrf()), None).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(audit_by(&app, officer_id).await.is_empty());
    assert!(rows_of(&short_rows(&a.get(&path).await.body), VILLAGE_A).is_empty());

    // D is for villages of B and C counties: refused here, the choice kept; an unknown
    // village likewise, the field named.
    let wrong = designate(&mut a, VILLAGE_A, "D", Some(&token), None).await;
    assert_eq!(
        wrong.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        wrong.body
    );
    assert!(wrong.body.contains(r#"data-testid="error""#));
    assert!(wrong.body.contains("类别："), "the field is named");
    assert!(wrong.body.contains(r#"<option value="D" selected>"#));
    let unknown = designate(&mut a, "640104001999", "A", Some(&token), None).await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        unknown.body.contains("村：640104001999"),
        "{}",
        unknown.body
    );

    // Designated A: it needs the full team, and has nobody.
    let done = designate(&mut a, VILLAGE_A, "A", Some(&token), None).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let after = a.get(done.location.as_deref().unwrap()).await;
    assert!(after.body.contains(r#"data-testid="flash""#));
    let rows = short_rows(&after.body);
    let row = rows_of(&rows, VILLAGE_A);
    assert_eq!(row.len(), 1, "{rows:?}");
    assert!(row[0].2.contains("A 类") && row[0].2.contains("管理员指定"));
    assert_eq!(
        missing(row[0]),
        "没有第一书记；工作队员 0 名（应不少于 2 名）"
    );
    // The officer sees the same list.
    let theirs = o.get(&path).await;
    assert_eq!(rows_of(&short_rows(&theirs.body), VILLAGE_A).len(), 1);

    // Back to the county's class.
    let back = designate(&mut a, VILLAGE_A, "none", Some(&token), None).await;
    assert_eq!(back.status, StatusCode::SEE_OTHER);
    assert!(rows_of(&short_rows(&a.get(&path).await.body), VILLAGE_A).is_empty());

    let entries: Vec<(String, Option<String>, Uuid)> = audit_by(&app, admin_id)
        .await
        .into_iter()
        .filter(|e| e.entity == "village")
        .map(|e| (e.action, e.scope, e.record_id))
        .collect();
    let village = Some(VILLAGE_A.to_owned());
    let id = village_record(VILLAGE_A);
    assert_eq!(
        entries,
        [
            ("village_category_set".to_owned(), village.clone(), id),
            ("village_category_cleared".to_owned(), village, id),
        ]
    );
}

/// A township supervisor reads their own township only; a first secretary has no such page.
#[tokio::test]
async fn a_supervisor_reads_their_own_township_and_a_first_secretary_none() {
    let app = spawn_app().await;
    let (_, supervisor) = app.user(Role::TownshipSupervisor, &[TOWNSHIP_B]).await;
    let (_, other) = app
        .user(Role::TownshipSupervisor, &[OTHER_TOWNSHIP_B])
        .await;
    let (_, secretary) = app.user(Role::FirstSecretary, &[SHORT]).await;

    let mut s = Browser::new(&app.base);
    s.sign_in(&supervisor).await;
    let own = s.get("/console/staffing").await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.body);
    assert_eq!(
        rows_of(&short_rows(&own.body), SHORT).len(),
        1,
        "no one there"
    );
    assert!(own.body.contains(r#"href="/console/staffing""#));
    assert!(!own.body.contains(r#"data-testid="designate""#));
    for division in [COUNTY_B, OTHER_TOWNSHIP_B, "640402002001", "999999"] {
        let refused = s
            .get(&format!("/console/staffing?division={division}"))
            .await;
        assert_eq!(refused.status, StatusCode::NOT_FOUND, "{division}");
        assert!(!refused.body.contains(SHORT));
    }
    let bad_day = s.get("/console/staffing?on=tomorrow").await;
    assert_eq!(bad_day.status, StatusCode::BAD_REQUEST);

    let mut o = Browser::new(&app.base);
    o.sign_in(&other).await;
    let theirs = o
        .get(&format!("/console/staffing?division={TOWNSHIP_B}"))
        .await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    assert!(short_rows(&theirs.body).is_empty());

    let mut f = Browser::new(&app.base);
    f.sign_in(&secretary).await;
    let home = f.get("/console/").await;
    assert!(
        !home.body.contains(r#"href="/console/staffing""#),
        "not in the nav"
    );
    assert_eq!(
        f.get("/console/staffing").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        f.get(&format!("/console/staffing?division={SHORT}"))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}
