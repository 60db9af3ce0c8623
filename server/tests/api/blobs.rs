//! Photos: uploads whole and in chunks (interrupted and resumed), the hash check, processing
//! (GPS read, EXIF gone, thumbnail upright, damaged EXIF dropped but the photo kept), hostile
//! files, who may see a photo, ranges and caching, quotas, and collection of photos no record
//! names. Photos are built by `testing::photo`; one test runs the real-phone corpus when
//! `FIELDSYNC_TEST_PHOTOS` names it.
//!
//! Every test runs on the local-disk store; the ones marked so run on S3 as well when
//! `FIELDSYNC_TEST_S3_ENDPOINT` names an S3-protocol server (CI starts one).

use std::time::Duration;

use fieldsync_protocol::Role;
use fieldsync_protocol::blob::{BlobInfo, BlobState, PhotoMetadata};
use fieldsync_protocol::push::Status;
use fieldsync_server::testing::photo::{ExifDamage, TestPhoto, corpus, corpus_file, damaged_exif};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;
// A photo's name, as phones make it.
use fieldsync_client::photo_name as sha;

/// A photo of `bytes` bytes or a little more (the image, then a trailer the server ignores),
/// different for every seed.
fn photo_of_size(seed: u64, bytes: usize) -> Vec<u8> {
    TestPhoto::default().seed(seed).trailer(bytes).jpeg()
}

struct Sent {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

async fn put(app: &TestApp, p: &Phone, name: &str, body: Vec<u8>, range: Option<String>) -> Sent {
    let mut req = reqwest::Client::new()
        .put(format!("{}/v1/blobs/{name}", app.base))
        .bearer_auth(p.api.access_token().unwrap_or_default())
        .body(body);
    if let Some(r) = range {
        req = req.header("content-range", r);
    }
    let res = req.send().await.expect("request");
    let (status, headers) = (res.status(), res.headers().clone());
    let body = res.json().await.unwrap_or(Value::Null);
    Sent {
        status,
        headers,
        body,
    }
}

async fn head(app: &TestApp, p: &Phone, name: &str) -> (StatusCode, Option<u64>) {
    let res = reqwest::Client::new()
        .head(format!("{}/v1/blobs/{name}", app.base))
        .bearer_auth(p.api.access_token().unwrap_or_default())
        .send()
        .await
        .expect("request");
    let offset = res
        .headers()
        .get("upload-offset")
        .and_then(|v| v.to_str().ok()?.parse().ok());
    (res.status(), offset)
}

/// Waits for the workers to finish with a photo and returns what the server says of it.
async fn processed(app: &TestApp, p: &Phone, name: &str) -> BlobInfo {
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
    let _ = app;
    panic!("photo {name} still processing after 10 s");
}

fn exif_of(bytes: &[u8]) -> Option<exif::Exif> {
    exif::Reader::new()
        .read_from_container(&mut std::io::Cursor::new(bytes))
        .ok()
}

#[tokio::test]
async fn photos_lose_their_exif_and_keep_what_it_said() {
    let app = spawn_app().await;
    let p = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let bytes = TestPhoto::new(640, 480)
        .textured()
        .gps(38.4680, 106.2719)
        .altitude(1111.0)
        .taken_at("2026:05:14 09:30:05", Some("+08:00"))
        .camera("Xiaomi", "Redmi Note 12")
        .other_metadata()
        .jpeg();
    let name = sha(&bytes);
    let sent = put(&app, &p, &name, bytes.clone(), None).await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.body);
    assert_eq!(sent.body["state"], "processing");

    let info = processed(&app, &p, &name).await;
    assert_eq!(info.state, BlobState::Ready, "{info:?}");
    let gps = info.gps.expect("GPS from the EXIF");
    assert!(
        (gps.lat - 38.4680).abs() < 1e-6 && (gps.lon - 106.2719).abs() < 1e-6,
        "{gps:?}"
    );
    assert_eq!(info.taken_at.as_deref(), Some("2026-05-14T09:30:05+08:00"));
    assert_eq!(info.metadata, Some(PhotoMetadata::Read));
    assert_eq!((info.width, info.height), (Some(640), Some(480)));
    assert_stored_without_exif(&app, &p, &name, &bytes, (640, 480)).await;

    let (status, headers, thumb) = get_bytes(&app, &p, &format!("/v1/blobs/{name}/thumb")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "image/jpeg");
    let t = image::load_from_memory(&thumb).expect("thumbnail decodes");
    assert_eq!((t.width(), t.height()), (320, 240));
}

/// The stored original: smaller than the upload, no location, time or camera left, and the
/// same pixels.
async fn assert_stored_without_exif(
    app: &TestApp,
    p: &Phone,
    name: &str,
    uploaded: &[u8],
    size: (u32, u32),
) {
    let (status, headers, stored) = get_bytes(app, p, &format!("/v1/blobs/{name}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "image/jpeg");
    assert!(stored.len() < uploaded.len() && stored.len() > uploaded.len() / 2);
    let left = exif_of(&stored);
    let tags: Vec<_> = left
        .iter()
        .flat_map(|e| e.fields().map(|f| f.tag))
        .collect();
    assert!(
        !tags.iter().any(|t| [
            exif::Tag::GPSLatitude,
            exif::Tag::GPSLongitude,
            exif::Tag::DateTimeOriginal,
            exif::Tag::Make,
            exif::Tag::Model
        ]
        .contains(t)),
        "EXIF left in the stored original: {tags:?}"
    );
    let decoded = image::load_from_memory(&stored).expect("the stored original still decodes");
    assert_eq!((decoded.width(), decoded.height()), size);
}

#[tokio::test]
async fn thumbnails_stand_upright_and_photos_without_gps_have_none() {
    let app = spawn_app().await;
    let p = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let portrait = TestPhoto::new(600, 450).orientation(6).jpeg();
    let no_gps = TestPhoto::default().seed(1).camera("Jolla", "Jolla").jpeg();
    let located = TestPhoto::default().seed(2).gps(51.025, 7.591944).jpeg();
    for bytes in [&portrait, &no_gps, &located] {
        let sent = put(&app, &p, &sha(bytes), bytes.clone(), None).await;
        assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.body);
    }
    assert_upright(&app, &p, &portrait).await;
    let info = processed(&app, &p, &sha(&no_gps)).await;
    assert_eq!((info.gps, info.metadata), (None, Some(PhotoMetadata::Read)));
    let g = processed(&app, &p, &sha(&located)).await.gps.expect("GPS");
    assert!(
        (g.lat - 51.025).abs() < 1e-5 && (g.lon - 7.591944).abs() < 1e-5,
        "{g:?}"
    );
}

/// A 600 × 450 photo with orientation 6: shown 450 × 600, thumbnail upright, and the stored
/// original keeps only its orientation, so viewers still turn it.
async fn assert_upright(app: &TestApp, p: &Phone, portrait: &[u8]) {
    let info = processed(app, p, &sha(portrait)).await;
    assert_eq!(
        (info.width, info.height),
        (Some(450), Some(600)),
        "orientation 6 turns 600×450"
    );
    let (_, _, thumb) = get_bytes(app, p, &format!("/v1/blobs/{}/thumb", sha(portrait))).await;
    let t = image::load_from_memory(&thumb).expect("thumbnail");
    assert_eq!((t.width(), t.height()), (240, 320));
    let (_, _, stored) = get_bytes(app, p, &format!("/v1/blobs/{}", sha(portrait))).await;
    let left = exif_of(&stored).expect("an orientation-only EXIF");
    let tags: Vec<_> = left.fields().map(|f| f.tag).collect();
    assert_eq!(tags, [exif::Tag::Orientation]);
}

/// A photo whose EXIF is damaged (as some phones and messaging apps write it) is stored, its
/// EXIF dropped whole, and `/meta` says the metadata was unreadable.
#[tokio::test]
async fn a_photo_with_damaged_exif_is_kept_and_meta_says_so() {
    let app = spawn_app().await;
    let p = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    // A directory announcing more entries than the block holds; a block spilling out of its
    // segment (refused as `corrupt` at upload before).
    let located = TestPhoto::new(600, 450)
        .orientation(6)
        .gps(38.4680, 106.2719);
    let damaged = [
        located
            .clone()
            .raw_exif(damaged_exif(ExifDamage::CountPastEnd))
            .jpeg(),
        located.exif_spilling_out(40).jpeg(),
    ];
    let bare = TestPhoto::default().jpeg();
    for bytes in damaged.iter().chain([&bare]) {
        let sent = put(&app, &p, &sha(bytes), bytes.clone(), None).await;
        assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.body);
    }
    for bytes in &damaged {
        let info = processed(&app, &p, &sha(bytes)).await;
        assert_eq!(
            (
                info.state,
                info.metadata,
                info.gps,
                info.taken_at.as_deref()
            ),
            (
                BlobState::Ready,
                Some(PhotoMetadata::Unreadable),
                None,
                None
            ),
            "{info:?}"
        );
        assert_eq!(
            (info.width, info.height),
            (Some(600), Some(450)),
            "orientation 1: the orientation before the damage is not believed"
        );
        let meta: Value = p
            .api
            .get_json(&format!("/v1/blobs/{}/meta", sha(bytes)))
            .await
            .expect("meta");
        assert_eq!(meta["metadata"], "unreadable", "{meta}");
        let (status, _, stored) = get_bytes(&app, &p, &format!("/v1/blobs/{}", sha(bytes))).await;
        assert_eq!(status, StatusCode::OK);
        assert!(exif_of(&stored).is_none(), "no EXIF kept");
        let decoded = image::load_from_memory(&stored).expect("the stored photo decodes");
        assert_eq!((decoded.width(), decoded.height()), (600, 450));
    }

    let info = processed(&app, &p, &sha(&bare)).await;
    assert_eq!(info.metadata, Some(PhotoMetadata::None));
}

/// The real phone photos of the corpus (`FIELDSYNC_TEST_PHOTOS`): what their EXIF says comes
/// through HTTP, none of it stays in the stored file, and the iPhone's HEIC is refused by name.
#[tokio::test]
async fn corpus_real_phone_photos_keep_what_their_exif_said() {
    let Some(dir) = corpus("corpus_real_phone_photos_keep_what_their_exif_said") else {
        return;
    };
    let app = spawn_app().await;
    let p = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let iphone = corpus_file(&dir, "iphone_hdr_NO.jpg");
    let portrait = corpus_file(&dir, "portrait_6.jpg");
    let jolla = corpus_file(&dir, "jolla.jpg");
    let galaxy = corpus_file(&dir, "67-0_length_string.jpg");
    for bytes in [&iphone, &portrait, &jolla, &galaxy] {
        let sent = put(&app, &p, &sha(bytes), bytes.clone(), None).await;
        assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.body);
    }

    let info = processed(&app, &p, &sha(&iphone)).await;
    assert_eq!(info.state, BlobState::Ready, "{info:?}");
    let gps = info.gps.expect("GPS from the EXIF");
    assert!(
        (gps.lat - 40.446972).abs() < 1e-5 && (gps.lon + 3.724753).abs() < 1e-5,
        "{gps:?}"
    );
    assert_eq!((info.width, info.height), (Some(3264), Some(2448)));
    assert_stored_without_exif(&app, &p, &sha(&iphone), &iphone, (3264, 2448)).await;

    assert_upright(&app, &p, &portrait).await;
    assert_eq!(processed(&app, &p, &sha(&jolla)).await.gps, None);
    let g = processed(&app, &p, &sha(&galaxy))
        .await
        .gps
        .expect("Galaxy S7 GPS");
    assert!(
        (g.lat - 51.025).abs() < 1e-5 && (g.lon - 7.591944).abs() < 1e-5,
        "{g:?}"
    );
    for bytes in [&iphone, &portrait, &jolla, &galaxy] {
        let info = processed(&app, &p, &sha(bytes)).await;
        assert_eq!(info.metadata, Some(PhotoMetadata::Read), "{info:?}");
    }

    let heic = corpus_file(&dir, "IMG_5195.HEIC");
    let sent = put(&app, &p, &sha(&heic), heic.clone(), None).await;
    assert_eq!(
        (sent.status, sent.body["error"]["code"].clone()),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            json!("unsupported_format")
        ),
        "{}",
        sent.body
    );
}

/// A PNG header announcing 50,000 × 50,000 pixels (7.5 GB decoded), a few dozen bytes on disk.
fn png_bomb() -> Vec<u8> {
    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xffff_ffffu32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xedb8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32(&body).to_be_bytes());
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&50_000u32.to_be_bytes());
    ihdr.extend_from_slice(&50_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &ihdr);
    // A stored (uncompressed) zlib stream of a few zero bytes: far too short, never decoded.
    chunk(
        &mut png,
        b"IDAT",
        &[
            0x78, 0x01, 0x01, 0x04, 0x00, 0xfb, 0xff, 0, 0, 0, 0, 0, 0x04, 0x00, 0x01,
        ],
    );
    chunk(&mut png, b"IEND", &[]);
    png
}

#[tokio::test]
async fn hostile_and_broken_files_get_a_clear_refusal_and_nothing_is_kept() {
    let app = spawn_app().await;
    let p = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let whole = TestPhoto::new(256, 192).textured().jpeg();

    let truncated = whole[..whole.len() / 2].to_vec();
    let sent = put(&app, &p, &sha(&truncated), truncated.clone(), None).await;
    assert_eq!(
        (sent.status, sent.body["error"]["code"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("bad_photo")),
        "{}",
        sent.body
    );

    let bomb = png_bomb();
    assert!(bomb.len() < 100);
    let sent = put(&app, &p, &sha(&bomb), bomb.clone(), None).await;
    assert_eq!(
        (sent.status, sent.body["error"]["code"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("bad_photo")),
        "{}",
        sent.body
    );
    assert!(
        sent.body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("50000"),
        "{}",
        sent.body
    );

    let heic = fieldsync_server::testing::photo::heic();
    let sent = put(&app, &p, &sha(&heic), heic.clone(), None).await;
    assert_eq!(
        (sent.status, sent.body["error"]["code"].clone()),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            json!("unsupported_format")
        ),
        "{}",
        sent.body
    );

    let garbage = b"not a photo at all".to_vec();
    let sent = put(&app, &p, &sha(&garbage), garbage.clone(), None).await;
    assert_eq!(
        sent.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "{}",
        sent.body
    );

    // Bytes under another photo's name.
    let sent = put(&app, &p, &sha(b"something else"), whole.clone(), None).await;
    assert_eq!(
        (sent.status, sent.body["error"]["code"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("hash_mismatch")),
        "{}",
        sent.body
    );

    let sent = put(&app, &p, "not-a-hash", whole.clone(), None).await;
    assert_eq!(sent.status, StatusCode::BAD_REQUEST);

    for bytes in [&truncated, &bomb, &heic, &garbage] {
        assert_eq!(
            head(&app, &p, &sha(bytes)).await.0,
            StatusCode::NOT_FOUND,
            "nothing kept"
        );
    }
    assert_eq!(
        head(&app, &p, &sha(b"something else")).await.0,
        StatusCode::NOT_FOUND
    );
}

/// A body that sends `bytes`, waits for them to arrive, and then fails, as a connection
/// dropped half-way does.
fn dropping_body(bytes: Vec<u8>) -> reqwest::Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(2);
    tokio::spawn(async move {
        let _ = tx.send(Ok(bytes)).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let _ = tx
            .send(Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "signal lost",
            )))
            .await;
    });
    reqwest::Body::wrap_stream(tokio_stream::wrappers::ReceiverStream::new(rx))
}

async fn chunked_upload_resumes(app: &TestApp) {
    let p = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let bytes = photo_of_size(0, 2_000_000);
    let (name, total) = (sha(&bytes), bytes.len());
    assert_eq!(head(app, &p, &name).await.0, StatusCode::NOT_FOUND);

    // First 500 KB arrive whole.
    let sent = put(
        app,
        &p,
        &name,
        bytes[..500_000].to_vec(),
        Some(format!("bytes 0-499999/{total}")),
    )
    .await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
    assert_eq!(
        (sent.body["state"].clone(), sent.body["received"].clone()),
        (json!("receiving"), json!(500_000))
    );

    // The next chunk is cut off after 300 KB of its 1 MB.
    let res = reqwest::Client::new()
        .put(format!("{}/v1/blobs/{name}", app.base))
        .bearer_auth(p.api.access_token().unwrap_or_default())
        .header("content-range", format!("bytes 500000-1499999/{total}"))
        .header("content-length", "1000000")
        .body(dropping_body(bytes[500_000..800_000].to_vec()))
        .send()
        .await;
    assert!(res.is_err() || !res.as_ref().is_ok_and(|r| r.status().is_success()));

    // The server kept what arrived; the phone asks and resumes from there.
    let mut offset = 0;
    for _ in 0..100 {
        offset = head(app, &p, &name).await.1.unwrap_or(0);
        if offset == 800_000 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(offset, 800_000);
    let stale = put(
        app,
        &p,
        &name,
        bytes[500_000..600_000].to_vec(),
        Some(format!("bytes 500000-599999/{total}")),
    )
    .await;
    assert_eq!(
        (stale.status, stale.body["error"]["code"].clone()),
        (StatusCode::CONFLICT, json!("upload_offset")),
        "{}",
        stale.body
    );
    let rest = put(
        app,
        &p,
        &name,
        bytes[800_000..].to_vec(),
        Some(format!("bytes 800000-{}/{total}", total - 1)),
    )
    .await;
    assert_eq!(rest.status, StatusCode::CREATED, "{}", rest.body);

    let info = processed(app, &p, &name).await;
    assert_eq!(info.state, BlobState::Ready, "{info:?}");
    let (status, _, stored) = get_bytes(app, &p, &format!("/v1/blobs/{name}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(image::load_from_memory(&stored).is_ok());

    // Another phone with the same photo proves it by sending it whole, as if the server had
    // never had it: the photo's name alone is not enough (issue 16).
    let q = app.phone(Role::TeamMember, &[VILLAGE_A]).await;
    let named = put(app, &q, &name, Vec::new(), None).await;
    assert_eq!(
        (named.status, named.body["error"]["code"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("hash_mismatch"))
    );
    let again = put(app, &q, &name, bytes.clone(), None).await;
    assert_eq!(
        (again.status, again.body["state"].clone()),
        (StatusCode::CREATED, json!("ready"))
    );
    assert_eq!(again.headers["upload-offset"], total.to_string().as_str());
}

#[tokio::test]
async fn an_interrupted_chunked_upload_resumes_where_the_bytes_stopped() {
    let app = spawn_app().await;
    chunked_upload_resumes(&app).await;
}

#[tokio::test]
async fn the_same_upload_works_on_s3() {
    let Some(app) = spawn_app_on_s3().await else {
        return;
    };
    chunked_upload_resumes(&app).await;
    // And a whole upload, processed, served with a range.
    let p = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let bytes = TestPhoto::new(600, 450).orientation(6).jpeg();
    assert_eq!(
        put(&app, &p, &sha(&bytes), bytes.clone(), None)
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(processed(&app, &p, &sha(&bytes)).await.height, Some(600));
    let res = reqwest::Client::new()
        .get(format!("{}/v1/blobs/{}", app.base, sha(&bytes)))
        .bearer_auth(p.api.access_token().unwrap_or_default())
        .header("range", "bytes=0-1")
        .send()
        .await
        .expect("range");
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(res.bytes().await.expect("body").as_ref(), &[0xff, 0xd8]);
}

#[tokio::test]
async fn photos_are_seen_by_their_uploader_and_by_readers_of_records_naming_them() {
    let app = spawn_app().await;
    let mut p = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let reviewer = app.phone(Role::FirstSecretary, &[VILLAGE_A]).await;
    let outsider = app.phone(Role::FirstSecretary, &[VILLAGE_B]).await;
    let bytes = TestPhoto::default().jpeg();
    let name = sha(&bytes);
    assert_eq!(
        put(&app, &p, &name, bytes.clone(), None).await.status,
        StatusCode::CREATED
    );
    processed(&app, &p, &name).await;
    for other in [&reviewer, &outsider] {
        let (status, _, _) = get_bytes(&app, other, &format!("/v1/blobs/{name}/thumb")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "not named by any record yet");
    }

    let h = p.dev.new_id();
    let check = p.dev.new_id();
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let r = p
        .api
        .push(vec![
            p.dev.create("household", h, household(VILLAGE_A, "马")),
            p.dev.create("housing_check", check, json!({"household_id": h.to_string(), "captured_at": now, "appraisal_grade": "C", "photos": [name]})),
        ])
        .await
        .expect("push");
    assert!(
        r.results.iter().all(|r| r.status == Status::Applied),
        "{r:?}"
    );
    let (status, headers, _) = get_bytes(&app, &reviewer, &format!("/v1/blobs/{name}/thumb")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers["cache-control"],
        "private, max-age=31536000, immutable"
    );
    let (status, _, _) = get_bytes(&app, &outsider, &format!("/v1/blobs/{name}")).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "another village's photo does not exist"
    );

    // Ranges and revalidation.
    let client = reqwest::Client::new();
    let url = format!("{}/v1/blobs/{name}", app.base);
    let token = reviewer.api.access_token().unwrap_or_default().to_owned();
    let res = client
        .get(&url)
        .bearer_auth(&token)
        .header("range", "bytes=-10")
        .send()
        .await
        .expect("range");
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    let range = res.headers()["content-range"]
        .to_str()
        .unwrap_or_default()
        .to_owned();
    let tail = res.bytes().await.expect("body");
    let (_, _, whole) = get_bytes(&app, &reviewer, &format!("/v1/blobs/{name}")).await;
    assert_eq!(
        range,
        format!(
            "bytes {}-{}/{}",
            whole.len() - 10,
            whole.len() - 1,
            whole.len()
        )
    );
    assert_eq!(&tail[..], &whole[whole.len() - 10..]);
    assert_eq!(&tail[8..], &[0xff, 0xd9], "a JPEG ends with EOI");
    let res = client
        .get(&url)
        .bearer_auth(&token)
        .header("if-none-match", format!("\"{name}\""))
        .send()
        .await
        .expect("etag");
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    let res = client
        .get(&url)
        .bearer_auth(&token)
        .header("range", "bytes=99999999-")
        .send()
        .await
        .expect("bad range");
    assert_eq!(res.status(), StatusCode::RANGE_NOT_SATISFIABLE);
}

#[tokio::test]
async fn size_and_daily_limits_hold() {
    let app = spawn_app_with(|s| {
        s.blobs.max_photo_bytes = 200_000;
        s.blobs.max_device_bytes_per_day = 250_000;
    })
    .await;
    let p = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let big = photo_of_size(0, 2_000_000);
    let sent = put(&app, &p, &sha(&big), big.clone(), None).await;
    assert_eq!(
        (sent.status, sent.body["error"]["code"].clone()),
        (StatusCode::PAYLOAD_TOO_LARGE, json!("body_too_large")),
        "{}",
        sent.body
    );
    let sent = put(
        &app,
        &p,
        &sha(&big),
        big[..100].to_vec(),
        Some(format!("bytes 0-99/{}", big.len())),
    )
    .await;
    assert_eq!(
        sent.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "the announced total counts"
    );

    let small = photo_of_size(1, 150_000);
    assert!(small.len() < 200_000);
    assert_eq!(
        put(&app, &p, &sha(&small), small.clone(), None)
            .await
            .status,
        StatusCode::CREATED
    );
    let second = photo_of_size(2, 150_000);
    let sent = put(&app, &p, &sha(&second), second.clone(), None).await;
    assert_eq!(
        (sent.status, sent.body["error"]["code"].clone()),
        (StatusCode::TOO_MANY_REQUESTS, json!("quota_exceeded")),
        "{}",
        sent.body
    );
}

#[tokio::test]
async fn photos_no_record_names_are_collected_after_the_grace_period() {
    let app = spawn_app().await;
    let mut p = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let (kept, dropped) = (
        TestPhoto::default().seed(1).jpeg(),
        TestPhoto::default().seed(2).jpeg(),
    );
    for bytes in [&kept, &dropped] {
        assert_eq!(
            put(&app, &p, &sha(bytes), bytes.clone(), None).await.status,
            StatusCode::CREATED
        );
        processed(&app, &p, &sha(bytes)).await;
    }
    let h = p.dev.new_id();
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    p.api
        .push(vec![
            p.dev.create("household", h, household(VILLAGE_A, "马")),
            p.dev.create("water_check", p.dev.new_id(), json!({"household_id": h.to_string(), "captured_at": now, "source": "well", "quantity_ok": true, "quality_ok": true, "convenience_ok": true, "supply_guaranteed": true, "photos": [sha(&kept)]})),
        ])
        .await
        .expect("push");

    // Within the grace period nothing goes, named or not.
    let c = app
        .blobs
        .collect(fieldsync_server::clock::now_ms())
        .await
        .expect("collect");
    assert_eq!(c.photos, 0);
    let later = fieldsync_server::clock::now_ms() + 31 * 24 * 3600 * 1000;
    let c = app.blobs.collect(later).await.expect("collect");
    assert_eq!(c.photos, 1);
    assert_eq!(
        head(&app, &p, &sha(&dropped)).await.0,
        StatusCode::NOT_FOUND
    );
    let (status, _, _) = get_bytes(&app, &p, &format!("/v1/blobs/{}", sha(&kept))).await;
    assert_eq!(status, StatusCode::OK, "a named photo stays");
    let store = app.blobs.store();
    assert!(
        store
            .size(&fieldsync_server::blobs::original_key(&sha(&kept)))
            .await
            .expect("size")
            .is_some()
    );
    assert!(
        store
            .size(&fieldsync_server::blobs::original_key(&sha(&dropped)))
            .await
            .expect("size")
            .is_none()
    );
}

#[tokio::test]
async fn a_check_shows_its_photos_and_where_the_camera_says_they_were_taken() {
    let app = spawn_app().await;
    let mut p = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let madrid = TestPhoto::default().gps(40.446972, -3.724753).jpeg();
    let name = sha(&madrid);
    assert_eq!(
        put(&app, &p, &name, madrid.clone(), None).await.status,
        StatusCode::CREATED
    );
    processed(&app, &p, &name).await;
    let missing = sha(b"a photo the phone has not sent yet");

    let (h, check) = (p.dev.new_id(), p.dev.new_id());
    let now = time::OffsetDateTime::now_utc();
    let mut m = p.dev.create("housing_check", check, json!({"household_id": h.to_string(),
        "captured_at": now.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
        "appraisal_grade": "A", "photos": [name, missing]}));
    m.gps = Some(fieldsync_protocol::gps::GpsFix {
        lat: 38.4680,
        lon: 106.2719,
        accuracy_m: 10.0,
        crs: fieldsync_protocol::gps::Crs::Wgs84,
        fix_at: now,
        mocked: false,
    });
    let r = p
        .api
        .push(vec![p.dev.create("household", h, json!({"village_code": VILLAGE_A, "head_name": "马", "home_lat": 38.4680, "home_lon": 106.2719})), m])
        .await
        .expect("push");
    assert!(
        r.results.iter().all(|r| r.status == Status::Applied),
        "{r:?}"
    );

    let view: Value = p
        .api
        .get_json(&format!("/v1/households/{h}/checks"))
        .await
        .expect("checks");
    let photos = view["history"][0]["photos"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(photos.len(), 2, "{view}");
    assert_eq!(
        (photos[0]["sha256"].clone(), photos[0]["state"].clone()),
        (json!(name), json!("ready"))
    );
    let reasons = photos[0]["gps_verdict"]["reasons"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        reasons.contains(&json!("outside_village"))
            && reasons.contains(&json!("far_from_household")),
        "{}",
        photos[0]
    );
    // Madrid to Yinchuan: thousands of kilometres between the camera and the record's fix.
    assert!(
        photos[0]["from_record_fix_m"].as_f64().unwrap_or(0.0) > 5_000_000.0,
        "{}",
        photos[0]
    );
    assert_eq!(photos[1]["state"], "missing");
}

/// A server died after storing the last chunk and before putting the parts together: the
/// phone's HEAD says every byte is there, and its bodyless PUT finishes the upload (found by the
/// scale-out test, where it answered `hash_mismatch` for the empty body).
#[tokio::test]
async fn a_fully_staged_upload_is_finished_by_a_bodyless_put() {
    let app = spawn_app().await;
    let p = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let bytes = photo_of_size(0, 100_000);
    let (name, total) = (sha(&bytes), bytes.len());
    stage_finished_upload(&app, p.dev.id, &name, &bytes, 50_000).await;
    assert_eq!(head(&app, &p, &name).await.1, Some(total as u64));

    let info = p.api.upload_photo(&name, &bytes, 64 * 1024).await.unwrap();
    assert_eq!(info.size, Some(total as u64), "{info:?}");
    assert_eq!(processed(&app, &p, &name).await.state, BlobState::Ready);
    // The staged parts are gone.
    let staged = format!("staging/{}/{name}/", p.dev.id.simple());
    assert!(app.blobs.store().list(&staged).await.unwrap().is_empty());
}
