//! A phone's photo cycle against the real binary: the photo goes up in small chunks as on a
//! 2G link, a check names it, a first secretary pulls the check and opens the thumbnail, and
//! the console's collection leaves a named photo alone.

use fieldsync_protocol::blob::BlobState;
use fieldsync_protocol::push::Status;
use serde_json::json;

use fieldsync_server::testing::photo::TestPhoto;

use crate::harness::{TestEnv, VILLAGE};

#[tokio::test]
async fn a_photo_goes_up_in_chunks_and_reaches_the_reviewer() {
    let env = TestEnv::new().await;
    let server = env.serve().await;
    env.create_user("ma", "grid_worker", VILLAGE).await;
    env.create_user("secretary", "first_secretary", VILLAGE)
        .await;
    let mut ma = server.phone("ma").await;

    // Big enough for several chunks; turned, as a phone held upright writes it.
    let bytes = TestPhoto::new(600, 450).textured().orientation(6).jpeg();
    let name = fieldsync_client::photo_name(&bytes);
    let info = ma.api.upload_photo(&name, &bytes, 16 * 1024).await.unwrap();
    assert_eq!(info.state, BlobState::Processing, "{info:?}");
    // Sending it again costs nothing: the server has it.
    let again = ma.api.upload_photo(&name, &bytes, 16 * 1024).await.unwrap();
    assert_eq!(again.received, bytes.len() as u64);

    let (h, check) = (ma.dev.new_id(), ma.dev.new_id());
    let res =
        ma.api
            .push(vec![
            ma.dev.create("household", h, json!({"village_code": VILLAGE, "head_name": "马德福"})),
            ma.dev.create(
                "housing_check",
                check,
                json!({"household_id": h.to_string(), "captured_at": "2026-11-28T10:00:00+08:00",
                       "appraisal_grade": "C", "photos": [name]}),
            ),
        ])
            .await
            .unwrap();
    assert!(
        res.results.iter().all(|r| r.status == Status::Applied),
        "{res:?}"
    );

    let secretary = server.phone("secretary").await;
    let (changes, _, _) = secretary.api.pull_all(None, None).await.unwrap();
    let c = changes.iter().find(|c| c.id == check).unwrap();
    assert_eq!(c.fields["photos"], json!([name]));
    assert_eq!(c.fields["failures"], json!(["dangerous_house"]));

    let url = format!("{}/v1/blobs/{name}/thumb", server.base);
    let mut thumb = None;
    for _ in 0..100 {
        let res = reqwest::Client::new()
            .get(&url)
            .bearer_auth(secretary.api.access_token().unwrap())
            .send()
            .await
            .unwrap();
        if res.status() == reqwest::StatusCode::OK {
            thumb = Some(res.bytes().await.unwrap());
            break;
        }
        assert_eq!(
            res.status(),
            reqwest::StatusCode::ACCEPTED,
            "processing answers 202"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let thumb = thumb.expect("the thumbnail is made");
    assert_eq!(&thumb[..2], &[0xff, 0xd8], "a JPEG");

    let out = env.admin(&["collect-photos"], "").await;
    assert!(out.status.success(), "{out:?}");
    assert!(
        out.stdout.contains("deleted 0 unused photos"),
        "{}",
        out.stdout
    );
}
