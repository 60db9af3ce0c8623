//! The household file (农户档案) over HTTP on both engines: a household found by a name, a
//! member's name, a phone, an ID-card number and its household number, only in the viewer's
//! villages; its page with members, checks, tasks, conflicts and edits, disclosed by role and
//! audited; the roles that may not search it, and forms without the session's token.

use fieldsync_protocol::Role;
use fieldsync_protocol::push::Status;
use fieldsync_protocol::registry::idcard;
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use super::{Browser, Page, audit_by, now, push_ok};
use crate::helpers::*;

const HEAD_ID_CARD: &str = "640104196503120133";

fn member_id_card() -> String {
    idcard::with_check("64010420100512002").expect("a number")
}

/// A county's household as the office knows it: 马德福 of village A, with a phone, numbers and
/// a daughter; 马德禄 next door; another 马德福 in village B.
struct Village {
    h1: Uuid,
    h2: Uuid,
    h3: Uuid,
    daughter: Uuid,
}

async fn village(app: &TestApp) -> Village {
    let mut a = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let mut b = app.phone(Role::GridWorker, &[VILLAGE_B]).await;
    let (h1, h2, h3, daughter) = (
        a.dev.new_id(),
        a.dev.new_id(),
        b.dev.new_id(),
        a.dev.new_id(),
    );
    push_ok(
        &a.api,
        vec![
            a.dev.create(
                "household",
                h1,
                json!({"village_code": VILLAGE_A, "head_name": "马德福", "phone": "13912345678",
                       "head_id_card": HEAD_ID_CARD, "household_no": "6401040010020001",
                       "monitoring_type": "marginal_prone", "grid": "一组"}),
            ),
            a.dev.create(
                "member",
                daughter,
                json!({"household_id": h1.to_string(), "name": "马小梅", "relation": "child",
                       "id_card": member_id_card(), "illness": "先天性心脏病"}),
            ),
            a.dev
                .create("household", h2, household(VILLAGE_A, "马德禄")),
        ],
    )
    .await;
    push_ok(
        &b.api,
        vec![
            b.dev
                .create("household", h3, household(VILLAGE_B, "马德福")),
        ],
    )
    .await;
    Village {
        h1,
        h2,
        h3,
        daughter,
    }
}

async fn search(b: &mut Browser, q: &str, village: &str) -> Page {
    let token = b.get("/console/households").await.csrf();
    b.post(
        "/console/households",
        &[("q", q), ("village", village), ("csrf", &token)],
        None,
    )
    .await
}

/// The households a result page lists, by id.
fn listed(page: &Page) -> Vec<Uuid> {
    page.body
        .split("<tr data-id=\"")
        .skip(1)
        .filter_map(|s| s.get(..36)?.parse().ok())
        .collect()
}

#[tokio::test]
async fn a_household_is_found_by_name_member_phone_id_card_and_number_in_ones_villages_only() {
    let app = spawn_app().await;
    let v = village(&app).await;
    let (_, sec) = app.user(Role::FirstSecretary, &[VILLAGE_A]).await;
    let mut b = Browser::new(&app.base);
    b.sign_in(&sec).await;

    let page = search(&mut b, "马德", "").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let mut found = listed(&page);
    found.sort();
    let mut expected = vec![v.h1, v.h2];
    expected.sort();
    assert_eq!(found, expected, "both of village A, not B's namesake");
    assert!(
        page.body
            .contains(&format!(r#"href="/console/households/{}""#, v.h1))
    );

    // A member's name finds the household and says who matched.
    let page = search(&mut b, "马小", "").await;
    assert_eq!(listed(&page), vec![v.h1]);
    assert!(page.body.contains("马小梅"));
    // The phone, the member's ID-card number (with spaces, as read out), the household number.
    for q in [
        "139 1234 5678".to_owned(),
        member_id_card(),
        format!(" {} ", member_id_card().to_lowercase()),
        "6401040010020001".to_owned(),
    ] {
        let page = search(&mut b, &q, "").await;
        assert_eq!(listed(&page), vec![v.h1], "{q}");
    }
    // Found nowhere: a name no one has.
    let page = search(&mut b, "李", "").await;
    assert!(listed(&page).is_empty());
    assert!(page.body.contains(r#"data-testid="nothing""#));
    // Narrowed to one village of one's own.
    let page = search(&mut b, "马", VILLAGE_A).await;
    assert_eq!(listed(&page).len(), 2);

    // A mistyped ID-card number is said to be one, with what was typed kept.
    let mut wrong = HEAD_ID_CARD.to_owned();
    wrong.replace_range(17.., "4");
    let page = search(&mut b, &wrong, "").await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("check digit"), "{}", page.body);
    assert!(page.body.contains(&format!(r#"value="{wrong}""#)));
    // Another village, asked for by hand, is refused on the form.
    let page = search(&mut b, "马", VILLAGE_B).await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.body
    );
    assert!(listed(&page).is_empty());
    // Empty: said so.
    let page = search(&mut b, "  ", "").await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);

    // A search has no token of another session: refused, nothing listed.
    let refused = b
        .post(
            "/console/households",
            &[("q", "马"), ("village", ""), ("csrf", "forged")],
            None,
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(listed(&refused).is_empty());

    // A township supervisor finds B's namesake too when B is in the township.
    let (_, supervisor) = app.user(Role::TownshipSupervisor, &[TOWNSHIP]).await;
    let mut s = Browser::new(&app.base);
    s.sign_in(&supervisor).await;
    let page = search(&mut s, "马德福", "").await;
    let mut found = listed(&page);
    found.sort();
    let mut expected = vec![v.h1, v.h3];
    expected.sort();
    assert_eq!(found, expected);

    // The hotline operator finds reports at the desk, not household registers.
    let (_, operator) = app.user(Role::HotlineOperator, &[TOWNSHIP]).await;
    let mut o = Browser::new(&app.base);
    o.sign_in(&operator).await;
    assert_eq!(
        o.get("/console/households").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        o.get(&format!("/console/households/{}", v.h1)).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn a_households_page_shows_everything_about_it_as_the_viewers_role_may_see_it() {
    let app = spawn_app().await;
    let v = village(&app).await;
    let mut sec = app.phone(Role::FirstSecretary, &[VILLAGE_A]).await;
    let mut other = app.phone(Role::TeamMember, &[VILLAGE_A]).await;
    // A failing housing check (a task follows by the county's rules), a visit, then two phones
    // edit the head's name from the same version: a conflict.
    push_ok(
        &sec.api,
        vec![
            sec.dev.create(
                "housing_check",
                sec.dev.new_id(),
                json!({"household_id": v.h1.to_string(), "captured_at": now(), "appraisal_grade": "D"}),
            ),
            sec.dev.create(
                "visit",
                sec.dev.new_id(),
                json!({"village_code": VILLAGE_A, "household_id": v.h1.to_string(),
                       "started_at": now(), "purpose": "routine", "notes": "屋顶漏雨"}),
            ),
        ],
    )
    .await;
    push_ok(
        &sec.api,
        vec![
            sec.dev
                .update("household", v.h1, 1, json!({"phone": "13800000000"})),
        ],
    )
    .await;
    let r = other
        .api
        .push(vec![other.dev.update(
            "household",
            v.h1,
            1,
            json!({"phone": "13811111111"}),
        )])
        .await
        .expect("push");
    assert_eq!(r.results[0].status, Status::Conflict);

    let (sec_id, sec_name) = app.user(Role::FirstSecretary, &[VILLAGE_A]).await;
    let mut b = Browser::new(&app.base);
    b.sign_in(&sec_name).await;
    let page = b.get(&format!("/console/households/{}", v.h1)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let body = &page.body;
    for part in [
        r#"data-testid="household""#,
        r#"data-testid="members""#,
        r#"data-testid="check-status""#,
        r#"data-testid="check""#,
        r#"data-testid="visits""#,
        r#"data-testid="tasks""#,
        r#"data-testid="conflicts""#,
        r#"data-testid="edits""#,
    ] {
        assert!(body.contains(part), "{part} missing: {body}");
    }
    assert!(body.contains("马小梅") && body.contains("屋顶漏雨"));
    // Codes read as words: the monitoring type, the relation, the failure.
    assert!(
        body.contains("边缘易致贫户") && body.contains("子女"),
        "{body}"
    );
    assert!(body.contains("危房"), "the failure in words: {body}");
    // A first secretary sees ID-card numbers and illnesses in full.
    assert!(body.contains(HEAD_ID_CARD) && body.contains("先天性心脏病"));
    // The edits name who changed which field.
    assert!(body.contains("联系电话") || body.contains("Phone"));

    // A township supervisor: ID-card numbers masked, illnesses withheld, every read audited.
    let (sup_id, supervisor) = app.user(Role::TownshipSupervisor, &[TOWNSHIP]).await;
    let mut s = Browser::new(&app.base);
    s.sign_in(&supervisor).await;
    let page = s.get(&format!("/console/households/{}", v.h1)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains(HEAD_ID_CARD) && !page.body.contains(&member_id_card()));
    assert!(page.body.contains("6401**********0133"), "masked, not gone");
    assert!(!page.body.contains("先天性心脏病"));
    let reads = audit_by(&app, sup_id).await;
    assert!(
        reads
            .iter()
            .any(|r| r.action == "read" && r.household_id == Some(v.h1) && r.entity == "household"),
        "{reads:?}"
    );
    assert!(
        reads
            .iter()
            .any(|r| r.action == "read" && r.record_id == v.daughter),
        "the member's read is audited too"
    );
    assert!(
        !audit_by(&app, sec_id).await.is_empty(),
        "the first secretary's read is audited"
    );

    // Another village's household does not exist for the viewer, nor does an unknown one.
    for id in [v.h3, Uuid::now_v7()] {
        assert_eq!(
            b.get(&format!("/console/households/{id}")).await.status,
            StatusCode::NOT_FOUND
        );
    }
    assert_eq!(
        b.get("/console/households/not-an-id").await.status,
        StatusCode::NOT_FOUND
    );
}
