//! A phone empties its outbox once a push is acknowledged, so an acknowledged edit that a
//! restart loses is lost for good. `systemctl restart` and `docker stop` send SIGTERM: the
//! server must finish the requests in flight, exit cleanly, and find everything it
//! acknowledged on the next start.

use std::collections::HashMap;
use std::time::Duration;

use fieldsync_protocol::push::{Mutation, Status};
use serde_json::json;
use uuid::Uuid;

use crate::harness::{Phone, TestEnv, VILLAGE};

fn households(phone: &mut Phone, n: usize, with_members: bool) -> (Vec<Uuid>, Vec<Mutation>) {
    let mut ids = Vec::new();
    let mut batch = Vec::new();
    for i in 0..n {
        let h = phone.dev.new_id();
        batch.push(phone.dev.create(
            "household",
            h,
            json!({"village_code": VILLAGE, "head_name": format!("户主{i}")}),
        ));
        ids.push(h);
        if with_members {
            let m = phone.dev.new_id();
            batch.push(phone.dev.create(
                "member",
                m,
                json!({"household_id": h.to_string(), "name": format!("成员{i}")}),
            ));
            ids.push(m);
        }
    }
    (ids, batch)
}

#[tokio::test]
async fn graceful_shutdown_keeps_acknowledged_pushes() {
    let env = TestEnv::new().await;
    env.create_user("ma", "grid_worker", VILLAGE).await;
    let mut server = env.serve().await;
    let mut ma = server.phone("ma").await;

    let (mut acknowledged, batch) = households(&mut ma, 50, true);
    let res = ma.api.push(batch).await.unwrap();
    assert!(
        res.results.iter().all(|r| r.status == Status::Applied),
        "{res:?}"
    );

    // A large push still running when SIGTERM arrives (it takes a few hundred ms): if the
    // phone hears "applied", the records must survive. If the connection is cut instead,
    // the phone keeps its outbox and nothing is promised.
    let (in_flight, batch) = households(&mut ma, 500, false);
    let api = ma.api.clone();
    let push = tokio::spawn(async move { api.push(batch).await });
    tokio::time::sleep(Duration::from_millis(20)).await;

    let status = server.terminate().await;
    assert!(
        status.success(),
        "SIGTERM is a clean stop, not a crash: {status}\n{}",
        server.log()
    );
    if let Ok(res) = push.await.unwrap() {
        assert!(
            res.results.iter().all(|r| r.status == Status::Applied),
            "{res:?}"
        );
        acknowledged.extend(in_flight);
    }
    drop(server);

    let server = env.serve().await;
    let reader = server.phone("ma").await;
    let (changes, _, _) = reader.api.pull_all(None, None).await.unwrap();
    let got: HashMap<_, _> = changes.iter().map(|c| (c.id, c)).collect();
    for id in &acknowledged {
        let c = got
            .get(id)
            .unwrap_or_else(|| panic!("acknowledged record {id} lost in the restart"));
        assert_eq!((c.version, c.deleted), (1, false));
    }
}
