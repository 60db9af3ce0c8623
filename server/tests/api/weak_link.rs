//! Syncing over a link that drops: the reference client through the link emulator
//! (`fieldsync_server::testing::link`). A sync cut in the middle of a photo completes on the
//! next try, and what reached the server before the cut is not sent again: the bytes sent
//! beyond an uncut sync of the same day are only those the cut lost in flight, and the few
//! hundred bytes of asking where to go on.

use std::time::Duration;

use fieldsync_client::Replica;
use fieldsync_protocol::Role;
use fieldsync_server::testing::link::{Counters, Link, Profile};
use fieldsync_server::testing::photo::TestPhoto;
use serde_json::json;

use crate::helpers::*;

/// A quick link (the test is about what is sent, not how long it takes): 20 Mbit/s up,
/// 10 ms round trips, nothing lost.
const QUICK: Profile = Profile {
    name: "quick",
    down_bps: 40_000_000,
    up_bps: 20_000_000,
    rtt: Duration::from_millis(10),
    loss: 0.0,
};

/// A phone's day (two records, one ~1.5 MB photo) synced through a link; with `cut`, the link
/// drops for a moment once half the photo went up. Returns what passed through the link and
/// the photo's name.
async fn sync_day(cut: bool) -> (Counters, u64, TestApp, String) {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().expect("dir");
    let (_, username) = app.user(Role::FirstSecretary, &[VILLAGE_A]).await;
    let mut phone = Replica::open(&dir.path().join("phone.db"), &app.base)
        .await
        .expect("open");
    phone.login(&username, PASSWORD).await.expect("login");
    let jpeg = TestPhoto::new(640, 480)
        .seed(3)
        .textured()
        .trailer(1_500_000)
        .jpeg();
    let path = dir.path().join("IMG_0001.jpg");
    std::fs::write(&path, &jpeg).expect("write");
    let name = phone.add_photo(&path).await.expect("photo");
    let h = phone
        .create(
            "household",
            json!({"village_code": VILLAGE_A, "head_name": "马"}),
        )
        .await
        .expect("create");
    phone
        .create(
            "visit",
            json!({"village_code": VILLAGE_A, "household_id": h.to_string(), "purpose": "routine",
                   "started_at": "2026-05-14T09:30:00+08:00", "photos": [name]}),
        )
        .await
        .expect("visit");

    let server = app
        .base
        .trim_start_matches("http://")
        .parse()
        .expect("addr");
    let link = Link::start(server, QUICK).await.expect("link");
    phone.api.set_base_url(&link.url());
    if cut {
        link.drop_after_up(2_000 + jpeg.len() as u64 / 2, Duration::from_millis(300));
    }
    // A cut this short is outlasted by the client's own retries; a longer one fails the sync,
    // and the phone syncs again when it has signal.
    if let Err(e) = phone.sync().await {
        eprintln!("the cut sync failed: {e}");
        while link.is_down() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        phone.sync().await.expect("the next sync");
    }
    assert_eq!(phone.outbox().await.expect("outbox").0, 0);
    assert!(phone.refused_photos().await.expect("refusals").is_empty());
    if cut {
        assert!(
            link.counters().connections >= 2,
            "the link was cut: {:?}",
            link.counters()
        );
    }
    (link.counters(), jpeg.len() as u64, app, name)
}

#[tokio::test]
async fn a_sync_cut_mid_photo_completes_and_sends_again_only_what_the_cut_lost() {
    let (whole, photo_len, _, _) = sync_day(false).await;
    let (cut, _, app, name) = sync_day(true).await;

    // The photo arrived whole and matched its name.
    let row = app
        .store
        .blob(&name)
        .await
        .expect("blob")
        .expect("held whole");
    assert_ne!(row.state, "missing");
    assert_eq!(u64::try_from(row.size).expect("size"), photo_len);

    assert!(whole.up > photo_len, "{whole:?}");
    assert!(
        cut.up > whole.up,
        "the cut cost something: {cut:?} vs {whole:?}"
    );
    let again = cut.up - whole.up;
    // What was sent again is what the cut lost on the way plus the requests that asked
    // where to go on (a refresh-free `HEAD`, the resumed `PUT`'s headers, the pull).
    assert!(
        again <= cut.up_lost + 4_096,
        "sent again {again} bytes, the cut lost {} in flight: {cut:?} vs {whole:?}",
        cut.up_lost
    );
    // And far less than the photo: the part that arrived stayed on the server.
    assert!(again < photo_len / 4, "{again} bytes sent again");
}
