//! The review console over HTTP, as a browser uses it (cookies, forms, redirects), on both
//! engines: signing in and out, the cookie's attributes, CSRF refusals, and that each page's
//! action does what the API would (approve a sheet, reassign a task, move a case, resolve a
//! conflict) and each figure counts what was recorded (dashboard, map).

mod accounts_more;
mod forms;
mod households;
mod staffing;

use std::collections::HashMap;

use fieldsync_protocol::Role;
use fieldsync_protocol::gps::{Crs, GpsFix};
use fieldsync_protocol::push::{Mutation, Status};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::*;

/// A browser: a cookie jar, no automatic redirects.
struct Browser {
    http: reqwest::Client,
    base: String,
    cookies: HashMap<String, String>,
    /// Attributes of each cookie as last set.
    set: HashMap<String, String>,
}

struct Page {
    status: StatusCode,
    location: Option<String>,
    cache_control: Option<String>,
    body: String,
}

impl Page {
    /// The CSRF token of the first form on the page.
    fn csrf(&self) -> String {
        let at = self
            .body
            .find(r#"name="csrf" value=""#)
            .expect("a form with a token");
        let rest = &self.body[at + r#"name="csrf" value=""#.len()..];
        rest[..rest.find('"').expect("end of the value")].to_owned()
    }
}

impl Browser {
    fn new(base: &str) -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            base: base.to_owned(),
            cookies: HashMap::new(),
            set: HashMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn take(&mut self, r: reqwest::Response) -> Page {
        for v in r.headers().get_all("set-cookie") {
            let text = v.to_str().unwrap_or_default().to_owned();
            let (pair, _) = text.split_once(';').unwrap_or((&text, ""));
            let (k, value) = pair.split_once('=').unwrap_or((pair, ""));
            if value.is_empty() || text.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), value.to_owned());
            }
            self.set.insert(k.to_owned(), text.clone());
        }
        Page {
            status: r.status(),
            location: r
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            cache_control: r
                .headers()
                .get("cache-control")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            body: r.text().await.unwrap_or_default(),
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .expect("get");
        self.take(r).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)], origin: Option<&str>) -> Page {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(form).expect("form"));
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        let r = req.send().await.expect("post");
        self.take(r).await
    }

    /// A file upload: the fields in order, each `(name, file name, bytes)`.
    async fn upload(&mut self, path: &str, fields: Vec<(&str, Option<&str>, Vec<u8>)>) -> Page {
        let mut form = reqwest::multipart::Form::new();
        for (name, file, bytes) in fields {
            let part = reqwest::multipart::Part::bytes(bytes);
            let part = match file {
                Some(f) => part.file_name(f.to_owned()),
                None => part,
            };
            form = form.part(name.to_owned(), part);
        }
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .multipart(form)
            .send()
            .await
            .expect("upload");
        self.take(r).await
    }

    async fn sign_in(&mut self, username: &str) {
        let login = self.get("/console/login").await;
        assert_eq!(login.status, StatusCode::OK);
        let token = login.csrf();
        let done = self
            .post(
                "/console/login",
                &[
                    ("username", username),
                    ("password", PASSWORD),
                    ("csrf", &token),
                    ("next", "/console/tasks"),
                ],
                None,
            )
            .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
        assert_eq!(done.location.as_deref(), Some("/console/tasks"));
    }
}

/// A record with a fix; `nth` moves the fix a few tens of metres and ten minutes back, since
/// identical coordinates at two households, or two places at once, are doubted.
fn fixed(p: &mut Phone, entity: &str, fields: Value, nth: u32, mocked: bool) -> Mutation {
    let mut m = p.dev.create(entity, p.dev.new_id(), fields);
    m.gps = Some(GpsFix {
        lat: 38.4680 + f64::from(nth) * 0.0003,
        lon: 106.2719,
        accuracy_m: 10.0,
        crs: Crs::Wgs84,
        fix_at: time::OffsetDateTime::now_utc() - time::Duration::minutes(10 * i64::from(nth)),
        mocked,
    });
    m
}

fn now() -> String {
    fieldsync_server::clock::rfc3339_of_ms(fieldsync_server::clock::now_ms())
}

async fn push_ok(
    api: &fieldsync_client::Api,
    batch: Vec<Mutation>,
) -> Vec<fieldsync_protocol::push::MutationResult> {
    let r = api.push(batch).await.expect("push").results;
    assert!(
        r.iter()
            .all(|r| matches!(r.status, Status::Applied | Status::Merged)),
        "{r:?}"
    );
    r
}

#[tokio::test]
async fn signing_in_sets_a_guarded_cookie_and_signing_out_ends_the_session() {
    let app = spawn_app().await;
    let (_, supervisor) = app.user(Role::TownshipSupervisor, &[TOWNSHIP]).await;
    let (_, farmer) = app.user(Role::Farmer, &[VILLAGE_A]).await;
    let mut b = Browser::new(&app.base);

    let first = b.get("/console/tasks?village=x").await;
    assert_eq!(first.status, StatusCode::SEE_OTHER);
    assert_eq!(
        first.location.as_deref(),
        Some("/console/login?next=/console/tasks%3Fvillage%3Dx")
    );

    // The sign-in form's own token must come back with its cookie.
    let login = b.get("/console/login").await;
    let token = login.csrf();
    let mut stranger = Browser::new(&app.base);
    let refused = stranger
        .post(
            "/console/login",
            &[
                ("username", &supervisor),
                ("password", PASSWORD),
                ("csrf", &token),
            ],
            None,
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "no login cookie");

    let wrong = b
        .post(
            "/console/login",
            &[
                ("username", &supervisor),
                ("password", "nope"),
                ("csrf", &token),
            ],
            None,
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("用户名或密码不对"), "{}", wrong.body);
    assert!(!b.cookies.contains_key("fs_console"));

    // A farmer has no console.
    let token = b.get("/console/login").await.csrf();
    let farmer_try = b
        .post(
            "/console/login",
            &[
                ("username", &farmer),
                ("password", PASSWORD),
                ("csrf", &token),
            ],
            None,
        )
        .await;
    assert_eq!(farmer_try.status, StatusCode::FORBIDDEN);
    assert!(!b.cookies.contains_key("fs_console"));

    // An offer to go elsewhere after signing in is ignored.
    let token = b.get("/console/login").await.csrf();
    let ok = b
        .post(
            "/console/login",
            &[
                ("username", &supervisor),
                ("password", PASSWORD),
                ("csrf", &token),
                ("next", "https://evil.example/"),
            ],
            None,
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    assert_eq!(ok.location.as_deref(), Some("/console/"));
    let cookie = b.set.get("fs_console").expect("a session cookie").clone();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP: not Secure: {cookie}"
    );
    assert!(cookie.contains("Path=/console"), "{cookie}");

    let home = b.get("/console/").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains("乡镇包村干部"), "the role is shown");
    let token = home.csrf();
    let old = b.cookies.clone();
    let out = b.post("/console/logout", &[("csrf", &token)], None).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    // The old cookie, kept by an attacker, opens nothing.
    b.cookies = old;
    assert_eq!(b.get("/console/").await.status, StatusCode::SEE_OTHER);
    // Nor does the API take the session's device for a phone.
    assert!(!b.get("/console/").await.body.contains("乡镇包村干部"));
}

#[tokio::test]
async fn behind_tls_the_cookie_is_secure() {
    let app = spawn_app_with(|s| s.console.secure_cookie = Some(true)).await;
    let (_, supervisor) = app.user(Role::TownshipSupervisor, &[TOWNSHIP]).await;
    let mut b = Browser::new(&app.base);
    b.sign_in(&supervisor).await;
    assert!(
        b.set["fs_console"].contains("; Secure"),
        "{}",
        b.set["fs_console"]
    );
}

#[tokio::test]
async fn forms_without_the_sessions_token_change_nothing() {
    let app = spawn_app().await;
    let (cadre, _) = app.user(Role::TeamMember, &[VILLAGE_A]).await;
    let (_, supervisor) = app.user(Role::TownshipSupervisor, &[TOWNSHIP]).await;
    let (_, other) = app.user(Role::TownshipSupervisor, &[TOWNSHIP]).await;
    let mut b = Browser::new(&app.base);
    b.sign_in(&supervisor).await;
    let mut c = Browser::new(&app.base);
    c.sign_in(&other).await;
    let month = fieldsync_server::clock::iso(fieldsync_server::clock::today())[..7].to_owned();
    let sheet = b
        .get(&format!("/console/attendance/{cadre}?month={month}"))
        .await;
    assert_eq!(sheet.status, StatusCode::OK);
    let token = sheet.csrf();
    let others_token = c.get("/console/").await.csrf();
    let path = format!("/console/attendance/{cadre}/review");
    for (form, origin) in [
        (vec![("month", month.as_str()), ("action", "approve")], None),
        (
            vec![
                ("month", month.as_str()),
                ("action", "approve"),
                ("csrf", "forged"),
            ],
            None,
        ),
        (
            vec![
                ("month", month.as_str()),
                ("action", "approve"),
                ("csrf", others_token.as_str()),
            ],
            None,
        ),
        (
            vec![
                ("month", month.as_str()),
                ("action", "approve"),
                ("csrf", token.as_str()),
            ],
            Some("https://evil.example"),
        ),
    ] {
        let r = b.post(&path, &form, origin).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{form:?} {origin:?}");
    }
    assert!(
        app.store
            .reviews(cadre, &month)
            .await
            .expect("reviews")
            .is_empty()
    );

    // With the token, from this site: approved, and the page says so.
    let done = b
        .post(
            &path,
            &[("month", &month), ("action", "approve"), ("csrf", &token)],
            Some(&app.base),
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let after = b
        .get(done.location.as_deref().expect("back to the sheet"))
        .await;
    assert!(after.body.contains("已审核通过并锁定"), "{}", after.body);
    let reviews = app.store.reviews(cadre, &month).await.expect("reviews");
    assert_eq!(reviews.len(), 1);
    assert_eq!(reviews[0].action, "approve");
    // A return needs a comment, as in the API: a clear page, not a 5xx.
    let token = after.csrf();
    let again = b
        .post(
            &path,
            &[("month", &month), ("action", "return"), ("csrf", &token)],
            None,
        )
        .await;
    assert_eq!(
        again.status,
        StatusCode::CONFLICT,
        "approved sheets are locked"
    );
}

/// The console runs the API's check: a supervisor cannot read or approve the sheet of the
/// county officer above them there either.
#[tokio::test]
async fn the_console_shows_no_sheet_of_a_superior() {
    let app = spawn_app().await;
    let (county, _) = app.user(Role::CountyOfficer, &["640104"]).await;
    let (_, supervisor) = app.user(Role::TownshipSupervisor, &[TOWNSHIP]).await;
    let mut b = Browser::new(&app.base);
    b.sign_in(&supervisor).await;
    let month = fieldsync_server::clock::iso(fieldsync_server::clock::today())[..7].to_owned();
    let sheet = b
        .get(&format!("/console/attendance/{county}?month={month}"))
        .await;
    assert_eq!(sheet.status, StatusCode::NOT_FOUND, "{}", sheet.body);
    let token = b.get("/console/").await.csrf();
    let r = b
        .post(
            &format!("/console/attendance/{county}/review"),
            &[("month", &month), ("action", "approve"), ("csrf", &token)],
            Some(&app.base),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    assert!(app.store.reviews(county, &month).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_reassignment_and_a_step_are_judged_like_a_phones() {
    let app = spawn_app().await;
    let mut sec = app.phone(Role::FirstSecretary, &[VILLAGE_A]).await;
    let (member, _) = app.user(Role::TeamMember, &[VILLAGE_A]).await;
    let (outsider, _) = app.user(Role::TeamMember, &[VILLAGE_B]).await;
    let (_, supervisor) = app.user(Role::TownshipSupervisor, &[TOWNSHIP]).await;
    let h = sec.dev.new_id();
    let at = now();
    push_ok(
        &sec.api,
        vec![
            sec.dev.create("household", h, household(VILLAGE_A, "马")),
            sec.dev.create(
                "housing_check",
                sec.dev.new_id(),
                json!({"household_id": h.to_string(), "captured_at": at, "appraisal_grade": "D"}),
            ),
        ],
    )
    .await;
    let tasks: Value = sec.api.get_json("/v1/tasks").await.expect("tasks");
    let task = tasks["tasks"][0].clone();
    let task_id = task["id"].as_str().expect("a task").to_owned();

    // Assigned to the village, but no one gives them a task.
    let (operator, _) = app.user(Role::HotlineOperator, &[TOWNSHIP]).await;
    let (farmer, _) = app.user(Role::Farmer, &[VILLAGE_A]).await;
    let mut b = Browser::new(&app.base);
    b.sign_in(&supervisor).await;
    let page = b.get("/console/tasks").await;
    assert!(page.body.contains(&task_id), "the task is listed");
    assert!(
        page.body.contains(r#"<td class="household">马</td>"#),
        "the task names its household by its head"
    );
    assert!(
        page.body.contains(&format!(r#"option value="{member}""#)),
        "a team member of the village is offered"
    );
    for never in [operator, farmer] {
        assert!(
            !page.body.contains(&format!(r#"option value="{never}""#)),
            "the reassignment offers only people the rules let take a task"
        );
    }
    let token = page.csrf();
    let version = task["version"].to_string();
    let path = format!("/console/tasks/{task_id}/reassign");
    // Someone not assigned to the village: refused with the push's reason, nothing changed.
    let bad = b
        .post(
            &path,
            &[
                ("assignee_id", &outsider.to_string()),
                ("version", &version),
                ("csrf", &token),
            ],
            None,
        )
        .await;
    assert!(bad.status.is_client_error(), "{} {}", bad.status, bad.body);
    let ok = b
        .post(
            &path,
            &[
                ("assignee_id", &member.to_string()),
                ("version", &version),
                ("csrf", &token),
                ("back", "/console/tasks?status=all"),
            ],
            None,
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    assert_eq!(
        ok.location.as_deref(),
        Some("/console/tasks?status=all&done=reassigned")
    );
    let tasks: Value = sec.api.get_json("/v1/tasks").await.expect("tasks");
    assert_eq!(
        tasks["tasks"][0]["fields"]["assignee_id"],
        member.to_string(),
        "the phone pulls the change"
    );

    // A self-report opens a case; the first secretary does not admit it, from the console.
    let mut hotline = app.phone(Role::HotlineOperator, &[TOWNSHIP]).await;
    push_ok(
        &hotline.api,
        vec![hotline.dev.create(
            "self_report",
            hotline.dev.new_id(),
            json!({
        "village_code": VILLAGE_A, "household_id": h.to_string(), "category": "illness",
        "description": "住院", "consent_to_checks": true, "channel": "hotline"}),
        )],
    )
    .await;
    let cases: Value = sec.api.get_json("/v1/cases").await.expect("cases");
    let case_id = cases["cases"][0]["id"].as_str().expect("a case").to_owned();
    let secretary = app
        .store
        .user_by_id(sec.user_id)
        .await
        .expect("user")
        .expect("exists")
        .username;
    let mut s = Browser::new(&app.base);
    s.sign_in(&secretary).await;
    let case_page = s.get(&format!("/console/cases/{case_id}")).await;
    assert_eq!(case_page.status, StatusCode::OK);
    assert!(
        case_page
            .body
            .contains(r#"data-testid="step-not_admitted""#),
        "the allowed step is a button"
    );
    assert!(
        !case_page.body.contains(r#"data-testid="step-approved""#),
        "the county's step is not"
    );
    let token = case_page.csrf();
    let step = s
        .post(
            &format!("/console/cases/{case_id}/step"),
            &[
                ("from", "reported"),
                ("to", "not_admitted"),
                ("reason", "criteria_not_met"),
                ("note", "收入达标"),
                ("csrf", &token),
            ],
            None,
        )
        .await;
    assert_eq!(step.status, StatusCode::SEE_OTHER, "{}", step.body);
    let case: Value = sec
        .api
        .get_json(&format!("/v1/cases/{case_id}"))
        .await
        .expect("case");
    assert_eq!(case["case"]["fields"]["state"], "not_admitted");
    assert_eq!(case["steps"][0]["fields"]["outcome"], "applied");
}

#[tokio::test]
async fn the_dashboard_and_the_map_count_what_was_recorded() {
    let app = spawn_app().await;
    let mut sec = app.phone(Role::FirstSecretary, &[VILLAGE_A]).await;
    let (_, supervisor) = app.user(Role::TownshipSupervisor, &[TOWNSHIP]).await;
    let (_, elsewhere) = app.user(Role::TownshipSupervisor, &["640104002"]).await;
    let hs: Vec<Uuid> = (0..3).map(|_| sec.dev.new_id()).collect();
    let at = now();
    let mut batch: Vec<Mutation> = hs
        .iter()
        .map(|h| sec.dev.create("household", *h, household(VILLAGE_A, "户")))
        .collect();
    batch.push(fixed(&mut sec, "visit", json!({"village_code": VILLAGE_A, "household_id": hs[0].to_string(), "started_at": at, "purpose": "routine"}), 0, false));
    batch.push(fixed(
        &mut sec,
        "housing_check",
        json!({"household_id": hs[1].to_string(), "captured_at": at, "appraisal_grade": "D"}),
        1,
        false,
    ));
    batch.push(fixed(
        &mut sec,
        "housing_check",
        json!({"household_id": hs[0].to_string(), "captured_at": at, "appraisal_grade": "A"}),
        2,
        true,
    ));
    push_ok(&sec.api, batch).await;

    let mut b = Browser::new(&app.base);
    b.sign_in(&supervisor).await;
    let dash = b.get(&format!("/console/?division={TOWNSHIP}")).await;
    assert_eq!(dash.status, StatusCode::OK);
    // Two of the three households were seen this month; one of two housing checks failed.
    assert!(dash.body.contains("66.7%"), "{}", dash.body);
    assert!(
        dash.body.contains("1 / 2"),
        "failed housing checks: {}",
        dash.body
    );

    let month = fieldsync_server::clock::iso(fieldsync_server::clock::today())[..7].to_owned();
    let geo = b
        .get(&format!(
            "/console/map/{VILLAGE_A}/points.geojson?month={month}"
        ))
        .await;
    assert_eq!(geo.status, StatusCode::OK);
    let fc: Value = serde_json::from_str(&geo.body).expect("GeoJSON");
    let features = fc["features"].as_array().expect("features");
    assert_eq!(features[0]["properties"]["kind"], "boundary");
    assert_eq!(
        features[0]["properties"]["area"], "county_shape",
        "no village shape imported"
    );
    let verdicts: Vec<&str> = features[1..]
        .iter()
        .filter_map(|f| f["properties"]["verdict"].as_str())
        .collect();
    assert_eq!(verdicts.len(), 3);
    assert_eq!(
        verdicts.iter().filter(|v| **v == "doubted").count(),
        1,
        "the mocked fix: {features:?}"
    );
    let page = b.get(&format!("/console/map?village={VILLAGE_A}")).await;
    assert_eq!(page.body.matches("<circle").count(), 3);

    // Another township's supervisor sees neither.
    let mut o = Browser::new(&app.base);
    o.sign_in(&elsewhere).await;
    assert_eq!(
        o.get(&format!("/console/map/{VILLAGE_A}/points.geojson"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        o.get(&format!("/console/?division={TOWNSHIP}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_conflict_is_shown_side_by_side_and_resolved() {
    let app = spawn_app().await;
    let mut a = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let mut c = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let (_, reviewer) = app.user(Role::FirstSecretary, &[VILLAGE_A]).await;
    let h = a.dev.new_id();
    push_ok(
        &a.api,
        vec![a.dev.create("household", h, household(VILLAGE_A, "冯"))],
    )
    .await;
    push_ok(
        &a.api,
        vec![
            a.dev
                .update("household", h, 1, json!({"head_name": "冯一"})),
        ],
    )
    .await;
    let r = c
        .api
        .push(vec![c.dev.update(
            "household",
            h,
            1,
            json!({"head_name": "冯二"}),
        )])
        .await
        .expect("push");
    assert_eq!(r.results[0].status, Status::Conflict);

    let mut b = Browser::new(&app.base);
    b.sign_in(&reviewer).await;
    let page = b.get("/console/conflicts").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.body.matches(r#"data-testid="conflict""#).count(), 1);
    assert!(
        page.body.contains("冯一") && page.body.contains("冯二"),
        "both values shown"
    );
    assert!(
        page.body.contains(r#"<span class="household">户主 冯"#),
        "the conflict names its household by its head: {}",
        page.body
    );
    let id = r.results[0].conflicts[0].conflict_id;
    let token = page.csrf();
    let done = b
        .post(
            &format!("/console/conflicts/{id}/resolve"),
            &[
                ("choice", "value"),
                ("value", "冯三"),
                ("note", "户口本"),
                ("csrf", &token),
            ],
            None,
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert!(
        b.get("/console/conflicts")
            .await
            .body
            .contains(r#"data-testid="no-conflicts""#)
    );
    let (changes, _, _) = a.api.pull_all(None, None).await.expect("pull");
    let latest = latest(&changes);
    assert_eq!(latest[&h].fields["head_name"], "冯三");
}

/// The office's roster through the console: upload, the dry run's report per village, the
/// import confirmed, the report downloaded; another officer cannot see the import, a team
/// leader cannot upload, a form without the token is refused.
#[tokio::test]
async fn a_county_officer_imports_the_roster_from_the_console() {
    let app = spawn_app().await;
    let (_, officer) = app.user(Role::CountyOfficer, &[TOWNSHIP]).await;
    let mut b = Browser::new(&app.base);
    b.sign_in(&officer).await;
    let page = b.get("/console/roster").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("data-testid=\"upload\""),
        "{}",
        page.body
    );
    let token = page.csrf();
    let card = |first17: &str| fieldsync_protocol::registry::idcard::with_check(first17).unwrap();
    let csv = format!(
        "户编号,人编号,乡镇,行政村,姓名,证件号码,与户主关系,家庭人口数\n\
         640104001002000001,64010400100200000101,凤凰北街街道,崇安社区,马德福,{},户主,2\n\
         640104001002000001,64010400100200000102,凤凰北街街道,崇安社区,李秀兰,{},配偶,2\n\
         640104001002000002,64010400100200000201,凤凰北街街道,无此村,杨志强,{},户主,1\n",
        card("64010419650312013"),
        card("64010419680704024"),
        card("64010419700101051"),
    );

    // Without the token nothing is kept.
    let refused = b
        .upload(
            "/console/roster",
            vec![
                ("csrf", None, b"wrong".to_vec()),
                ("file", Some("r.csv"), csv.clone().into_bytes()),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    // Something that is no roster is refused at once, with the reason.
    let junk = b
        .upload(
            "/console/roster",
            vec![
                ("csrf", None, token.clone().into_bytes()),
                ("file", Some("r.csv"), b"a,b\n1,2\n".to_vec()),
            ],
        )
        .await;
    assert_eq!(junk.status, StatusCode::BAD_REQUEST, "{}", junk.body);
    assert!(junk.body.contains("户编号"), "{}", junk.body);

    let sent = b
        .upload(
            "/console/roster",
            vec![
                ("csrf", None, token.clone().into_bytes()),
                ("file", Some("花名册.csv"), csv.into_bytes()),
            ],
        )
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    let run = sent.location.unwrap();
    let checked = wait_for(&mut b, &run, "data-testid=\"confirm\"").await;
    assert!(checked.body.contains("640104001002"), "{}", checked.body);
    assert!(
        checked.body.contains("无此村"),
        "the bad row's reason: {}",
        checked.body
    );
    let grid = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let (changes, _, _) = grid.api.pull_all(None, None).await.unwrap();
    assert!(changes.is_empty(), "the dry run wrote nothing");

    // Another officer, and a team leader, see nothing of it.
    let (_, other) = app.user(Role::CountyOfficer, &[TOWNSHIP]).await;
    let mut o = Browser::new(&app.base);
    o.sign_in(&other).await;
    assert_eq!(o.get(&run).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        o.get(&format!("{run}/report.csv")).await.status,
        StatusCode::NOT_FOUND
    );
    let (_, leader) = app.user(Role::TownshipSupervisor, &[TOWNSHIP]).await;
    let mut t = Browser::new(&app.base);
    t.sign_in(&leader).await;
    assert_eq!(t.get("/console/roster").await.status, StatusCode::FORBIDDEN);
    assert!(
        !t.get("/console/tasks")
            .await
            .body
            .contains("/console/roster"),
        "no menu entry"
    );

    let token = checked.csrf();
    let go = b
        .post(&format!("{run}/import"), &[("csrf", &token)], None)
        .await;
    assert_eq!(go.status, StatusCode::SEE_OTHER, "{}", go.body);
    let done = wait_for(&mut b, &run, "data-testid=\"state\"").await;
    assert!(
        !done.body.contains("data-testid=\"confirm\""),
        "{}",
        done.body
    );
    let (changes, _, _) = grid.api.pull_all(None, None).await.unwrap();
    let households = changes.iter().filter(|c| c.entity == "household").count();
    let members = changes.iter().filter(|c| c.entity == "member").count();
    assert_eq!((households, members), (1, 2));
    let report = b.get(&format!("{run}/report.csv")).await;
    assert_eq!(report.status, StatusCode::OK);
    assert!(
        report
            .body
            .contains("640104001002,2,household,640104001002000001,new,"),
        "{}",
        report.body
    );
    assert!(report.body.contains(",bad_row,"), "{}", report.body);
    // Imported once; a second confirmation is refused.
    let again = b
        .post(&format!("{run}/import"), &[("csrf", &token)], None)
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
}

/// The page of a run, once it shows `marker` (the run goes on in the background).
async fn wait_for(b: &mut Browser, path: &str, marker: &str) -> Page {
    for _ in 0..200 {
        let page = b.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        if page.body.contains(marker) {
            return page;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{path} never showed {marker}");
}

/// The 12317 desk, as an operator works it: the operator signs in to the console and finds
/// the desk and nothing else; a call naming the head's ID-card number becomes a report of that
/// household, opens its case and puts the home verification task on the first secretary's
/// list; a refused call comes back with what was typed and the reason; on a follow-up call the
/// report is found by the ID-card number with where it stands in plain words. An operator of
/// another village finds nothing, other roles have no desk, and the phone number stays masked.
#[tokio::test]
async fn the_hotline_desk_takes_a_call_through_to_the_first_secretarys_tasks() {
    let app = spawn_app().await;
    let mut sec = app.phone(Role::FirstSecretary, &[VILLAGE_A]).await;
    let head_card = "11010519491231002X";
    let h = sec.dev.new_id();
    push_ok(
        &sec.api,
        vec![sec.dev.create(
            "household",
            h,
            json!({"village_code": VILLAGE_A, "head_name": "马", "head_id_card": head_card}),
        )],
    )
    .await;
    let (operator_id, operator) = app.user(Role::HotlineOperator, &[VILLAGE_A]).await;
    let mut b = Browser::new(&app.base);
    b.sign_in(&operator).await;
    let home = b.get("/console/").await;
    assert_eq!(home.location.as_deref(), Some("/console/hotline"));
    let desk = b.get("/console/hotline").await;
    assert_eq!(desk.status, StatusCode::OK, "{}", desk.body);
    assert!(desk.body.contains(r#"data-testid="call""#));
    assert!(
        !desk.body.contains(r#"href="/console/tasks""#),
        "an operator's navigation holds the desk only"
    );
    assert!(b.get("/console/tasks").await.status.is_client_error());
    let token = desk.csrf();
    let call = |description: &'static str, card: &'static str| {
        vec![
            ("village_code", VILLAGE_A),
            ("id_card", card),
            ("reporter_name", "马大姐"),
            ("contact_phone", "13912345678"),
            ("category", "illness"),
            ("description", description),
            ("consent", "1"),
        ]
    };
    let recorded = || async {
        app.store
            .work_records("self_report", None)
            .await
            .expect("reports")
            .len()
    };

    // Without the form's token, and with a blank description or a mistyped number: refused,
    // nothing recorded; a refusal keeps what was typed.
    let forged = b
        .post("/console/hotline", &call("住院", head_card), None)
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    for (description, card, field) in [
        ("", head_card, "反映的困难："),
        ("住院", "110105194912310021", "身份证号："),
    ] {
        let mut form = call(description, card);
        form.push(("csrf", &token));
        let refused = b.post("/console/hotline", &form, None).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            refused.body
        );
        assert!(
            refused
                .body
                .contains(&format!(r#"data-testid="error">{field}"#)),
            "the reason names the field: {}",
            refused.body
        );
        assert!(
            refused.body.contains(r#"value="马大姐""#),
            "the form keeps what was typed"
        );
    }
    assert_eq!(recorded().await, 0);

    let mut form = call("户主脑梗住院，医疗费用约八万元", head_card);
    form.push(("csrf", &token));
    let taken = b.post("/console/hotline", &form, None).await;
    assert_eq!(taken.status, StatusCode::SEE_OTHER, "{}", taken.body);
    let after = b
        .get(taken.location.as_deref().expect("back to the desk"))
        .await;
    assert!(after.body.contains(r#"data-testid="flash""#));
    let reported = fieldsync_protocol::labels::case_standing("reported").expect("words");
    assert!(
        after.body.contains("马大姐") && after.body.contains(reported.zh),
        "today's calls list it with where it stands: {}",
        after.body
    );
    assert!(!after.body.contains("13912345678"), "the phone is masked");

    // The report is the household's, its case is open and the verification is the first
    // secretary's task.
    let reports = app.store.work_records("self_report", None).await.unwrap();
    assert_eq!(reports.len(), 1);
    let fields = &reports[0].fields.0;
    assert_eq!(fields["household_id"], json!(h.to_string()));
    assert_eq!(fields["channel"], json!("hotline"));
    let cases: Value = sec.api.get_json("/v1/cases").await.expect("cases");
    let case = &cases["cases"][0];
    assert_eq!(
        case["fields"]["household_id"],
        json!(h.to_string()),
        "{cases}"
    );
    assert_eq!(case["fields"]["state"], json!("reported"));
    let tasks: Value = sec.api.get_json("/v1/tasks").await.expect("tasks");
    assert!(
        tasks["tasks"]
            .as_array()
            .expect("tasks")
            .iter()
            .any(|t| t["fields"]["household_id"] == json!(h.to_string())),
        "{tasks}"
    );

    // A follow-up call: found by the number, whoever took it; the search was audited.
    let found = b
        .post(
            "/console/hotline/find",
            &[("id_card", head_card), ("csrf", &token)],
            None,
        )
        .await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.body);
    let table = &found.body[found.body.find(r#"data-testid="found""#).expect("results")..];
    assert!(table.contains("马大姐") && table.contains(reported.zh));
    let audit = audit_by(&app, operator_id).await;
    assert!(audit.iter().any(|a| a.action == "read"), "{audit:?}");

    // Another village's operator finds nothing; a first secretary has no desk.
    let (_, other) = app.user(Role::HotlineOperator, &[VILLAGE_B]).await;
    let mut o = Browser::new(&app.base);
    o.sign_in(&other).await;
    let token = o.get("/console/hotline").await.csrf();
    let none = o
        .post(
            "/console/hotline/find",
            &[("id_card", head_card), ("csrf", &token)],
            None,
        )
        .await;
    assert_eq!(none.status, StatusCode::OK);
    assert!(!none.body.contains("马大姐"));
    let (_, secretary) = app.user(Role::FirstSecretary, &[VILLAGE_A]).await;
    let mut s = Browser::new(&app.base);
    s.sign_in(&secretary).await;
    assert!(s.get("/console/hotline").await.status.is_client_error());

    // The township names the household the call is about on its lists.
    let (_, supervisor) = app.user(Role::TownshipSupervisor, &[TOWNSHIP]).await;
    let mut t = Browser::new(&app.base);
    t.sign_in(&supervisor).await;
    for list in ["/console/reports", "/console/cases"] {
        let page = t.get(list).await;
        assert!(
            page.body.contains(r#"<td class="household">马</td>"#),
            "{list} names the household: {}",
            page.body
        );
    }
}

/// A phone's login with `password`: its status.
async fn phone_login(app: &TestApp, username: &str, password: &str) -> StatusCode {
    reqwest::Client::new()
        .post(format!("{}/v1/auth/login", app.base))
        .json(&fieldsync_protocol::auth::LoginRequest {
            username: username.to_owned(),
            password: password.to_owned(),
            device_id: Uuid::now_v7(),
        })
        .send()
        .await
        .expect("login")
        .status()
}

/// Accounts from the console: a county officer makes a first secretary's account in a village
/// of the county, and the first password, shown once, signs a phone in; an admin account, a
/// division outside the county and a taken username are refused on the form with what was
/// typed; disabling the account refuses its login at once, enabling lets it in again; every
/// change is audited. A township supervisor has no accounts page, and a form without the
/// sign-in's token changes nothing.
#[tokio::test]
async fn a_county_officer_makes_disables_and_enables_an_account() {
    let app = spawn_app().await;
    let (officer_id, officer) = app.user(Role::CountyOfficer, &["640104"]).await;
    let mut b = Browser::new(&app.base);
    b.sign_in(&officer).await;
    let page = b.get("/console/accounts").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains(r#"data-testid="create""#));
    assert!(
        !page.body.contains(r#"option value="admin""#),
        "a county officer is not offered admin accounts"
    );
    let token = page.csrf();
    let form = |username: &'static str, role: &'static str, division: &'static str| {
        vec![
            ("username", username),
            ("display_name", "马建国"),
            ("role", role),
            ("division", division),
        ]
    };

    let forged = b
        .post(
            "/console/accounts",
            &form("ma.jianguo", "first_secretary", VILLAGE_A),
            None,
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    for (username, role, division) in [
        ("boss", "admin", VILLAGE_A),
        ("elsewhere", "first_secretary", "640105"),
        ("not a name", "first_secretary", VILLAGE_A),
    ] {
        let mut f = form(username, role, division);
        f.push(("csrf", &token));
        let refused = b.post("/console/accounts", &f, None).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{username}: {}",
            refused.body
        );
        assert!(refused.body.contains(r#"data-testid="error""#));
        assert!(
            refused.body.contains(&format!(r#"value="{username}""#)),
            "the form keeps what was typed"
        );
        assert_eq!(
            phone_login(&app, username, PASSWORD).await,
            StatusCode::UNAUTHORIZED
        );
    }

    let mut f = form("ma.jianguo", "first_secretary", VILLAGE_A);
    f.push(("csrf", &token));
    let made = b.post("/console/accounts", &f, None).await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.body);
    let at = made
        .body
        .find(r#"data-testid="password">"#)
        .expect("the first password is shown")
        + r#"data-testid="password">"#.len();
    let secret = made.body[at..at + 12].to_owned();
    assert!(
        secret.chars().all(|c| c.is_ascii_alphanumeric()),
        "{secret}"
    );
    assert!(
        made.body.contains(r#"data-username="ma.jianguo""#),
        "the new account is listed"
    );
    assert_eq!(
        phone_login(&app, "ma.jianguo", &secret).await,
        StatusCode::OK
    );
    let again = b.post("/console/accounts", &f, None).await;
    assert_eq!(
        again.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a taken username"
    );
    let listed = b.get("/console/accounts?division=640104001002").await;
    assert!(
        !listed.body.contains(&secret),
        "the password is shown once, never again"
    );

    // Disabled: refused at once; enabled: in again.
    let user = app
        .store
        .user_by_username("ma.jianguo")
        .await
        .unwrap()
        .expect("made");
    let off = b
        .post(
            &format!("/console/accounts/{}/disable", user.id),
            &[("csrf", &token), ("division", VILLAGE_A)],
            None,
        )
        .await;
    assert_eq!(off.status, StatusCode::SEE_OTHER, "{}", off.body);
    assert_eq!(
        phone_login(&app, "ma.jianguo", &secret).await,
        StatusCode::UNAUTHORIZED
    );
    let on = b
        .post(
            &format!("/console/accounts/{}/enable", user.id),
            &[("csrf", &token), ("division", VILLAGE_A)],
            None,
        )
        .await;
    assert_eq!(on.status, StatusCode::SEE_OTHER);
    assert_eq!(
        phone_login(&app, "ma.jianguo", &secret).await,
        StatusCode::OK
    );
    let audit = audit_by(&app, officer_id).await;
    let actions: Vec<&str> = audit
        .iter()
        .filter(|a| a.record_id == user.id)
        .map(|a| a.action.as_str())
        .collect();
    assert_eq!(
        actions,
        ["account_created", "account_disabled", "account_enabled"]
    );

    // A lost password: a new first password, shown once; the old one no longer signs in.
    let reset = b
        .post(
            &format!("/console/accounts/{}/password", user.id),
            &[("csrf", &token), ("division", VILLAGE_A)],
            None,
        )
        .await;
    assert_eq!(reset.status, StatusCode::OK, "{}", reset.body);
    let at = reset
        .body
        .find(r#"data-testid="password">"#)
        .expect("the new password is shown")
        + r#"data-testid="password">"#.len();
    let renewed = reset.body[at..at + 12].to_owned();
    assert_ne!(renewed, secret);
    assert_eq!(
        phone_login(&app, "ma.jianguo", &secret).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        phone_login(&app, "ma.jianguo", &renewed).await,
        StatusCode::OK
    );

    // The rotation: VILLAGE_A's first secretary hands over to one coming from VILLAGE_B.
    let (leaving, _) = app
        .user_since(Role::FirstSecretary, &[VILLAGE_A], "2026-01-01")
        .await;
    let (arriving, _) = app
        .user_since(Role::FirstSecretary, &[VILLAGE_B], "2026-01-01")
        .await;
    let (member, _) = app
        .user_since(Role::TeamMember, &[VILLAGE_B], "2026-01-01")
        .await;
    let today = fieldsync_server::clock::today();
    let day = |d: time::Date| fieldsync_server::clock::iso(d);
    let hand = |to: Uuid, on: String| {
        vec![
            ("csrf", token.clone()),
            ("division", "640104".to_owned()),
            ("village", VILLAGE_A.to_owned()),
            ("from", leaving.to_string()),
            ("to", to.to_string()),
            ("day", on),
        ]
    };
    for (to, on) in [
        (member, day(today)),
        (arriving, day(fieldsync_server::clock::yesterday_of(today))),
    ] {
        let f = hand(to, on);
        let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let refused = b.post("/console/accounts/handover", &f, None).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "another post or a past day: {}",
            refused.body
        );
    }
    let f = hand(arriving, day(today));
    let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let handed = b.post("/console/accounts/handover", &f, None).await;
    assert_eq!(handed.status, StatusCode::SEE_OTHER, "{}", handed.body);
    let villages = |user: Uuid, on: time::Date| {
        let store = app.store.clone();
        async move { store.user_villages(user, &day(on)).await.unwrap() }
    };
    let yesterday = fieldsync_server::clock::yesterday_of(today);
    assert!(
        villages(leaving, yesterday)
            .await
            .contains(&VILLAGE_A.to_owned())
    );
    assert!(
        !villages(leaving, today)
            .await
            .contains(&VILLAGE_A.to_owned())
    );
    let now = villages(arriving, today).await;
    assert!(
        now.contains(&VILLAGE_A.to_owned()) && now.contains(&VILLAGE_B.to_owned()),
        "{now:?}"
    );
    let handovers = audit_by(&app, officer_id)
        .await
        .into_iter()
        .filter(|a| a.action == "handover")
        .map(|a| a.record_id)
        .collect::<Vec<_>>();
    assert_eq!(handovers, [leaving, arriving]);

    // A lost phone: the person's page lists it with its last contact; revoked, it is refused
    // at its next request.
    let phone = app.phone(Role::TeamMember, &[VILLAGE_A]).await;
    assert!(phone.api.pull(None, None).await.is_ok());
    let person = b.get(&format!("/console/accounts/{}", phone.user_id)).await;
    assert_eq!(person.status, StatusCode::OK, "{}", person.body);
    assert!(
        person
            .body
            .contains(&format!(r#"data-device="{}""#, phone.dev.id))
    );
    let revoked = b
        .post(
            &format!(
                "/console/accounts/{}/devices/{}/revoke",
                phone.user_id, phone.dev.id
            ),
            &[("csrf", &token)],
            None,
        )
        .await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER, "{}", revoked.body);
    assert!(
        phone.api.pull(None, None).await.is_err(),
        "a revoked phone is refused"
    );
    let entries = audit_by(&app, officer_id).await;
    assert!(
        entries
            .iter()
            .any(|a| a.action == "device_revoked" && a.record_id == phone.dev.id)
    );
    // Another person's device under this person's name: not found.
    let (other_user, _) = app.user(Role::TeamMember, &[VILLAGE_A]).await;
    let wrong = b
        .post(
            &format!(
                "/console/accounts/{other_user}/devices/{}/revoke",
                phone.dev.id
            ),
            &[("csrf", &token)],
            None,
        )
        .await;
    assert_eq!(wrong.status, StatusCode::NOT_FOUND);

    // An admin's account is not a county officer's to disable; a supervisor has no page.
    let (admin_id, _) = app.user(Role::Admin, &["640104"]).await;
    let refused = b
        .post(
            &format!("/console/accounts/{admin_id}/disable"),
            &[("csrf", &token)],
            None,
        )
        .await;
    assert!(refused.status.is_client_error(), "{}", refused.status);
    let (_, supervisor) = app.user(Role::TownshipSupervisor, &[TOWNSHIP]).await;
    let mut s = Browser::new(&app.base);
    s.sign_in(&supervisor).await;
    assert_eq!(
        s.get("/console/accounts").await.status,
        StatusCode::FORBIDDEN
    );
}

/// What `user` did or read, as the audit lists it.
async fn audit_by(app: &TestApp, user: Uuid) -> Vec<fieldsync_server::store::AuditRow> {
    app.store
        .audit(&fieldsync_server::store::AuditFilter {
            user_id: Some(user),
            limit: 500,
            ..Default::default()
        })
        .await
        .unwrap()
}
