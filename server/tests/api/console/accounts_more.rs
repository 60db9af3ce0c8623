//! The accounts pages' assignments and roster import: a county officer adds and ends a
//! person's assignments within the county (bad days, overlaps, other counties and admin
//! accounts refused, with what was typed kept), and imports the staff roster CSV
//! `admin import-users` reads (bad rows listed by line, rows beyond the county refused, first
//! passwords shown once and signing phones in, the same file again changing nothing). Every
//! change audited; forms without the sign-in's token change nothing.

use fieldsync_protocol::Role;
use reqwest::StatusCode;
use uuid::Uuid;

use super::{Browser, audit_by, phone_login};
use crate::helpers::*;
use fieldsync_server::clock;

fn day(offset: i64) -> String {
    clock::iso(clock::today() + time::Duration::days(offset))
}

#[tokio::test]
async fn a_county_officer_adds_and_ends_assignments_within_the_county() {
    let app = spawn_app().await;
    let (officer_id, officer) = app.user(Role::CountyOfficer, &["640104"]).await;
    let (member, _) = app
        .user_since(Role::TeamMember, &[VILLAGE_A], "2026-01-01")
        .await;
    let mut b = Browser::new(&app.base);
    b.sign_in(&officer).await;
    let path = format!("/console/accounts/{member}");
    let page = b.get(&path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains(&format!(
        r#"data-division="{VILLAGE_A}" data-starts="2026-01-01""#
    )));
    assert!(page.body.contains(r#"data-testid="assign""#));
    let token = page.csrf();
    let add = format!("{path}/assignments");
    let end = format!("{path}/assignments/end");

    let forged = b
        .post(
            &add,
            &[("division", VILLAGE_B), ("starts_on", &day(1))],
            None,
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let forged = b
        .post(
            &end,
            &[
                ("division", VILLAGE_A),
                ("starts_on", "2026-01-01"),
                ("ends_on", &day(0)),
                ("csrf", "forged"),
            ],
            None,
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    // Refused on the form, with what was typed and the field named.
    for (division, starts, ends, field) in [
        (VILLAGE_B, day(-1), String::new(), "starts_on"),
        (VILLAGE_B, day(5), day(4), "ends_on"),
        (VILLAGE_B, "tomorrow".to_owned(), String::new(), "starts_on"),
        ("640105001002", day(1), String::new(), "division"),
        ("640104001999", day(1), String::new(), "division"),
        (VILLAGE_A, day(3), String::new(), "starts_on"),
    ] {
        let r = b
            .post(
                &add,
                &[
                    ("csrf", &token),
                    ("division", division),
                    ("starts_on", &starts),
                    ("ends_on", &ends),
                ],
                None,
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{division} {starts}..{ends}: {}",
            r.body
        );
        assert!(
            r.body.contains(&format!(r#"data-field="{field}""#)),
            "{division} {starts}..{ends} names {field}: {}",
            r.body
        );
        assert!(r.body.contains(&format!(r#"value="{division}""#)));
    }
    let spans = |user: Uuid| {
        let store = app.store.clone();
        async move {
            store
                .assignment_spans(user, "0000-01-01", "9999-12-31")
                .await
                .unwrap()
        }
    };
    assert_eq!(spans(member).await.len(), 1, "nothing was added");

    // VILLAGE_B from tomorrow for a month: planned, then in force.
    let r = b
        .post(
            &add,
            &[
                ("csrf", &token),
                ("division", VILLAGE_B),
                ("starts_on", &day(1)),
                ("ends_on", &day(30)),
            ],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let villages = |on: String| {
        let store = app.store.clone();
        async move { store.user_villages(member, &on).await.unwrap() }
    };
    assert_eq!(villages(day(0)).await, [VILLAGE_A]);
    assert_eq!(villages(day(1)).await, [VILLAGE_A, VILLAGE_B]);
    assert_eq!(villages(day(31)).await, [VILLAGE_A]);
    let page = b.get(r.location.as_deref().unwrap()).await;
    assert!(
        page.body
            .contains(&format!(r#"data-division="{VILLAGE_B}""#))
    );
    // Another period of VILLAGE_B overlapping that one: refused.
    let r = b
        .post(
            &add,
            &[
                ("csrf", &token),
                ("division", VILLAGE_B),
                ("starts_on", &day(10)),
            ],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("already assigned"), "{}", r.body);

    // VILLAGE_A ends: not on a past day, then today (the last day worked).
    let ending = |last: String| {
        vec![
            ("csrf", token.clone()),
            ("division", VILLAGE_A.to_owned()),
            ("starts_on", "2026-01-01".to_owned()),
            ("ends_on", last),
        ]
    };
    let f = ending(day(-2));
    let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = b.post(&end, &f, None).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains(r#"data-field="ends_on""#));
    let f = ending(day(0));
    let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = b.post(&end, &f, None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(villages(day(0)).await, [VILLAGE_A]);
    assert_eq!(villages(day(1)).await, [VILLAGE_B]);
    let page = b.get(r.location.as_deref().unwrap()).await;
    let at = page
        .body
        .find(&format!(r#"data-division="{VILLAGE_A}""#))
        .expect("the ended assignment is still listed");
    assert!(page.body[at..].contains(&format!("<td>{}</td>", day(0))));
    // An assignment that does not exist: not found.
    let r = b
        .post(
            &end,
            &[
                ("csrf", &token),
                ("division", VILLAGE_B),
                ("starts_on", "2020-01-01"),
                ("ends_on", &day(0)),
            ],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let audit: Vec<(String, Option<String>)> = audit_by(&app, officer_id)
        .await
        .into_iter()
        .filter(|a| a.record_id == member)
        .map(|a| (a.action, a.scope))
        .collect();
    assert_eq!(
        audit,
        [
            ("assignment_added".to_owned(), Some(VILLAGE_B.to_owned())),
            ("assignment_ended".to_owned(), Some(VILLAGE_A.to_owned())),
        ]
    );

    // Another county's officer neither sees nor assigns this person; a county officer does
    // not assign an admin.
    let (_, other) = app.user(Role::CountyOfficer, &["640105"]).await;
    let mut o = Browser::new(&app.base);
    o.sign_in(&other).await;
    assert_eq!(o.get(&path).await.status, StatusCode::NOT_FOUND);
    let other_token = o.get("/console/accounts").await.csrf();
    let r = o
        .post(
            &add,
            &[
                ("csrf", &other_token),
                ("division", "640105001002"),
                ("starts_on", &day(1)),
            ],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let (admin, _) = app.user(Role::Admin, &["640104"]).await;
    let r = b
        .post(
            &format!("/console/accounts/{admin}/assignments"),
            &[
                ("csrf", &token),
                ("division", VILLAGE_B),
                ("starts_on", &day(1)),
            ],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(spans(admin).await.len(), 1);
    assert_eq!(spans(member).await.len(), 2);
}

const HEADER: &str = "username,role,display_name,divisions,starts_on,ends_on,password\n";

#[tokio::test]
async fn a_county_officer_imports_the_staff_roster() {
    let app = spawn_app().await;
    let (officer_id, officer) = app.user(Role::CountyOfficer, &["640104"]).await;
    let (_, elsewhere) = app.user(Role::TeamMember, &["640105001002"]).await;
    let csv = format!(
        "{HEADER}\
         new.cadre,team_member,马新,{VILLAGE_A},,,\n\
         bad.role,wizard,,{VILLAGE_A},,,\n\
         outsider,team_member,,640105001002,,,\n\
         boss,admin,,{VILLAGE_A},,,\n\
         {elsewhere},team_member,,{VILLAGE_A},,,\n\
         given.pw,grid_worker,李给,{VILLAGE_B},{start},,given-password-1\n",
        start = day(0),
    );
    let mut b = Browser::new(&app.base);
    b.sign_in(&officer).await;
    let page = b.get("/console/accounts").await;
    assert!(page.body.contains(r#"data-testid="import""#));
    let token = page.csrf();
    let upload = |token: &str, bytes: Vec<u8>| {
        vec![
            ("csrf", None, token.as_bytes().to_vec()),
            ("file", Some("staff.csv"), bytes),
        ]
    };

    let forged = b
        .upload(
            "/console/accounts/import",
            upload("forged", csv.clone().into_bytes()),
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(
        app.store
            .user_by_username("new.cadre")
            .await
            .unwrap()
            .is_none()
    );

    let done = b
        .upload(
            "/console/accounts/import",
            upload(&token, csv.clone().into_bytes()),
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.cache_control.as_deref(), Some("no-store"));
    for (line, reason) in [
        (3, "unknown role"),
        (4, "640105001002 is not under your divisions"),
        (5, "a county officer does not make or change admin accounts"),
        (6, "works outside your divisions"),
    ] {
        let at = done
            .body
            .find(&format!(r#"data-line="{line}""#))
            .unwrap_or_else(|| panic!("line {line} is listed: {}", done.body));
        let row = &done.body[at..at + done.body[at..].find("</tr>").unwrap()];
        assert!(row.contains(reason), "line {line}: {row}");
    }
    // The generated password is shown once, for the account made without one.
    let at = done
        .body
        .find(r#"data-username="new.cadre"><td>new.cadre</td><td><code data-testid="password">"#)
        .expect("new.cadre's first password")
        + r#"data-username="new.cadre"><td>new.cadre</td><td><code data-testid="password">"#.len();
    let secret = done.body[at..at + 16].to_owned();
    assert!(
        secret.chars().all(|c| c.is_ascii_alphanumeric()),
        "{secret}"
    );
    assert!(!done.body.contains("given-password-1"));
    assert_eq!(done.body.matches(r#"data-testid="password""#).count(), 1);
    assert_eq!(
        phone_login(&app, "new.cadre", &secret).await,
        StatusCode::OK
    );
    assert_eq!(
        phone_login(&app, "given.pw", "given-password-1").await,
        StatusCode::OK
    );
    for refused in ["bad.role", "outsider", "boss"] {
        assert!(app.store.user_by_username(refused).await.unwrap().is_none());
    }
    let moved = app
        .store
        .user_by_username(&elsewhere)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        app.store.user_villages(moved.id, &day(0)).await.unwrap(),
        ["640105001002"],
        "an account of another county is not changed"
    );
    let audit = audit_by(&app, officer_id).await;
    let made: Vec<(Uuid, &str)> = audit
        .iter()
        .map(|a| (a.record_id, a.action.as_str()))
        .collect();
    let id = |name: &str| {
        let store = app.store.clone();
        let name = name.to_owned();
        async move { store.user_by_username(&name).await.unwrap().unwrap().id }
    };
    assert_eq!(
        made,
        [
            (id("new.cadre").await, "account_created"),
            (id("given.pw").await, "account_created"),
        ]
    );

    // The same file again: nothing changes, no password is shown, nothing is audited.
    let again = b
        .upload(
            "/console/accounts/import",
            upload(&token, csv.clone().into_bytes()),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert!(!again.body.contains(r#"data-testid="password""#));
    assert_eq!(again.body.matches(r#"data-outcome="unchanged""#).count(), 2);
    assert_eq!(audit_by(&app, officer_id).await.len(), audit.len());
    assert_eq!(
        phone_login(&app, "new.cadre", &secret).await,
        StatusCode::OK
    );

    // A file that is no roster: back on the accounts page with the reason.
    for (bytes, reason) in [
        (b"code,name\n1,2\n".to_vec(), "the header must be"),
        (vec![0xff, 0xfe, 0x41], "not UTF-8"),
    ] {
        let r = b
            .upload("/console/accounts/import", upload(&token, bytes))
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{reason}");
        assert!(r.body.contains(reason), "{reason}: {}", r.body);
    }

    // A township supervisor imports nothing.
    let (_, supervisor) = app.user(Role::TownshipSupervisor, &[TOWNSHIP]).await;
    let mut s = Browser::new(&app.base);
    s.sign_in(&supervisor).await;
    let token = s.get("/console/").await.csrf();
    let csv = format!("{HEADER}sneaky,grid_worker,,{VILLAGE_A},,,\n");
    let r = s
        .upload("/console/accounts/import", upload(&token, csv.into_bytes()))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        app.store
            .user_by_username("sneaky")
            .await
            .unwrap()
            .is_none()
    );
}
