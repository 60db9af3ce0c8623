//! Who may see a photo (issue 16): only the whole of a photo, hashed, makes a device one of its
//! owners; a record that names a photo opens it to the record's readers only when the photo
//! was uploaded by someone who may write that record; and a photo one may not see is answered
//! exactly as one the server never had. Also: every upload answer reaches a client that writes
//! its whole body before it reads.

use std::time::Duration;

use fieldsync_protocol::Role;
use fieldsync_protocol::blob::{BlobInfo, BlobState};
use fieldsync_protocol::push::Status;
use fieldsync_server::testing::photo::TestPhoto;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

use crate::helpers::*;
// A photo's name, as phones make it.
use fieldsync_client::photo_name as sha;

/// A small JPEG made at run time, unique to `label`, followed by `padding` bytes (cameras
/// append data after the image; the server neither decodes nor keeps it).
fn jpeg(label: &str, padding: usize) -> Vec<u8> {
    let seed = Sha256::digest(label.as_bytes());
    let seed = u64::from_le_bytes(seed[..8].try_into().expect("eight bytes"));
    TestPhoto::default().seed(seed).trailer(padding).jpeg()
}

/// One request with the phone's token: status and body (JSON, or null).
async fn send(
    app: &TestApp,
    p: &Phone,
    method: Method,
    path: &str,
    body: Option<Vec<u8>>,
    range: Option<String>,
) -> (StatusCode, Value) {
    let (status, _, body) = send_full(app, p, method, path, body, range).await;
    (status, body)
}

/// [`send`], with the answer's headers.
async fn send_full(
    app: &TestApp,
    p: &Phone,
    method: Method,
    path: &str,
    body: Option<Vec<u8>>,
    range: Option<String>,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut req = reqwest::Client::new()
        .request(method, format!("{}{path}", app.base))
        .bearer_auth(p.api.access_token().unwrap_or_default());
    if let Some(body) = body {
        req = req.body(body);
    }
    if let Some(range) = range {
        req = req.header("content-range", range);
    }
    let res = req.send().await.expect("request");
    let (status, headers) = (res.status(), res.headers().clone());
    let bytes = res.bytes().await.expect("body");
    (
        status,
        headers,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn upload(app: &TestApp, p: &Phone, bytes: &[u8]) -> (StatusCode, Value) {
    let path = format!("/v1/blobs/{}", sha(bytes));
    send(app, p, Method::PUT, &path, Some(bytes.to_vec()), None).await
}

/// Waits for the workers to finish with a photo the phone may see.
async fn processed(p: &Phone, name: &str) -> BlobInfo {
    for _ in 0..200 {
        let info: BlobInfo = p
            .api
            .get_json(&format!("/v1/blobs/{name}/meta"))
            .await
            .expect("meta");
        if info.state != BlobState::Processing {
            return info;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("photo {name} still processing after 10 s");
}

/// Headers that differ from one request to the next whatever the photo: the time and the
/// request's own id.
const PER_REQUEST: [&str; 2] = ["date", "x-request-id"];

/// One answer as the phone sees it: what was asked, the status, every header but the
/// per-request ones, and the body, with the photo's name written as `<sha>` so that two
/// photos' answers compare.
type Answer = (&'static str, StatusCode, Vec<(String, String)>, String);

/// Everything the phone can ask about a photo by its name, in an order that changes nothing
/// before it is asked (the chunk, last, starts an upload of the phone's own).
async fn answers(app: &TestApp, p: &Phone, name: &str) -> Vec<Answer> {
    let path = format!("/v1/blobs/{name}");
    let mut out = Vec::new();
    for (what, method, path, body, range) in [
        ("HEAD", Method::HEAD, path.clone(), None, None),
        ("GET", Method::GET, path.clone(), None, None),
        ("GET meta", Method::GET, format!("{path}/meta"), None, None),
        (
            "GET thumb",
            Method::GET,
            format!("{path}/thumb"),
            None,
            None,
        ),
        (
            "PUT empty",
            Method::PUT,
            path.clone(),
            Some(Vec::new()),
            None,
        ),
        (
            "PUT other bytes",
            Method::PUT,
            path.clone(),
            Some(b"not the photo".to_vec()),
            None,
        ),
        (
            "PUT chunk",
            Method::PUT,
            path.clone(),
            Some(vec![7; 10]),
            Some("bytes 0-9/100".to_owned()),
        ),
        ("HEAD after", Method::HEAD, path.clone(), None, None),
        (
            "GET meta after",
            Method::GET,
            format!("{path}/meta"),
            None,
            None,
        ),
    ] {
        let (status, headers, body) = send_full(app, p, method, &path, body, range).await;
        let mut headers: Vec<(String, String)> = headers
            .iter()
            .filter(|(k, _)| !PER_REQUEST.contains(&k.as_str()))
            .map(|(k, v)| {
                let v = v.to_str().unwrap_or("<not text>").replace(name, "<sha>");
                (k.as_str().to_owned(), v)
            })
            .collect();
        headers.sort();
        out.push((
            what,
            status,
            headers,
            body.to_string().replace(name, "<sha>"),
        ));
    }
    out
}

/// Records a household of `village` with a housing check naming `photos`; returns the
/// household.
async fn record_check(p: &mut Phone, village: &str, photos: &[&str]) -> Uuid {
    let (h, check) = (p.dev.new_id(), p.dev.new_id());
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let r = p
        .api
        .push(vec![
            p.dev.create("household", h, household(village, "马")),
            p.dev.create(
                "housing_check",
                check,
                json!({"household_id": h.to_string(), "captured_at": now,
                       "appraisal_grade": "C", "photos": photos}),
            ),
        ])
        .await
        .expect("push");
    assert!(
        r.results.iter().all(|r| r.status == Status::Applied),
        "{r:?}"
    );
    h
}

async fn status_of(app: &TestApp, p: &Phone, path: &str) -> StatusCode {
    get_bytes(app, p, path).await.0
}

/// The first hole, exactly: a grid worker of village A sends an empty `PUT` for the
/// hash of a photo only village B's records name. It was `201 ready`, and the photo was A's.
#[tokio::test]
async fn an_empty_put_does_not_open_another_villages_photo() {
    let app = spawn_app().await;
    let mut b = app.phone(Role::GridWorker, &[VILLAGE_B]).await;
    let b_reader = app.phone(Role::FirstSecretary, &[VILLAGE_B]).await;
    let a = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let bytes = jpeg("a house in village B", 0);
    let name = sha(&bytes);
    assert_eq!(upload(&app, &b, &bytes).await.0, StatusCode::CREATED);
    processed(&b, &name).await;
    record_check(&mut b, VILLAGE_B, &[&name]).await;
    let photo = format!("/v1/blobs/{name}");
    assert_eq!(status_of(&app, &a, &photo).await, StatusCode::NOT_FOUND);

    let (status, body) = send(&app, &a, Method::PUT, &photo, Some(Vec::new()), None).await;
    assert_ne!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("hash_mismatch")),
        "what a photo the server never had gets"
    );
    assert_eq!(status_of(&app, &a, &photo).await, StatusCode::NOT_FOUND);
    assert_eq!(
        answers(&app, &a, &name).await,
        answers(&app, &a, &sha(b"a photo no one ever sent")).await,
        "a photo one may not see is answered as one the server never had"
    );

    let (status, _, got) = get_bytes(&app, &b_reader, &photo).await;
    assert_eq!(status, StatusCode::OK, "village B still sees its photo");
    assert!(image::load_from_memory(&got).is_ok());
}

/// A server died after the last chunk was staged: the phone that staged it finishes it with a
/// bodyless `PUT`; another phone's bodyless `PUT` of the same hash gets nothing, before and
/// after the photo exists.
#[tokio::test]
async fn only_the_phone_that_staged_an_upload_finishes_it_without_a_body() {
    only_the_staging_phone_finishes(&spawn_app().await).await;
}

/// The same, with the parts staged in S3 (when `FIELDSYNC_TEST_S3_ENDPOINT` names a server).
#[tokio::test]
async fn only_the_phone_that_staged_an_upload_finishes_it_on_s3() {
    let Some(app) = spawn_app_on_s3().await else {
        return;
    };
    only_the_staging_phone_finishes(&app).await;
}

async fn only_the_staging_phone_finishes(app: &TestApp) {
    let p = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let q = app.phone(Role::TeamMember, &[VILLAGE_A]).await;
    let bytes = jpeg("staged by p", 40_000);
    let name = sha(&bytes);
    // What the dead server left, staged under p's device.
    stage_finished_upload(app, p.dev.id, &name, &bytes, 20_000).await;
    let photo = format!("/v1/blobs/{name}");

    let (status, body) = send(app, &q, Method::PUT, &photo, Some(Vec::new()), None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = send(app, &p, Method::PUT, &photo, Some(Vec::new()), None).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(processed(&p, &name).await.state, BlobState::Ready);

    let (status, body) = send(app, &q, Method::PUT, &photo, Some(Vec::new()), None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(status_of(app, &q, &photo).await, StatusCode::NOT_FOUND);
    assert_eq!(
        answers(app, &q, &name).await,
        answers(app, &q, &sha(b"never staged, never sent")).await
    );
    assert_eq!(status_of(app, &p, &photo).await, StatusCode::OK);
}

/// The second hole: a first secretary of village A names a photo of village B in a
/// check of A. The check is applied (it is theirs to record), but the photo, its `/meta` (GPS,
/// time) and what the household's checks say of it stay closed to A.
#[tokio::test]
async fn naming_another_villages_photo_in_a_record_opens_nothing() {
    let app = spawn_app().await;
    let mut b = app.phone(Role::GridWorker, &[VILLAGE_B]).await;
    let b_reader = app.phone(Role::FirstSecretary, &[VILLAGE_B]).await;
    let mut a = app.phone(Role::FirstSecretary, &[VILLAGE_A]).await;
    let bytes = jpeg("village B's well", 0);
    let name = sha(&bytes);
    assert_eq!(upload(&app, &b, &bytes).await.0, StatusCode::CREATED);
    processed(&b, &name).await;
    record_check(&mut b, VILLAGE_B, &[&name]).await;

    let h = record_check(&mut a, VILLAGE_A, &[&name]).await;
    for path in [
        format!("/v1/blobs/{name}"),
        format!("/v1/blobs/{name}/meta"),
        format!("/v1/blobs/{name}/thumb"),
    ] {
        assert_eq!(
            status_of(&app, &a, &path).await,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let view: Value = a
        .api
        .get_json(&format!("/v1/households/{h}/checks"))
        .await
        .expect("checks");
    let shown = &view["history"][0]["photos"][0];
    assert_eq!(
        (shown["sha256"].clone(), shown["state"].clone()),
        (json!(name), json!("missing")),
        "{shown}"
    );
    assert!(shown.get("taken_at").is_none() && shown.get("gps_verdict").is_none());
    assert_eq!(
        answers(&app, &a, &name).await,
        answers(&app, &a, &sha(b"named by no one")).await
    );

    assert_eq!(
        status_of(&app, &b_reader, &format!("/v1/blobs/{name}/meta")).await,
        StatusCode::OK,
        "village B still sees its photo"
    );
}

/// The offline order: the check reaches the server before its photo. When the phone that
/// recorded it uploads the photo, the village's team reads it; and the link stays when the
/// cadre is later moved to another village.
#[tokio::test]
async fn a_photo_named_before_it_arrives_opens_when_its_phone_sends_it() {
    let app = spawn_app().await;
    let mut p = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let team = app.phone(Role::TeamMember, &[VILLAGE_A]).await;
    let bytes = jpeg("taken offline", 0);
    let name = sha(&bytes);
    let h = record_check(&mut p, VILLAGE_A, &[&name]).await;
    let meta = format!("/v1/blobs/{name}/meta");
    assert_eq!(status_of(&app, &team, &meta).await, StatusCode::NOT_FOUND);

    assert_eq!(upload(&app, &p, &bytes).await.0, StatusCode::CREATED);
    assert_eq!(processed(&team, &name).await.state, BlobState::Ready);
    assert_eq!(
        status_of(&app, &team, &format!("/v1/blobs/{name}")).await,
        StatusCode::OK
    );
    let view: Value = team
        .api
        .get_json(&format!("/v1/households/{h}/checks"))
        .await
        .expect("checks");
    assert_eq!(view["history"][0]["photos"][0]["state"], "ready", "{view}");

    let today = fieldsync_server::clock::today();
    app.store
        .set_assignments(
            p.user_id,
            &[VILLAGE_B.to_owned()],
            &fieldsync_server::clock::iso(today),
            &fieldsync_server::clock::iso(fieldsync_server::clock::yesterday_of(today)),
        )
        .await
        .unwrap();
    assert_eq!(
        status_of(&app, &team, &meta).await,
        StatusCode::OK,
        "decided when linked"
    );
}

/// A record and its photos arriving at the same moment (a grid worker's check, a team
/// member's uploads) are linked whichever commits first: each looks for the other under the
/// photo's lock.
#[tokio::test]
async fn a_record_and_its_photo_arriving_together_are_linked() {
    let app = spawn_app().await;
    let mut p = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let member = app.phone(Role::TeamMember, &[VILLAGE_A]).await;
    let team = app.phone(Role::TeamMember, &[VILLAGE_A]).await;
    for round in 0..8 {
        let photos: Vec<Vec<u8>> = (0..3)
            .map(|i| jpeg(&format!("together {round} {i}"), 0))
            .collect();
        let names: Vec<String> = photos.iter().map(|b| sha(b)).collect();
        let named: Vec<&str> = names.iter().map(String::as_str).collect();
        let uploads = async {
            let mut sent = Vec::new();
            for bytes in &photos {
                sent.push(upload(&app, &member, bytes).await);
            }
            sent
        };
        let (_, sent) = tokio::join!(record_check(&mut p, VILLAGE_A, &named), uploads);
        assert!(
            sent.iter().all(|(s, _)| *s == StatusCode::CREATED),
            "{sent:?}"
        );
        for name in &names {
            assert_eq!(
                status_of(&app, &team, &format!("/v1/blobs/{name}/meta")).await,
                StatusCode::OK,
                "round {round}"
            );
        }
    }
}

/// A reference links to an upload by someone else only when that someone may write the
/// record, in either order.
#[tokio::test]
async fn a_reference_links_to_uploads_of_those_who_may_write_the_record() {
    let app = spawn_app().await;
    let mut secretary = app.phone(Role::FirstSecretary, &[VILLAGE_A]).await;
    let member = app.phone(Role::TeamMember, &[VILLAGE_A]).await;
    let reader = app.phone(Role::TeamMember, &[VILLAGE_A]).await;
    let outsider = app.phone(Role::GridWorker, &[VILLAGE_B]).await;
    let supervisor = app.phone(Role::TownshipSupervisor, &[TOWNSHIP]).await;
    let [first, later, foreign, unwritable] = [
        "member first",
        "member later",
        "outsider later",
        "supervisor first",
    ]
    .map(|l| jpeg(l, 0));
    let meta = |bytes: &[u8]| format!("/v1/blobs/{}/meta", sha(bytes));

    // Uploaded by a team member of the village, then named by its first secretary.
    assert_eq!(upload(&app, &member, &first).await.0, StatusCode::CREATED);
    // Uploaded by a supervisor, who reads checks but does not record them.
    assert_eq!(
        upload(&app, &supervisor, &unwritable).await.0,
        StatusCode::CREATED
    );
    let named = [&first, &later, &foreign, &unwritable].map(|b| sha(b));
    let named: Vec<&str> = named.iter().map(String::as_str).collect();
    record_check(&mut secretary, VILLAGE_A, &named).await;
    // Named first, uploaded afterwards.
    assert_eq!(upload(&app, &member, &later).await.0, StatusCode::CREATED);
    assert_eq!(
        upload(&app, &outsider, &foreign).await.0,
        StatusCode::CREATED
    );

    for bytes in [&first, &later] {
        assert_eq!(status_of(&app, &reader, &meta(bytes)).await, StatusCode::OK);
    }
    for bytes in [&foreign, &unwritable] {
        assert_eq!(
            status_of(&app, &reader, &meta(bytes)).await,
            StatusCode::NOT_FOUND
        );
    }
    assert_eq!(
        status_of(&app, &outsider, &meta(&foreign)).await,
        StatusCode::OK,
        "an uploader sees its own photo"
    );
}

/// References made before the link rule are decided once, at start, by the same rule: a
/// photo uploaded by the record's writer or by someone who may write it stays open to the
/// record's readers, another village's photo closes.
#[tokio::test]
async fn references_made_before_the_rule_are_decided_by_it_at_start() {
    let app = spawn_app().await;
    let mut secretary = app.phone(Role::FirstSecretary, &[VILLAGE_A]).await;
    let member = app.phone(Role::TeamMember, &[VILLAGE_A]).await;
    let reader = app.phone(Role::TeamMember, &[VILLAGE_A]).await;
    let outsider = app.phone(Role::GridWorker, &[VILLAGE_B]).await;
    let [own, colleague, foreign] = ["secretary's", "member's", "outsider's"].map(|l| jpeg(l, 0));
    for (p, bytes) in [
        (&secretary, &own),
        (&member, &colleague),
        (&outsider, &foreign),
    ] {
        assert_eq!(upload(&app, p, bytes).await.0, StatusCode::CREATED);
    }
    let named = [&own, &colleague, &foreign].map(|b| sha(b));
    let named: Vec<&str> = named.iter().map(String::as_str).collect();
    record_check(&mut secretary, VILLAGE_A, &named).await;

    // As a database from before migration 0012 has them: undecided, then the server starts.
    execute_sql(&app, "UPDATE blob_refs SET linked = NULL").await;
    let meta = |bytes: &[u8]| format!("/v1/blobs/{}/meta", sha(bytes));
    assert_eq!(
        status_of(&app, &reader, &meta(&own)).await,
        StatusCode::NOT_FOUND,
        "undecided opens nothing"
    );
    app.store.migrate().await.expect("migrate");

    for bytes in [&own, &colleague] {
        assert_eq!(status_of(&app, &reader, &meta(bytes)).await, StatusCode::OK);
    }
    assert_eq!(
        status_of(&app, &reader, &meta(&foreign)).await,
        StatusCode::NOT_FOUND
    );
}

/// Someone else who has the same photo proves it by sending it whole: then it is theirs too.
/// Other bytes under its name prove nothing.
#[tokio::test]
async fn a_whole_reupload_by_someone_else_makes_them_an_owner() {
    let app = spawn_app().await;
    let p = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let q = app.phone(Role::GridWorker, &[VILLAGE_B]).await;
    let bytes = jpeg("a photo two phones have", 0);
    let name = sha(&bytes);
    let photo = format!("/v1/blobs/{name}");
    assert_eq!(upload(&app, &p, &bytes).await.0, StatusCode::CREATED);
    processed(&p, &name).await;

    let (status, body) = send(&app, &q, Method::PUT, &photo, Some(jpeg("other", 0)), None).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("hash_mismatch")),
        "{body}"
    );
    assert_eq!(status_of(&app, &q, &photo).await, StatusCode::NOT_FOUND);

    let (status, body) = upload(&app, &q, &bytes).await;
    assert_eq!(
        (status, body["state"].clone(), body["received"].clone()),
        (StatusCode::CREATED, json!("ready"), json!(bytes.len())),
        "{body}"
    );
    let (status, _, got) = get_bytes(&app, &q, &photo).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, get_bytes(&app, &p, &photo).await.2);
    // Now that q may see it, a bodyless PUT (a lost answer) is answered at once.
    let (status, body) = send(&app, &q, Method::PUT, &photo, Some(Vec::new()), None).await;
    assert_eq!(
        (status, body["state"].clone()),
        (StatusCode::CREATED, json!("ready"))
    );
}

/// Bodies this large do not fit the sockets' buffers: a server that answers without reading
/// them closes the connection under the client's write.
const LARGE: usize = 12 * 1024 * 1024;

/// A phone handed to another cadre (issue 16, item 3) does not hand over its previous user's
/// photos that no record links: they were that user's uploads, not the phone's. A re-upload of
/// the whole photo by the new holder makes it theirs, as it would for anyone.
#[tokio::test]
async fn a_handed_over_phone_does_not_show_its_previous_users_photos() {
    let app = spawn_app().await;
    let before = app.phone(Role::GridWorker, &[VILLAGE_B]).await;
    let bytes = jpeg("a photo of the previous holder, named by no record", 0);
    let name = sha(&bytes);
    assert_eq!(upload(&app, &before, &bytes).await.0, StatusCode::CREATED);
    processed(&before, &name).await;
    let photo = format!("/v1/blobs/{name}");
    assert_eq!(status_of(&app, &before, &photo).await, StatusCode::OK);

    let (next_id, next_name) = app.user(Role::GridWorker, &[VILLAGE_A]).await;
    app.store
        .hand_over_device(before.dev.id, next_id, fieldsync_server::clock::now_ms())
        .await
        .unwrap()
        .expect("the device exists");
    let mut api = fieldsync_client::Api::new(&app.base, before.dev.id);
    api.login(&next_name, PASSWORD)
        .await
        .expect("the new holder logs in");
    let after = Phone {
        api,
        dev: before.dev.clone(),
        user_id: next_id,
    };
    assert_eq!(
        answers(&app, &after, &name).await,
        answers(&app, &after, &sha(b"a photo no one ever sent")).await,
        "the previous holder's photo is one the new holder never had"
    );

    assert_eq!(upload(&app, &after, &bytes).await.0, StatusCode::CREATED);
    assert_eq!(status_of(&app, &after, &photo).await, StatusCode::OK);
}

/// An HTTP answer: status and JSON body.
fn parse_answer(raw: &[u8]) -> (u16, Value) {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no complete head in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..end]);
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head}"));
    let length = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(raw.len() - end - 4);
    let body = &raw[end + 4..];
    assert_eq!(body.len(), length, "the whole answer arrived: {head}");
    (status, serde_json::from_slice(body).unwrap_or(Value::Null))
}

/// A request as Python's urllib sends it: the head (`method path`, then `headers`) and the
/// whole body written before a byte of the answer is read.
async fn write_then_read(
    app: &TestApp,
    request: &str,
    headers: &[String],
    body: &[u8],
) -> (u16, Value) {
    let addr = app.base.trim_start_matches("http://");
    let mut socket = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut head = format!(
        "{request} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for h in headers {
        head.push_str(&format!("{h}\r\n"));
    }
    head.push_str("\r\n");
    socket.write_all(head.as_bytes()).await.expect("head");
    if let Err(e) = socket.write_all(body).await {
        panic!("the server closed the connection before reading the body: {e}");
    }
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(60), socket.read_to_end(&mut raw))
        .await
        .expect("an answer within a minute")
        .expect("the answer is readable");
    parse_answer(&raw)
}

/// An upload as Python's urllib sends it (see [`write_then_read`]).
async fn put_then_read(
    app: &TestApp,
    token: Option<&str>,
    name: &str,
    range: Option<String>,
    body: &[u8],
) -> (u16, Value) {
    let mut headers = Vec::new();
    if let Some(token) = token {
        headers.push(format!("Authorization: Bearer {token}"));
    }
    if let Some(range) = range {
        headers.push(format!("Content-Range: {range}"));
    }
    write_then_read(app, &format!("PUT /v1/blobs/{name}"), &headers, body).await
}

#[tokio::test]
async fn every_upload_answer_reaches_a_client_that_sends_its_whole_body_first() {
    let app = spawn_app().await;
    let p = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let token = p.api.access_token().unwrap_or_default().to_owned();
    let bytes = jpeg("a large photo", LARGE);
    let name = sha(&bytes);
    assert_eq!(upload(&app, &p, &bytes).await.0, StatusCode::CREATED);

    // The phone's answer was lost; it sends the photo again, whole.
    let (status, body) = put_then_read(&app, Some(&token), &name, None, &bytes).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["received"], json!(bytes.len()));

    // A chunk that starts where the server is not.
    let other = sha(b"another photo");
    let range = format!("bytes 1000-{}/{}", 1000 + LARGE - 1, 1000 + LARGE);
    let (status, body) =
        put_then_read(&app, Some(&token), &other, Some(range), &bytes[..LARGE]).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (409, json!("upload_offset"))
    );

    // Bytes under another photo's name, and under the name of a photo the server has.
    let (status, body) = put_then_read(&app, Some(&token), &other, None, &bytes).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (422, json!("hash_mismatch"))
    );
    let (status, body) = put_then_read(&app, Some(&token), &name, None, &bytes[1..]).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (422, json!("hash_mismatch"))
    );

    // No token (an expired one alike): the phone must read the 401 to log in again.
    let (status, body) = put_then_read(&app, None, &name, None, &bytes).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (401, json!("unauthorized"))
    );
}

/// Answers given before any handler reads the body reach such a client too: an app too old
/// to upload is told to update, a push with a stale token to log in again.
#[tokio::test]
async fn answers_given_before_a_handler_runs_reach_a_client_that_sends_its_whole_body_first() {
    // The reference client is 0.1.0: it may log in; a phone with 0.0.9 may not upload.
    let app = spawn_app_with(|s| s.clients.min_version = Some("0.1.0".into())).await;
    let p = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let token = p.api.access_token().unwrap_or_default().to_owned();
    let bytes = jpeg("taken with an old app", LARGE);
    let old = [
        format!("Authorization: Bearer {token}"),
        format!("{}: 0.0.9", fieldsync_protocol::client::APP_VERSION_HEADER),
    ];
    let (status, body) = write_then_read(
        &app,
        &format!("PUT /v1/blobs/{}", sha(&bytes)),
        &old,
        &bytes,
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (426, json!("upgrade_required"))
    );

    let push = vec![b' '; 4 * 1024 * 1024];
    let stale = ["Authorization: Bearer not-a-token".to_owned()];
    let (status, body) = write_then_read(&app, "POST /v1/sync/push", &stale, &push).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (401, json!("unauthorized"))
    );
}

/// A client that asks `Expect: 100-continue` is answered without being asked for a body it
/// would be sent only to be dropped; told to go on, it uploads.
#[tokio::test]
async fn a_client_that_waits_for_100_continue_sends_its_body_only_when_needed() {
    let app = spawn_app().await;
    let p = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let token = p.api.access_token().unwrap_or_default().to_owned();
    let bytes = jpeg("sent after 100 Continue", 100_000);
    let addr = app.base.trim_start_matches("http://");
    let head = |range: &str| {
        format!(
            "PUT /v1/blobs/{} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
             Content-Length: {}\r\nContent-Range: {range}\r\nExpect: 100-continue\r\n\
             Connection: close\r\n\r\n",
            sha(&bytes),
            bytes.len(),
        )
    };
    let total = bytes.len();

    let mut socket = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let wrong = format!("bytes 10-{}/{}", total + 9, total + 10);
    socket
        .write_all(head(&wrong).as_bytes())
        .await
        .expect("head");
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), socket.read_to_end(&mut raw))
        .await
        .expect("an answer without the body")
        .expect("read");
    let (status, body) = parse_answer(&raw);
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (409, json!("upload_offset"))
    );

    let mut socket = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let whole = format!("bytes 0-{}/{total}", total - 1);
    socket
        .write_all(head(&whole).as_bytes())
        .await
        .expect("head");
    let mut interim = [0u8; 25];
    socket.read_exact(&mut interim).await.expect("100 Continue");
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    socket.write_all(&bytes).await.expect("body");
    let mut raw = Vec::new();
    socket.read_to_end(&mut raw).await.expect("answer");
    let (status, body) = parse_answer(&raw);
    assert_eq!(
        (status, body["state"].clone()),
        (201, json!("processing")),
        "{body}"
    );
}
