//! A cadre's receipt, checked at the console: the real one is valid, a doctored one is not.

use fieldsync_protocol::gps::{Crs, GpsFix};
use serde_json::json;

use crate::harness::{TestEnv, VILLAGE};

#[tokio::test]
async fn the_console_checks_a_receipt_and_refuses_a_doctored_one() {
    let env = TestEnv::new().await;
    let server = env.serve().await;
    env.create_user("secretary", "first_secretary", VILLAGE)
        .await;
    let mut phone = server.phone("secretary").await;
    let now = time::OffsetDateTime::now_utc();
    let mut checkin = phone.dev.create(
        "presence",
        phone.dev.new_id(),
        json!({"village_code": VILLAGE, "captured_at": now.format(&time::format_description::well_known::Rfc3339).unwrap()}),
    );
    checkin.gps = Some(GpsFix {
        lat: 38.468,
        lon: 106.2719,
        accuracy_m: 12.0,
        crs: Crs::Gcj02,
        fix_at: now,
        mocked: false,
    });
    let res = phone.api.push(vec![checkin]).await.unwrap();
    let receipt = res.results[0].receipt.clone().expect("a receipt");

    let file = env.root().join("receipt.json");
    std::fs::write(&file, serde_json::to_string(&res.results[0]).unwrap()).unwrap();
    let out = env
        .admin(&["verify-receipt", file.to_str().unwrap()], "")
        .await;
    assert!(out.status.success(), "{out:?}");
    assert!(
        out.stdout.starts_with("valid receipt") && out.stdout.contains("presence"),
        "{}",
        out.stdout
    );

    // The same receipt with its signature swapped for another's is refused.
    let mut doctored = receipt.clone();
    doctored.signature = fieldsync_protocol::receipt::Receipt::encode(&[7u8; 64]);
    let out = env
        .admin(
            &["verify-receipt", "-"],
            &serde_json::to_string(&doctored).unwrap(),
        )
        .await;
    assert!(!out.status.success(), "{out:?}");
    assert!(
        out.stderr.contains("signature does not match"),
        "{}",
        out.stderr
    );
}
