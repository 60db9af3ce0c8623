//! The survey forms page, as an admin uses it: a version published from a file reaches the
//! phones; a broken file is refused with every problem listed by its field and nothing
//! published; the same version twice is refused; a retired version refuses the surveys
//! captured on it from then on. Only admins have the page; every change is audited; forms
//! without the sign-in's token change nothing.

use fieldsync_protocol::Role;
use fieldsync_protocol::push::Status;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{Browser, audit_by, now, push_ok};
use crate::helpers::*;

/// The example form of the repository, as an office would upload it.
fn example() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../ops/forms/school_age_children.json"
    );
    std::fs::read(path).expect("the example form")
}

fn file(bytes: Vec<u8>, token: &str) -> Vec<(&'static str, Option<&'static str>, Vec<u8>)> {
    vec![
        ("csrf", None, token.as_bytes().to_vec()),
        ("file", Some("school_age_children.json"), bytes),
    ]
}

/// A survey on the example form, captured now.
fn survey(
    p: &mut Phone,
    household: uuid::Uuid,
    version: u32,
) -> fieldsync_protocol::push::Mutation {
    p.dev.create(
        "survey_submission",
        p.dev.new_id(),
        json!({"household_id": household.to_string(), "form_key": "school_age_children",
               "form_version": version, "captured_at": now(),
               "answers": {"children": 1, "status": "enrolled", "school": "吉强镇中学"}}),
    )
}

#[tokio::test]
async fn an_admin_publishes_and_retires_a_form_version() {
    let app = spawn_app().await;
    let (admin_id, admin) = app.user(Role::Admin, &["640104"]).await;
    let mut b = Browser::new(&app.base);
    b.sign_in(&admin).await;
    let page = b.get("/console/forms").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains(r#"href="/console/forms""#),
        "in the navigation"
    );
    assert!(page.body.contains(r#"data-testid="no-forms""#));
    let token = page.csrf();

    // Without the token, or with another's: nothing published.
    for forged in ["", "forged"] {
        let r = b.upload("/console/forms", file(example(), forged)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
    let r = b
        .upload("/console/forms", vec![("file", Some("f.json"), example())])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "no token at all");
    assert!(app.store.forms().await.unwrap().is_empty());

    // A broken file: every problem, by field, and nothing published.
    let broken = json!({
        "key": "school_age_children", "version": 0, "title": "适龄儿童",
        "fields": [
            {"name": "children", "label": "子女人数", "type": "integer", "min": 5, "max": 1},
            {"name": "status", "label": "", "type": "choice", "options": []},
            {"name": "school", "label": "学校", "type": "text", "when": {"field": "later", "one_of": ["x"]}}
        ]
    });
    let r = b
        .upload(
            "/console/forms",
            file(serde_json::to_vec_pretty(&broken).unwrap(), &token),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains(r#"data-testid="problems""#));
    for (field, text) in [
        ("", "versions start at 1"),
        ("children", "min 5 is above max 1"),
        ("status", "needs a label"),
        ("status", "a choice without options"),
        ("school", "depends on later"),
    ] {
        let at = r
            .body
            .find(&format!(r#"data-field="{field}""#))
            .unwrap_or_else(|| panic!("{field} is listed: {}", r.body));
        let end = r.body[at..]
            .find("</ul></li>")
            .map_or(r.body.len(), |e| at + e);
        assert!(
            r.body[at..end].contains(text),
            "{field}: {text}: {}",
            r.body
        );
    }
    // Not JSON, or not a definition: the line and column where reading stopped.
    for (bytes, text) in [
        (
            b"{\"key\": \"k\",,}".to_vec(),
            "line 1, column 13: not JSON",
        ),
        (
            b"{\n  \"key\": \"k\",\n  \"version\": \"one\"\n}".to_vec(),
            "line 3, column 18: not a form definition",
        ),
        (vec![0xff, 0xfe, 0x00], "not UTF-8"),
    ] {
        let r = b.upload("/console/forms", file(bytes, &token)).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{text}");
        assert!(r.body.contains(text), "{text}: {}", r.body);
    }
    assert!(app.store.forms().await.unwrap().is_empty());

    // The example: published, listed, served to phones.
    let r = b.upload("/console/forms", file(example(), &token)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let listed = b.get(r.location.as_deref().unwrap()).await;
    assert!(listed.body.contains(r#"data-testid="flash""#));
    assert!(listed.body.contains(r#"data-form="school_age_children""#));
    assert!(listed.body.contains(r#"data-version="1""#));
    assert!(listed.body.contains(r#"data-testid="in-use""#));
    let mut p = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let forms: Value = p.api.get_json("/v1/forms").await.unwrap();
    assert_eq!(
        forms["forms"][0]["definition"]["key"],
        "school_age_children"
    );
    assert!(forms["forms"][0]["retired_at_ms"].is_null());

    // The same version again: refused, by its version.
    let again = b.upload("/console/forms", file(example(), &token)).await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        again
            .body
            .contains("already published; publish a new version")
    );
    assert!(again.body.contains(r#"data-field="version""#));
    assert_eq!(app.store.forms().await.unwrap().len(), 1);

    // A survey on it counts on the page.
    let h = p.dev.new_id();
    let first = vec![
        p.dev.create("household", h, household(VILLAGE_A, "马")),
        survey(&mut p, h, 1),
    ];
    push_ok(&p.api, first).await;
    let listed = b.get("/console/forms").await;
    assert!(
        listed.body.contains(r#"data-version="1" data-surveys="1""#),
        "one survey on v1: {}",
        listed.body
    );

    // Retired: surveys captured on it from now on are refused.
    let retire = "/console/forms/school_age_children/1/retire";
    assert_eq!(
        b.post(retire, &[], None).await.status,
        StatusCode::FORBIDDEN,
        "without the token"
    );
    let r = b.post(retire, &[("csrf", &token)], None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let listed = b.get(r.location.as_deref().unwrap()).await;
    assert!(listed.body.contains(r#"data-testid="retired""#));
    assert!(!listed.body.contains(r#"data-testid="retire""#));
    // Captured times are to the second: one captured after the retirement.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let late = survey(&mut p, h, 1);
    let results = p.api.push(vec![late]).await.unwrap().results;
    assert_eq!(results[0].status, Status::Rejected, "{results:?}");
    assert_eq!(
        results[0].error.as_ref().map(|e| e.code),
        Some(fieldsync_protocol::ErrorCode::UnknownForm)
    );
    let forms: Value = p.api.get_json("/v1/forms").await.unwrap();
    assert!(forms["forms"][0]["retired_at_ms"].is_number());
    let unknown = b
        .post(
            "/console/forms/no_such_form/1/retire",
            &[("csrf", &token)],
            None,
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);

    // Both changes audited, by the version's id.
    let id = fieldsync_server::service::forms::version_id("school_age_children", 1);
    let actions: Vec<String> = audit_by(&app, admin_id)
        .await
        .into_iter()
        .filter(|a| a.record_id == id && a.entity == "form")
        .map(|a| a.action)
        .collect();
    assert_eq!(actions, ["form_published", "form_retired"]);
}

/// Forms serve every county's phones: only an admin has the page, publishes or retires.
#[tokio::test]
async fn only_admins_publish_or_retire_forms() {
    let app = spawn_app().await;
    let (_, admin) = app.user(Role::Admin, &["640104"]).await;
    let mut a = Browser::new(&app.base);
    a.sign_in(&admin).await;
    let token = a.get("/console/forms").await.csrf();
    let r = a.upload("/console/forms", file(example(), &token)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);

    for (role, division) in [
        (Role::CountyOfficer, "640104"),
        (Role::TownshipSupervisor, TOWNSHIP),
        (Role::FirstSecretary, VILLAGE_A),
    ] {
        let (_, name) = app.user(role, &[division]).await;
        let mut b = Browser::new(&app.base);
        b.sign_in(&name).await;
        let home = b.get("/console/").await;
        assert!(
            !home.body.contains(r#"href="/console/forms""#),
            "{role}: not in the navigation"
        );
        assert_eq!(
            b.get("/console/forms").await.status,
            StatusCode::FORBIDDEN,
            "{role}"
        );
        let token = home.csrf();
        let mut second: Value = serde_json::from_slice(&example()).unwrap();
        second["version"] = json!(2);
        let r = b
            .upload(
                "/console/forms",
                file(serde_json::to_vec(&second).unwrap(), &token),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{role}");
        let r = b
            .post(
                "/console/forms/school_age_children/1/retire",
                &[("csrf", &token)],
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{role}");
    }
    let forms = app.store.forms().await.unwrap();
    assert_eq!(forms.len(), 1, "no second version");
    assert!(forms[0].retired_at.is_none(), "not retired");
}
