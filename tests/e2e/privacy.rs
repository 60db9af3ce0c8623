//! Server logs are shipped to collectors that many people can read; the records hold ID-card
//! numbers, phones and illnesses of vulnerable households. Even at `debug`, in JSON, with
//! values the server rejects (which are echoed nowhere but the phone's answer), none of that
//! may reach the log.

use fieldsync_protocol::push::Status;
use serde_json::json;

use crate::harness::{PASSWORD, TestEnv, VILLAGE};

const HEAD: &str = "马德福";
const MEMBER: &str = "马小花";
const PHONE: &str = "13912345678";
/// Valid under GB 11643 (check character X).
const ID_CARD: &str = "11010519491231002X";
const ILLNESS: &str = "糖尿病";
const ADDRESS: &str = "西吉县吉强镇红旗村三组 12 号";

#[tokio::test]
async fn logs_hold_no_personal_data() {
    let mut env = TestEnv::new().await;
    env.set("FIELDSYNC_LOG", "debug");
    env.set("FIELDSYNC_LOG_FORMAT", "json");
    env.create_user("ma", "grid_worker", VILLAGE).await;
    let mut server = env.serve().await;
    let mut ma = server.phone("ma").await;

    let h = ma.dev.new_id();
    let valid = vec![
        ma.dev.create(
            "household",
            h,
            json!({"village_code": VILLAGE, "head_name": HEAD, "phone": PHONE,
                   "head_id_card": ID_CARD, "address": ADDRESS}),
        ),
        ma.dev.create(
            "member",
            ma.dev.new_id(),
            json!({"household_id": h.to_string(), "name": MEMBER, "phone": PHONE,
                   "id_card": ID_CARD, "illness": ILLNESS}),
        ),
    ];
    let res = ma.api.push(valid).await.unwrap();
    assert!(
        res.results.iter().all(|r| r.status == Status::Applied),
        "{res:?}"
    );

    // One bad value per mutation, so each is judged and rejected on its own.
    let bad_phone = format!("{PHONE}-9");
    let bad_id_card = "110105194912310021"; // check character should be X
    let long_illness = ILLNESS.repeat(70); // over the 200-character limit
    let bad_address = format!("{ADDRESS}\u{7}"); // a control character
    let mut invalid = Vec::new();
    for extra in [
        json!({"phone": bad_phone}),
        json!({"id_card": bad_id_card}),
        json!({"illness": long_illness}),
        json!({"phone": PHONE.parse::<u64>().unwrap()}),
        json!({"illness_text": ILLNESS}),
    ] {
        let mut fields = json!({"household_id": h.to_string(), "name": MEMBER});
        fields
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        invalid.push(ma.dev.create("member", ma.dev.new_id(), fields));
    }
    invalid.push(
        ma.dev
            .update("household", h, 1, json!({"address": bad_address})),
    );
    let res = ma.api.push(invalid).await.unwrap();
    assert!(
        res.results.iter().all(|r| r.status == Status::Rejected),
        "{res:?}"
    );
    // Pull them back too: the values travel in a response body.
    let (changes, _, _) = ma.api.pull_all(None, None).await.unwrap();
    assert_eq!(changes.len(), 2);

    let status = server.terminate().await;
    assert!(status.success(), "{status}");
    let stdout = server.stdout();
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        lines.iter().any(|l| l["level"] == "DEBUG"),
        "the log ran at debug, or this test proves little:\n{stdout}"
    );
    assert!(lines.iter().any(|l| l["message"] == "push"), "{stdout}");

    let log = server.log();
    let secrets = [
        HEAD,
        MEMBER,
        PHONE,
        ID_CARD,
        ILLNESS,
        ADDRESS,
        bad_id_card,
        PASSWORD,
    ];
    for secret in secrets {
        let found: Vec<&str> = log.lines().filter(|l| l.contains(secret)).collect();
        assert!(
            found.is_empty(),
            "the log holds {secret:?}:\n{}",
            found.join("\n")
        );
    }
}
