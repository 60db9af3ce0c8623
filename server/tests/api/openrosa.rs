//! ODK Collect through OpenRosa, as Collect sends it: a key in the URL, the form list, forms and
//! their media, and multipart submissions (split ones included) that become the same records a
//! native phone pulls.

use fieldsync_client::photo_name as sha;
use fieldsync_protocol::Role;
use fieldsync_protocol::push::Status;
use fieldsync_server::clock;
use fieldsync_server::service::collect;
use md5::{Digest, Md5};
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::*;

/// 银川鼓楼 in 兴庆区 (WGS-84): inside VILLAGE_A's county.
const INSIDE: (f64, f64) = (38.4680, 106.2719);

/// A Collect phone: its OpenRosa base URL (key included) and the device the key made.
struct Collect {
    base: String,
    device_id: Uuid,
    http: reqwest::Client,
}

impl Collect {
    async fn new(app: &TestApp, user_id: Uuid) -> Collect {
        let user = app
            .store
            .user_by_id(user_id)
            .await
            .expect("read user")
            .expect("user");
        let issued = collect::issue(&app.store, &user, clock::now_ms())
            .await
            .expect("issue a key");
        Collect {
            base: format!("{}{}", app.base, collect::base_path(&issued.key)),
            device_id: issued.device.device_id,
            http: reqwest::Client::new(),
        }
    }

    /// GET as Collect does: `X-OpenRosa-Version` and `?deviceID=` on every request.
    async fn get(&self, url: &str) -> reqwest::Response {
        self.http
            .get(url)
            .query(&[("deviceID", "collect:test")])
            .header("X-OpenRosa-Version", "1.0")
            .send()
            .await
            .expect("GET")
    }

    async fn text(&self, path: &str) -> (StatusCode, String) {
        let res = self.get(&format!("{}{path}", self.base)).await;
        (res.status(), res.text().await.expect("body"))
    }

    /// POSTs an instance and files as Collect's `OkHttpConnection` does: the instance in
    /// `xml_submission_file` (text/xml), each file a part named by its file name, and
    /// `*isIncomplete*=yes` on every POST of a split upload but the last.
    async fn submit(
        &self,
        xml: &str,
        files: &[(&str, Vec<u8>)],
        incomplete: bool,
    ) -> (StatusCode, String) {
        let mut form = Form::new().part(
            "xml_submission_file",
            Part::bytes(xml.as_bytes().to_vec())
                .file_name("instance.xml")
                .mime_str("text/xml")
                .expect("mime"),
        );
        for (name, bytes) in files {
            form = form.part(
                (*name).to_owned(),
                Part::bytes(bytes.clone())
                    .file_name((*name).to_owned())
                    .mime_str("image/jpeg")
                    .expect("mime"),
            );
        }
        if incomplete {
            form = form.text("*isIncomplete*", "yes");
        }
        let res = self
            .http
            .post(format!("{}/submission", self.base))
            .query(&[("deviceID", "collect:test")])
            .header("X-OpenRosa-Version", "1.0")
            .header(
                "User-Agent",
                "Dalvik/2.1.0 (Linux; U; Android 13) org.odk.collect.android/v2025.2.3",
            )
            .multipart(form)
            .send()
            .await
            .expect("POST");
        (res.status(), res.text().await.expect("body"))
    }
}

/// The text of the first `<tag>` after `from` in `xml`.
fn between<'a>(xml: &'a str, tag: &str, from: usize) -> Option<(&'a str, usize)> {
    let open = format!("<{tag}>");
    let start = xml[from..].find(&open)? + from + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some((&xml[start..end], end))
}

/// (formID, version, hash, downloadUrl, manifestUrl) of each form in a form list.
fn listed(xml: &str) -> Vec<(String, String, String, String, Option<String>)> {
    xml.split("<xform>")
        .skip(1)
        .map(|x| {
            let get = |t: &str| between(x, t, 0).map(|(v, _)| v.replace("&amp;", "&"));
            (
                get("formID").expect("formID"),
                get("version").expect("version"),
                get("hash").expect("hash"),
                get("downloadUrl").expect("downloadUrl"),
                get("manifestUrl"),
            )
        })
        .collect()
}

/// `md5:` and the hex MD5, as form lists and manifests write it.
fn md5_of(bytes: &[u8]) -> String {
    format!("md5:{}", fieldsync_server::hex::hex(&Md5::digest(bytes)))
}

fn now_text() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("format")
}

/// A housing check as Collect fills the generated form.
fn housing_check(instance: &str, household: Uuid, grade: &str, photos: &[&str]) -> String {
    let now = now_text();
    let photos: String = photos
        .iter()
        .map(|p| format!("<photo>{p}</photo>"))
        .collect();
    format!(
        r#"<?xml version='1.0' encoding='UTF-8' ?><data xmlns:jr="http://openrosa.org/javarosa" xmlns:orx="http://openrosa.org/xforms" id="housing_check" version="x"><household_id>{household}</household_id><gps>{} {} 1110.5 8.0</gps><gps_at>{now}</gps_at><appraisal_grade>{grade}</appraisal_grade><hazards>ageing flood</hazards><repair_status>planned</repair_status><occupied>true</occupied><photos>{photos}</photos><notes/><orx:meta><orx:instanceID>uuid:{instance}</orx:instanceID><orx:timeStart>{now}</orx:timeStart><orx:timeEnd>{now}</orx:timeEnd><orx:deviceID>collect:test</orx:deviceID></orx:meta></data>"#,
        INSIDE.0, INSIDE.1
    )
}

/// A household of VILLAGE_A pushed by a native phone of the same village.
async fn native_household(p: &mut Phone, head: &str) -> Uuid {
    let h = p.dev.new_id();
    let r = p
        .api
        .push(vec![p.dev.create(
            "household",
            h,
            json!({"village_code": VILLAGE_A, "head_name": head, "head_id_card": "11010519491231002X"}),
        )])
        .await
        .expect("push");
    assert_eq!(r.results[0].status, Status::Applied, "{r:?}");
    h
}

#[tokio::test]
async fn collect_lists_downloads_and_reads_its_villages_lists_only() {
    let app = spawn_app().await;
    let mut native = app.phone(Role::FirstSecretary, &[VILLAGE_A]).await;
    let mine = native_household(&mut native, "马").await;
    let mut other = app.phone(Role::FirstSecretary, &[VILLAGE_B]).await;
    let theirs = {
        let h = other.dev.new_id();
        other
            .api
            .push(vec![other.dev.create(
                "household",
                h,
                household(VILLAGE_B, "李"),
            )])
            .await
            .expect("push");
        h
    };
    let (grid_id, _) = app.user(Role::GridWorker, &[VILLAGE_A]).await;
    let c = Collect::new(&app, grid_id).await;

    let res = c.get(&format!("{}/formList", c.base)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["x-openrosa-version"], "1.0");
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/xml")
    );
    let list = listed(&res.text().await.unwrap());
    let ids: Vec<&str> = list.iter().map(|f| f.0.as_str()).collect();
    assert!(
        ids.contains(&"housing_check") && ids.contains(&"household_update"),
        "{ids:?}"
    );

    // Every form downloads as the bytes its hash names, at the absolute URL the list gives.
    for (id, version, hash, download, manifest) in &list {
        assert!(download.starts_with(&app.base), "{download}");
        let res = c.get(download).await;
        assert_eq!(res.status(), StatusCode::OK, "{id}");
        let etag = res.headers()["etag"].to_str().unwrap().to_owned();
        let bytes = res.bytes().await.unwrap();
        assert_eq!(*hash, md5_of(&bytes), "{id}");
        assert_eq!(etag, format!("\"{hash}\""));
        assert!(String::from_utf8_lossy(&bytes).contains(&format!("version=\"{version}\"")));
        // Collect revalidates what it cached.
        let again = c
            .http
            .get(download)
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{id}");
        if let Some(m) = manifest {
            assert_eq!(c.get(m).await.status(), StatusCode::OK, "{id}");
        }
    }

    // The households list is an entity list with an integrity URL, hashed by its content.
    let (status, manifest) = c.text("/forms/household_update/manifest").await;
    assert_eq!(status, StatusCode::OK, "{manifest}");
    assert!(manifest.contains(r#"type="entityList""#), "{manifest}");
    assert!(
        manifest.contains("/datasets/households/integrity"),
        "{manifest}"
    );
    let (hash, _) = between(&manifest, "hash", 0).unwrap();
    let (status, csv) = c.text("/media/households.csv").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(hash, md5_of(csv.as_bytes()));
    assert!(csv.starts_with("name,label,__version,"), "{csv}");
    assert!(csv.contains(&mine.to_string()), "{csv}");
    assert!(
        !csv.contains(&theirs.to_string()),
        "another village's household: {csv}"
    );
    // A grid worker's role sees the head's ID-card number, as on the native app.
    assert!(csv.contains("11010519491231002X"), "{csv}");

    // Integrity: the phone's own village's household is there; another village's is "deleted".
    let (status, integrity) = c
        .text(&format!(
            "/datasets/households/integrity?id={mine},{theirs},not-a-uuid"
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    let mine_at = integrity.find(&mine.to_string()).expect("mine answered");
    assert_eq!(between(&integrity, "deleted", mine_at).unwrap().0, "false");
    let theirs_at = integrity
        .find(&theirs.to_string())
        .expect("theirs answered");
    assert_eq!(between(&integrity, "deleted", theirs_at).unwrap().0, "true");
    // An entity the phone created offline (a v4 id) that has not arrived yet is kept.
    let waiting = Uuid::new_v4();
    let (_, integrity) = c
        .text(&format!("/datasets/households/integrity?id={waiting}"))
        .await;
    assert!(
        integrity.contains("<deleted>false</deleted>"),
        "{integrity}"
    );

    // Nothing else is served.
    assert_eq!(
        c.text("/forms/no_such_form.xml").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(c.text("/media/users.csv").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_bad_or_revoked_key_is_refused_without_a_password_prompt() {
    let app = spawn_app().await;
    let (user_id, _) = app.user(Role::GridWorker, &[VILLAGE_A]).await;
    let c = Collect::new(&app, user_id).await;
    let head = c
        .http
        .head(format!("{}/submission", c.base))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        head.headers()["x-openrosa-accept-content-length"],
        "20971520"
    );

    let wrong = format!("{}/openrosa/key/not-a-key/formList", app.base);
    let res = c.get(&wrong).await;
    // 403, not 401: a 401 would make Collect ask for a password that does not exist.
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.headers().get("www-authenticate").is_none());
    assert!(res.text().await.unwrap().contains("<OpenRosaResponse"));

    app.store
        .set_device_revoked(c.device_id, true, clock::now_ms())
        .await
        .expect("revoke");
    assert_eq!(c.text("/formList").await.0, StatusCode::FORBIDDEN);
    let head = c
        .http
        .head(format!("{}/submission", c.base))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_submission_becomes_the_record_a_native_phone_pulls_once() {
    let app = spawn_app().await;
    let mut native = app.phone(Role::FirstSecretary, &[VILLAGE_A]).await;
    let h = native_household(&mut native, "马").await;
    let (user_id, _) = app.user(Role::FirstSecretary, &[VILLAGE_A]).await;
    let c = Collect::new(&app, user_id).await;

    let photo = small_jpeg(7);
    let instance = Uuid::new_v4();
    let xml = housing_check(&instance.to_string(), h, "D", &["1.jpg"]);
    // Collect sends every file in the instance folder; only the named ones are kept.
    let (status, body) = c
        .submit(
            &xml,
            &[("1.jpg", photo.clone()), ("stray.jpg", small_jpeg(9))],
            false,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(body.contains("submit_success"), "{body}");

    let (changes, _, _) = native.api.pull_all(None, None).await.expect("pull");
    let checks: Vec<_> = changes
        .iter()
        .filter(|c| c.entity == "housing_check")
        .collect();
    assert_eq!(checks.len(), 1, "{changes:?}");
    let check = checks[0];
    let check_id = check.id;
    assert_eq!(check.fields["household_id"], json!(h.to_string()));
    assert_eq!(check.fields["appraisal_grade"], json!("D"));
    assert_eq!(check.fields["hazards"], json!(["ageing", "flood"]));
    assert_eq!(check.fields["photos"], json!([sha(&photo)]));
    assert!(check.gps_verdict.is_some(), "the fix is judged: {check:?}");
    // The team leader's list of phones shows the Collect phone and its version.
    let devices = app.store.devices(None).await.expect("devices");
    let phone = devices
        .iter()
        .find(|d| d.id == c.device_id)
        .expect("the Collect device is listed");
    assert_eq!(phone.app_version.as_deref(), Some("collect v2025.2.3"));
    // The named photo is the native phone's to read (the record links it); the stray is not kept.
    let res = reqwest::Client::new()
        .get(format!("{}/v1/blobs/{}/meta", app.base, sha(&photo)))
        .bearer_auth(native.api.access_token().unwrap_or_default())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        app.store
            .blob(&sha(&small_jpeg(9)))
            .await
            .unwrap()
            .is_none()
    );

    // The same bytes again (Collect lost the answer): 201, nothing new.
    let (status, body) = c.submit(&xml, &[("1.jpg", photo.clone())], false).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (again, _, _) = native.api.pull_all(None, None).await.expect("pull");
    assert_eq!(
        again.iter().filter(|c| c.entity == "housing_check").count(),
        1
    );
    // Other bytes under the same instanceID: refused, as Central refuses them.
    let changed = housing_check(&instance.to_string(), h, "C", &["1.jpg"]);
    let (status, body) = c.submit(&changed, &[("1.jpg", photo)], false).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body.contains("nature=\"error\""), "{body}");

    // An edit in Collect: a new instanceID naming the first as deprecated, without the photo it
    // did not change (ODK's form engine leaves unchanged files out of an edit).
    let edit = housing_check(&Uuid::new_v4().to_string(), h, "C", &["1.jpg"]).replace(
        "<orx:timeStart>",
        &format!("<orx:deprecatedID>uuid:{instance}</orx:deprecatedID><orx:timeStart>"),
    );
    let (status, body) = c.submit(&edit, &[], false).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(!body.contains("1.jpg"), "the photo carried over: {body}");
    let (changes, _, _) = native.api.pull_all(None, None).await.expect("pull");
    let correction = changes
        .iter()
        .find(|c| c.entity == "housing_check" && c.fields["appraisal_grade"] == json!("C"))
        .expect("the correction");
    assert_eq!(correction.fields["supersedes"], json!(check_id.to_string()));
    assert_eq!(correction.fields["photos"], json!([sha(&small_jpeg(7))]));
}

#[tokio::test]
async fn a_split_upload_is_pushed_when_its_last_part_arrives() {
    let app = spawn_app().await;
    let mut native = app.phone(Role::FirstSecretary, &[VILLAGE_A]).await;
    let h = native_household(&mut native, "马").await;
    let (user_id, _) = app.user(Role::FirstSecretary, &[VILLAGE_A]).await;
    let c = Collect::new(&app, user_id).await;
    let (one, two) = (small_jpeg(1), small_jpeg(2));
    let xml = housing_check(&Uuid::new_v4().to_string(), h, "B", &["a.jpg", "b.jpg"]);

    let (status, body) = c.submit(&xml, &[("a.jpg", one.clone())], true).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (changes, _, _) = native.api.pull_all(None, None).await.unwrap();
    assert!(
        !changes.iter().any(|c| c.entity == "housing_check"),
        "nothing is pushed before the last part"
    );
    let (status, body) = c.submit(&xml, &[("b.jpg", two.clone())], false).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (changes, _, _) = native.api.pull_all(None, None).await.unwrap();
    let check = changes
        .iter()
        .find(|c| c.entity == "housing_check")
        .expect("pushed with the last part");
    assert_eq!(check.fields["photos"], json!([sha(&one), sha(&two)]));
}

#[tokio::test]
async fn a_submission_refused_by_the_push_may_come_again_mended() {
    let app = spawn_app().await;
    let mut native = app.phone(Role::FirstSecretary, &[VILLAGE_A]).await;
    let h = native_household(&mut native, "马").await;
    let (user_id, _) = app.user(Role::FirstSecretary, &[VILLAGE_A]).await;
    let c = Collect::new(&app, user_id).await;
    let instance = Uuid::new_v4().to_string();

    // A household the push refuses (not in the cadre's villages): nothing is kept of it, so
    // the submission is not taken as pushed.
    let (status, body) = c
        .submit(
            &housing_check(&instance, Uuid::now_v7(), "D", &[]),
            &[],
            false,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // Mended in Collect and sent again under the same instanceID: accepted, not a conflict.
    let mended = housing_check(&instance, h, "D", &[]);
    let (status, body) = c.submit(&mended, &[], false).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(!body.contains("之前已经收到"), "{body}");
    // Pushed now, with its records: other bytes under it are refused, the same are not new.
    let (status, body) = c
        .submit(&housing_check(&instance, h, "C", &[]), &[], false)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, body) = c.submit(&mended, &[], false).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(body.contains("之前已经收到"), "{body}");
    let (changes, _, _) = native.api.pull_all(None, None).await.expect("pull");
    let grades: Vec<_> = changes
        .iter()
        .filter(|c| c.entity == "housing_check")
        .map(|c| c.fields["appraisal_grade"].clone())
        .collect();
    assert_eq!(grades, vec![json!("D")]);
}

#[tokio::test]
async fn bad_submissions_are_explained_and_keep_nothing() {
    let app = spawn_app().await;
    let mut native = app.phone(Role::FirstSecretary, &[VILLAGE_A]).await;
    let h = native_household(&mut native, "马").await;
    let (user_id, _) = app.user(Role::FirstSecretary, &[VILLAGE_A]).await;
    let c = Collect::new(&app, user_id).await;

    let cases: Vec<(String, StatusCode)> = vec![
        ("not xml at all".into(), StatusCode::BAD_REQUEST),
        (
            r#"<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x "y">]><data id="housing_check">&x;</data>"#.into(),
            StatusCode::BAD_REQUEST,
        ),
        (
            housing_check(&Uuid::new_v4().to_string(), h, "D", &[]).replace("id=\"housing_check\"", "id=\"nope\""),
            StatusCode::NOT_FOUND,
        ),
        // A grade the registry does not have.
        (housing_check(&Uuid::new_v4().to_string(), h, "Z", &[]), StatusCode::BAD_REQUEST),
        // Another village's household: refused by the push's scope rule.
        (housing_check(&Uuid::new_v4().to_string(), Uuid::now_v7(), "D", &[]), StatusCode::BAD_REQUEST),
    ];
    for (xml, expected) in cases {
        let (status, body) = c.submit(&xml, &[], false).await;
        assert_eq!(status, expected, "{xml}\n{body}");
        assert!(
            body.contains("<OpenRosaResponse") && body.contains("nature=\"error\""),
            "{body}"
        );
    }
    // A body that is not multipart.
    let res = c
        .http
        .post(format!("{}/submission", c.base))
        .body("plain")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let (changes, _, _) = native.api.pull_all(None, None).await.unwrap();
    assert!(!changes.iter().any(|c| c.entity == "housing_check"));

    // A township supervisor reads checks but does not record them, and sees ID-card numbers
    // masked: Collect gets them masked too, and a check from it is refused.
    let (viewer, _) = app.user(Role::TownshipSupervisor, &[TOWNSHIP]).await;
    let user = app.store.user_by_id(viewer).await.unwrap().unwrap();
    match collect::issue(&app.store, &user, clock::now_ms()).await {
        Err(e) => assert!(e.to_string().contains("fills no forms"), "{e}"),
        Ok(_) => {
            let v = Collect::new(&app, viewer).await;
            let (status, body) = v
                .submit(
                    &housing_check(&Uuid::new_v4().to_string(), h, "D", &[]),
                    &[],
                    false,
                )
                .await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
            let (_, csv) = v.text("/media/households.csv").await;
            assert!(!csv.contains("11010519491231002X"), "{csv}");
        }
    }
}

/// The meta block of an entity form's instance.
fn entity_meta(instance: Uuid, entity: &str) -> String {
    let now = now_text();
    format!(
        "<meta><instanceID>uuid:{instance}</instanceID><timeStart>{now}</timeStart><timeEnd>{now}</timeEnd>{entity}</meta>"
    )
}

#[tokio::test]
async fn a_household_registered_and_edited_offline_in_collect_merges_like_a_phone_edit() {
    let app = spawn_app().await;
    let mut native = app.phone(Role::FirstSecretary, &[VILLAGE_A]).await;
    let (user_id, _) = app.user(Role::FirstSecretary, &[VILLAGE_A]).await;
    let c = Collect::new(&app, user_id).await;

    // Registered in Collect: a native phone of the village pulls it.
    let new_id = Uuid::new_v4();
    let register = format!(
        r#"<data id="household_register" version="x"><village_code>{VILLAGE_A}</village_code><head_name>杨</head_name><grid>一组</grid><household_size>3</household_size><home>{} {} 1100 5</home>{}</data>"#,
        INSIDE.0,
        INSIDE.1,
        entity_meta(
            Uuid::new_v4(),
            &format!(
                r#"<entity dataset="households" id="{new_id}" create="1"><label>杨</label></entity>"#
            )
        )
    );
    let (status, body) = c.submit(&register, &[], false).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (changes, _, cursor) = native.api.pull_all(None, None).await.unwrap();
    let registered = changes
        .iter()
        .find(|c| c.entity == "household" && c.fields["head_name"] == json!("杨"))
        .expect("the native phone pulls the household");
    let h = registered.id;
    assert_ne!(h, new_id, "kept under the v7 derived from Collect's v4");
    let (_, integrity) = c
        .text(&format!("/datasets/households/integrity?id={new_id}"))
        .await;
    assert!(
        integrity.contains("<deleted>true</deleted>"),
        "the phone's own copy gives way to the listed one: {integrity}"
    );
    assert_eq!(registered.fields["household_size"], json!(3));
    assert_eq!(registered.fields["home_lat"], json!(INSIDE.0));

    // The list Collect reads now holds it at version 1.
    let (_, csv) = c.text("/media/households.csv").await;
    let line = csv
        .lines()
        .find(|l| l.starts_with(&h.to_string()))
        .expect("listed");
    assert!(line.contains(",1,"), "{line}");
    let (_, before) = c.text("/forms/household_update/manifest").await;

    // The native phone changes the grid; Collect, offline on version 1, changes the grid too
    // and the household size.
    let r = native
        .api
        .push(vec![native.dev.update(
            "household",
            h,
            1,
            json!({"grid": "二组"}),
        )])
        .await
        .unwrap();
    assert_eq!(r.results[0].status, Status::Applied, "{r:?}");
    let (_, after) = c.text("/forms/household_update/manifest").await;
    assert_ne!(
        between(&before, "hash", 0).unwrap().0,
        between(&after, "hash", 0).unwrap().0,
        "a native edit changes the entity list's hash"
    );
    let update = format!(
        r#"<data id="household_update" version="x"><household_id>{h}</household_id><head_name>杨</head_name><grid>三组</grid><household_size>5</household_size><orig><head_name>杨</head_name><grid>一组</grid><household_size>3</household_size></orig>{}</data>"#,
        entity_meta(
            Uuid::new_v4(),
            &format!(
                r#"<entity dataset="households" id="{h}" update="1" baseVersion="1" trunkVersion="1" branchId="{}"><label>杨</label></entity>"#,
                Uuid::new_v4()
            )
        )
    );
    let (status, body) = c.submit(&update, &[], false).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(
        body.contains("冲突"),
        "the cadre is told of the conflict: {body}"
    );

    let (changes, _, _) = native.api.pull_all(Some(&cursor), None).await.unwrap();
    let now = latest(&changes);
    let record = now.get(&h).expect("pulled again");
    assert_eq!(
        record.fields["household_size"],
        json!(5),
        "the other field merges"
    );
    assert!(
        record.fields["grid"] == json!("二组") || record.fields["grid"] == json!("三组"),
        "{record:?}"
    );
    let (status, _, conflicts) = get_bytes(&app, &native, "/v1/conflicts").await;
    assert_eq!(status, StatusCode::OK);
    let conflicts = String::from_utf8_lossy(&conflicts);
    assert!(
        conflicts.contains("grid"),
        "the grid conflict is kept for review: {conflicts}"
    );
}

#[tokio::test]
async fn a_doubted_fix_is_accepted_and_the_cadre_is_told_why() {
    let app = spawn_app().await;
    let mut native = app.phone(Role::FirstSecretary, &[VILLAGE_A]).await;
    let h = native_household(&mut native, "马").await;
    let (user_id, _) = app.user(Role::FirstSecretary, &[VILLAGE_A]).await;
    let c = Collect::new(&app, user_id).await;
    // 拉萨, two thousand kilometres from the village.
    let far = housing_check(&Uuid::new_v4().to_string(), h, "B", &[])
        .replace(&format!("{} {} ", INSIDE.0, INSIDE.1), "29.65 91.13 ");
    let (status, body) = c.submit(&far, &[], false).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(
        body.contains("定位存疑") && body.contains("位置不在村内"),
        "{body}"
    );
    let (changes, _, _) = native.api.pull_all(None, None).await.unwrap();
    let check = changes
        .iter()
        .find(|c| c.entity == "housing_check")
        .expect("kept");
    assert_eq!(check.gps_verdict.as_ref().unwrap()["ok"], json!(false));
}
