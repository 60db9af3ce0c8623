//! The household export (`GET /v1/export/households.csv` and `.xlsx`): one row per household
//! with its current check status, over the caller's villages below a division, personal data
//! disclosed as the caller's role allows, every exported household in the audit log.

use std::collections::{HashMap, HashSet};

use fieldsync_protocol::Role;
use fieldsync_protocol::push::Status;
use fieldsync_server::store::AuditFilter;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::*;

const ID_CARD: &str = "640104198506120314";
const MASKED_ID_CARD: &str = "6401**********0314";
const PHONE: &str = "13912345678";
const MASKED_PHONE: &str = "139****5678";
const CAPTURED: &str = "2026-11-20T10:00:00+08:00";
/// A member's illness, recorded on a health check: no export may show it.
const ILLNESS: &str = "高血压";
const BOM: &[u8] = "\u{feff}".as_bytes();

/// Two households: one in VILLAGE_A with a failing water check and a passing health check of
/// its child, one in VILLAGE_B with no checks.
struct Fixture {
    app: TestApp,
    failing: Uuid,
    unchecked: Uuid,
}

async fn fixture() -> Fixture {
    let app = spawn_app().await;
    let mut a = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let (failing, child) = (a.dev.new_id(), a.dev.new_id());
    let hs = failing.to_string();
    let batch = vec![
        a.dev.create(
            "household",
            failing,
            json!({"village_code": VILLAGE_A, "head_name": "马德福",
            "address": "崇安社区3号楼", "phone": PHONE, "head_id_card": ID_CARD,
            "monitoring_type": "marginal_prone", "labour_capacity": "weak",
            "per_capita_income": 5200.5, "household_size": 4}),
        ),
        a.dev.create(
            "member",
            child,
            json!({"household_id": hs, "name": "马小", "relation": "child"}),
        ),
        a.dev.create(
            "water_check",
            a.dev.new_id(),
            json!({"household_id": hs, "captured_at": CAPTURED,
            "source": "cellar", "quantity_ok": true, "quality_ok": false, "convenience_ok": true,
            "supply_guaranteed": true}),
        ),
        a.dev.create(
            "health_check",
            a.dev.new_id(),
            json!({"household_id": hs, "captured_at": CAPTURED,
            "member_id": child.to_string(), "insured": true, "family_doctor_signed": true,
            "chronic_illness": ILLNESS}),
        ),
    ];
    let r = a.api.push(batch).await.unwrap();
    assert!(
        r.results.iter().all(|r| r.status == Status::Applied),
        "{r:?}"
    );
    let mut b = app.phone(Role::GridWorker, &[VILLAGE_B]).await;
    let unchecked = b.dev.new_id();
    let batch = vec![
        b.dev
            .create("household", unchecked, household(VILLAGE_B, "李")),
    ];
    assert_eq!(
        b.api.push(batch).await.unwrap().results[0].status,
        Status::Applied
    );
    Fixture {
        app,
        failing,
        unchecked,
    }
}

/// The CSV's header row and its rows keyed by the English key of each header.
fn parse_csv(body: &[u8]) -> (Vec<String>, Vec<HashMap<String, String>>) {
    assert!(body.starts_with(BOM), "UTF-8 with a byte-order mark");
    let mut reader = csv::Reader::from_reader(&body[BOM.len()..]);
    let headers: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let keys: Vec<String> = headers
        .iter()
        .map(|h| {
            h.rsplit_once('(')
                .unwrap()
                .1
                .trim_end_matches(')')
                .to_owned()
        })
        .collect();
    let rows = reader
        .records()
        .map(|r| {
            keys.iter()
                .cloned()
                .zip(r.unwrap().iter().map(str::to_owned))
                .collect()
        })
        .collect();
    (headers, rows)
}

fn row_of(rows: &[HashMap<String, String>], id: Uuid) -> &HashMap<String, String> {
    rows.iter()
        .find(|r| r["household_id"] == id.to_string())
        .expect("household exported")
}

async fn export_csv(f: &Fixture, p: &Phone, query: &str) -> Vec<HashMap<String, String>> {
    let (status, headers, body) =
        get_bytes(&f.app, p, &format!("/v1/export/households.csv{query}")).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    assert!(!String::from_utf8_lossy(&body).contains(ILLNESS));
    parse_csv(&body).1
}

fn error_code(body: &[u8]) -> String {
    let v: Value = serde_json::from_slice(body).unwrap();
    v["error"]["code"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn csv_rows_carry_the_check_status_and_what_the_role_may_see() {
    let f = fixture().await;
    let officer = f.app.phone(Role::CountyOfficer, &[TOWNSHIP]).await;
    let (status, headers, body) = get_bytes(&f.app, &officer, "/v1/export/households.csv").await;
    assert_eq!(status, 200);
    let disposition = headers["content-disposition"].to_str().unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"households-all-")
            && disposition.ends_with(".csv\""),
        "{disposition}"
    );
    let (head, rows) = parse_csv(&body);
    assert_eq!(
        &head[..4],
        [
            "村代码 (village_code)",
            "村名 (village_name)",
            "乡镇 (township)",
            "户主 (head_name)"
        ]
    );
    for h in [
        "户主身份证号 (head_id_card)",
        "人均纯收入 (per_capita_income)",
        "饮水安全 (water_check)",
        "饮水安全问题 (water_check_failures)",
        "基本医疗核查时间 (health_check_checked_at)",
    ] {
        assert!(head.iter().any(|x| x == h), "{h} in {head:?}");
    }
    assert_eq!(rows.len(), 2);
    let r = row_of(&rows, f.failing);
    assert_eq!(
        (
            r["village_code"].as_str(),
            r["village_name"].as_str(),
            r["township"].as_str()
        ),
        (VILLAGE_A, "崇安社区居委会", "凤凰北街街道")
    );
    assert_eq!(
        (
            r["head_name"].as_str(),
            r["address"].as_str(),
            r["phone"].as_str()
        ),
        ("马德福", "崇安社区3号楼", PHONE)
    );
    assert_eq!(
        (
            r["head_id_card"].as_str(),
            r["per_capita_income"].as_str(),
            r["household_size"].as_str()
        ),
        (ID_CARD, "5200.5", "4")
    );
    assert_eq!(
        (r["monitoring_type"].as_str(), r["labour_capacity"].as_str()),
        ("marginal_prone", "weak")
    );
    assert_eq!(
        (r["member_count"].as_str(), r["members"].as_str()),
        ("1", "马小（子女）"),
        "the household's people, by name and relation"
    );
    assert_eq!(
        (
            r["water_check"].as_str(),
            r["water_check_failures"].as_str(),
            r["water_check_checked_at"].as_str()
        ),
        ("fail", "water_quality", CAPTURED)
    );
    assert_eq!(
        (
            r["health_check"].as_str(),
            r["health_check_failures"].as_str()
        ),
        ("pass", "")
    );
    assert_eq!(
        (
            r["housing_check"].as_str(),
            r["housing_check_checked_at"].as_str()
        ),
        ("none", "")
    );
    let other = row_of(&rows, f.unchecked);
    assert_eq!(
        (
            other["village_code"].as_str(),
            other["head_id_card"].as_str(),
            other["water_check"].as_str()
        ),
        (VILLAGE_B, "", "none")
    );

    // One read entry per exported household, naming the personal fields it showed.
    let trail = f
        .app
        .store
        .audit(&AuditFilter {
            household_id: Some(f.failing),
            limit: 100,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    let reads: Vec<_> = trail
        .iter()
        .filter(|e| e.action == "read" && e.user_id == officer.user_id)
        .collect();
    assert_eq!(reads.len(), 1, "{trail:?}");
    assert_eq!(
        (
            reads[0].entity.as_str(),
            reads[0].record_id,
            reads[0].scope.as_deref()
        ),
        ("household", f.failing, Some(VILLAGE_A))
    );
    assert_eq!(
        reads[0].fields,
        [
            "head_name",
            "address",
            "phone",
            "head_id_card",
            "per_capita_income",
            "name"
        ]
    );
    let trail = f
        .app
        .store
        .audit(&AuditFilter {
            household_id: Some(f.unchecked),
            limit: 100,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(
        trail
            .iter()
            .filter(|e| e.action == "read" && e.user_id == officer.user_id)
            .count(),
        1
    );

    // A township supervisor sees the ID card masked, incomes in full.
    let supervisor = f.app.phone(Role::TownshipSupervisor, &[TOWNSHIP]).await;
    let rows = export_csv(&f, &supervisor, "").await;
    let r = row_of(&rows, f.failing);
    assert_eq!(
        (
            r["head_id_card"].as_str(),
            r["phone"].as_str(),
            r["per_capita_income"].as_str()
        ),
        (MASKED_ID_CARD, PHONE, "5200.5")
    );
    assert_eq!(r["water_check_failures"], "water_quality");

    // An administrator sees no income and a masked phone.
    let admin = f.app.phone(Role::Admin, &[TOWNSHIP]).await;
    let rows = export_csv(&f, &admin, "").await;
    let r = row_of(&rows, f.failing);
    assert_eq!(
        (
            r["head_id_card"].as_str(),
            r["phone"].as_str(),
            r["per_capita_income"].as_str()
        ),
        (MASKED_ID_CARD, MASKED_PHONE, "")
    );
    let trail = f
        .app
        .store
        .audit(&AuditFilter {
            household_id: Some(f.failing),
            user_id: Some(admin.user_id),
            limit: 100,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(trail.len(), 1);
    assert_eq!(
        trail[0].fields,
        ["head_name", "address", "phone", "head_id_card", "name"],
        "no income was shown"
    );
}

#[tokio::test]
async fn the_division_narrows_the_callers_own_villages() {
    let f = fixture().await;
    let county = f.app.phone(Role::CountyOfficer, &["640104"]).await;
    let ids = |rows: Vec<HashMap<String, String>>| -> HashSet<String> {
        rows.into_iter()
            .map(|r| r["household_id"].clone())
            .collect()
    };
    let both: HashSet<String> = [f.failing, f.unchecked]
        .iter()
        .map(Uuid::to_string)
        .collect();
    assert_eq!(ids(export_csv(&f, &county, "").await), both);
    assert_eq!(
        ids(export_csv(&f, &county, &format!("?division={TOWNSHIP}")).await),
        both
    );
    assert_eq!(
        ids(export_csv(&f, &county, &format!("?division={VILLAGE_A}")).await),
        HashSet::from([f.failing.to_string()])
    );

    // A cadre of one village exports that village, whatever division names it.
    let worker = f.app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let mine = HashSet::from([f.failing.to_string()]);
    assert_eq!(ids(export_csv(&f, &worker, "").await), mine);
    assert_eq!(
        ids(export_csv(&f, &worker, &format!("?division={TOWNSHIP}")).await),
        mine
    );
    for outside in [VILLAGE_B, "640104002", "640105"] {
        for ext in ["csv", "xlsx"] {
            let (status, _, body) = get_bytes(
                &f.app,
                &worker,
                &format!("/v1/export/households.{ext}?division={outside}"),
            )
            .await;
            assert_eq!(
                (status.as_u16(), error_code(&body)),
                (404, "not_found".to_owned()),
                "{outside}"
            );
        }
    }
    let (status, _, body) =
        get_bytes(&f.app, &worker, "/v1/export/households.csv?division=64x").await;
    assert_eq!(
        (status.as_u16(), error_code(&body)),
        (400, "invalid_request".to_owned())
    );
}

#[tokio::test]
async fn roles_that_do_not_read_households_cannot_export() {
    let f = fixture().await;
    for role in [Role::HotlineOperator, Role::Farmer] {
        let p = f.app.phone(role, &[TOWNSHIP]).await;
        for ext in ["csv", "xlsx"] {
            let (status, _, body) =
                get_bytes(&f.app, &p, &format!("/v1/export/households.{ext}")).await;
            assert_eq!(
                (status.as_u16(), error_code(&body)),
                (403, "forbidden_role".to_owned()),
                "{role:?} {ext}"
            );
        }
    }
}

/// The text of the workbook's sheet (and shared strings, if any), or `None` without `unzip`.
fn sheet_text(xlsx: &[u8]) -> Option<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.xlsx");
    std::fs::write(&path, xlsx).unwrap();
    let mut text = String::new();
    for part in ["xl/worksheets/sheet1.xml", "xl/sharedStrings.xml"] {
        let out = std::process::Command::new("unzip")
            .arg("-p")
            .arg(&path)
            .arg(part)
            .output()
            .ok()?;
        text.push_str(&String::from_utf8_lossy(&out.stdout));
    }
    Some(text)
}

#[tokio::test]
async fn xlsx_is_a_workbook_of_the_same_rows() {
    let f = fixture().await;
    let officer = f.app.phone(Role::CountyOfficer, &[TOWNSHIP]).await;
    let supervisor = f.app.phone(Role::TownshipSupervisor, &[TOWNSHIP]).await;
    for (p, id_card) in [(&officer, ID_CARD), (&supervisor, MASKED_ID_CARD)] {
        let (status, headers, body) = get_bytes(
            &f.app,
            p,
            &format!("/v1/export/households.xlsx?division={TOWNSHIP}"),
        )
        .await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        assert_eq!(
            headers["content-type"],
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        );
        let disposition = headers["content-disposition"].to_str().unwrap();
        assert!(
            disposition.starts_with(&format!("attachment; filename=\"households-{TOWNSHIP}-"))
                && disposition.ends_with(".xlsx\""),
            "{disposition}"
        );
        assert!(
            body.starts_with(b"PK\x03\x04") && body.len() > 2000,
            "a zip file of {} bytes",
            body.len()
        );
        let Some(sheet) = sheet_text(&body) else {
            eprintln!("unzip is not installed: the sheet's content is not checked");
            continue;
        };
        for expected in [
            "户主 (head_name)",
            "饮水安全问题 (water_check_failures)",
            "马德福",
            "凤凰北街街道",
            id_card,
            "water_quality",
            "fail",
            "none",
            CAPTURED,
            "<v>5200.5</v>",
        ] {
            assert!(
                sheet.contains(expected),
                "{expected} missing from the sheet"
            );
        }
        assert!(!sheet.contains(ILLNESS));
        if id_card == MASKED_ID_CARD {
            assert!(
                !sheet.contains(ID_CARD),
                "the full number never reaches a supervisor"
            );
        }
    }
    let trail = f
        .app
        .store
        .audit(&AuditFilter {
            household_id: Some(f.failing),
            user_id: Some(supervisor.user_id),
            limit: 100,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(trail.len(), 1);
}

/// More households than a page, and than the pages read through the village's index before
/// the read walks the household index: each comes out exactly once.
#[tokio::test]
async fn a_large_village_comes_out_whole() {
    let f = fixture().await;
    let officer = f.app.phone(Role::CountyOfficer, &[TOWNSHIP]).await;
    let inserted = insert_households(&f.app.store, VILLAGE_A, 4_500, officer.user_id).await;
    let rows = export_csv(&f, &officer, &format!("?division={VILLAGE_A}")).await;
    assert_eq!(rows.len(), inserted.len() + 1);
    let ids: HashSet<&str> = rows.iter().map(|r| r["household_id"].as_str()).collect();
    assert_eq!(ids.len(), rows.len(), "no household twice");
    assert!(
        inserted
            .iter()
            .all(|id| ids.contains(id.to_string().as_str()))
    );
    let sorted: Vec<&str> = rows.iter().map(|r| r["household_id"].as_str()).collect();
    assert!(
        sorted.windows(2).all(|w| w[0] < w[1]),
        "in id order within the village"
    );
}
