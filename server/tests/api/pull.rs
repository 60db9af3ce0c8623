//! Pull: pages, cursors that continue where they stopped, compression.

use std::collections::HashSet;

use fieldsync_protocol::Role;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn pages_deliver_every_record_once_in_order() {
    let app = spawn_app().await;
    let mut a = app.phone(Role::GridWorker, &[VILLAGE_A, VILLAGE_B]).await;
    let reader = app.phone(Role::TownshipSupervisor, &[TOWNSHIP]).await;
    let mut ids = HashSet::new();
    for chunk in 0..7 {
        let batch: Vec<_> = (0..50)
            .map(|i| {
                let id = a.dev.new_id();
                ids.insert(id);
                let village = if i % 3 == 0 { VILLAGE_B } else { VILLAGE_A };
                a.dev.create(
                    "household",
                    id,
                    household(village, &format!("户{chunk}-{i}")),
                )
            })
            .collect();
        a.api.push(batch).await.unwrap();
    }

    let mut seen = HashSet::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = reader.api.pull(cursor.as_deref(), Some(60)).await.unwrap();
        assert!(page.changes.len() <= 60);
        for c in &page.changes {
            assert!(seen.insert(c.id), "{} delivered twice", c.id);
        }
        pages += 1;
        cursor = Some(page.cursor);
        if !page.has_more {
            break;
        }
    }
    assert_eq!(seen, ids);
    assert!(pages >= 6, "350 records in pages of 60");

    // Nothing new: an empty page, and the cursor still works.
    let page = reader.api.pull(cursor.as_deref(), None).await.unwrap();
    assert!(page.changes.is_empty() && !page.has_more);

    // One change later: exactly that change.
    let id = *ids.iter().next().unwrap();
    let rec = app.store.record(id).await.unwrap().unwrap();
    a.api
        .push(vec![a.dev.update(
            "household",
            id,
            rec.version as u64,
            json!({"grid": "七组"}),
        )])
        .await
        .unwrap();
    let page = reader.api.pull(Some(&page.cursor), None).await.unwrap();
    assert_eq!(page.changes.len(), 1);
    assert_eq!((page.changes[0].id, page.changes[0].version), (id, 2));
}

#[tokio::test]
async fn pulls_are_compressed_when_the_phone_accepts_it() {
    let app = spawn_app().await;
    let mut a = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let batch: Vec<_> = (0..100)
        .map(|i| {
            a.dev.create(
                "household",
                a.dev.new_id(),
                household(VILLAGE_A, &format!("户{i}")),
            )
        })
        .collect();
    a.api.push(batch).await.unwrap();
    let token = a.api.access_token().unwrap().to_owned();
    // A client that decodes nothing itself, so the answer's encoding shows.
    let raw = reqwest::Client::builder()
        .no_gzip()
        .no_zstd()
        .build()
        .unwrap();
    let pull = |query: &str, encoding: &str| {
        raw.get(format!("{}/v1/sync/pull{query}", app.base))
            .bearer_auth(&token)
            .header("accept-encoding", encoding)
            .send()
    };
    for encoding in ["gzip", "zstd"] {
        let r = pull("", encoding).await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-encoding"], encoding);
        assert!(r.headers().contains_key("x-fieldsync-version"));
        // A page of one record fits one packet: sent as it is, whatever the phone accepts.
        let r = pull("?limit=1", encoding).await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(!r.headers().contains_key("content-encoding"));
        let page: serde_json::Value = r.json().await.unwrap();
        assert_eq!(page["changes"].as_array().map(Vec::len), Some(1));
    }
}
