//! The roster import (`service::roster`, `admin import-roster`): an office's spreadsheet of
//! households and people, read and written through the push pipeline as the import's own
//! device; re-imports that change nothing, and a phone's correction meeting a changed file as
//! a conflict for review.

use std::collections::{BTreeMap, BTreeSet};

use fieldsync_protocol::Role;
use fieldsync_protocol::registry::idcard;
use fieldsync_server::clock;
use fieldsync_server::service::ServiceError;
use fieldsync_server::service::push::rules_of;
use fieldsync_server::service::roster::Import;
use fieldsync_server::service::roster::places::Places;
use fieldsync_server::service::roster::report::{Outcome, Report};
use fieldsync_server::sheets;
use fieldsync_server::store::{ConflictFilter, Kind};
use fieldsync_server::sync::Actor;
use fieldsync_server::testing::limit_sqlite_growth;
use serde_json::{Value, json};

use crate::helpers::*;

/// A valid ID-card number of a person of 兴庆区 born on `birth` (YYYYMMDD), `seq` 3 digits.
fn id_card(birth: &str, seq: &str) -> String {
    idcard::with_check(&format!("640104{birth}{seq}")).unwrap()
}

/// The same number with its check digit changed: a mistyped digit.
fn mistyped(card: &str) -> String {
    let (first17, last) = card.split_at(17);
    let other = if last == "1" { '2' } else { '1' };
    format!("{first17}{other}")
}

/// Full-width digits, as some offices' input methods type them.
fn full_width(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '0'..='9' => char::from_u32(c as u32 - '0' as u32 + 0xFF10).unwrap(),
            c => c,
        })
        .collect()
}

const HEADER: &str = "户编号,人编号,乡镇,行政村,姓名,证件号码,与户主关系,性别,家庭人口数,人均纯收入（元）,联系电话,监测对象类别,在校生状况,健康状况,劳动技能,备用列";

/// One person row under [`HEADER`].
#[allow(clippy::too_many_arguments)]
fn row(
    household: &str,
    person: &str,
    village: &str,
    name: &str,
    card: &str,
    relation: &str,
    size: u32,
    phone: &str,
) -> String {
    format!(
        "{household},{person},凤凰北街街道,{village},{name},{card},{relation},男,{size},5200.5,{phone},边缘易致贫户,非在校生,健康,普通劳动力,"
    )
}

struct Importer {
    actor: Actor,
}

impl Importer {
    async fn new(app: &TestApp, villages: &[&str]) -> Importer {
        let (user_id, _) = app.user(Role::CountyOfficer, &[TOWNSHIP]).await;
        let device_id = app
            .store
            .import_device(user_id, clock::now_ms())
            .await
            .unwrap();
        Importer {
            actor: Actor {
                user_id,
                device_id,
                role: Role::CountyOfficer,
                villages: villages.iter().map(|v| (*v).to_owned()).collect(),
            },
        }
    }

    async fn run(&self, app: &TestApp, file: &[u8], name: &str, dry_run: bool) -> Report {
        self.try_run(app, file, name, dry_run).await.unwrap()
    }

    async fn try_run(
        &self,
        app: &TestApp,
        file: &[u8],
        name: &str,
        dry_run: bool,
    ) -> Result<Report, ServiceError> {
        let roster = sheets::read(file, name, None).unwrap();
        let divisions = app.store.divisions_under(TOWNSHIP).await.unwrap();
        let places = Places::new(&divisions, Some(TOWNSHIP));
        let rules = rules_of(&app.settings, clock::now_ms());
        let import = Import {
            store: &app.store,
            actor: &self.actor,
            rules: &rules,
            dry_run,
        };
        import.run(&roster, &places, &mut |_, _| {}).await
    }
}

/// Outcome per line of the file and kind of record (a head's row is a household and a person).
fn outcomes(report: &Report) -> BTreeMap<(usize, String), (Outcome, Vec<String>)> {
    report
        .lines()
        .filter(|l| l.line > 0)
        .map(|l| ((l.line, l.entity.clone()), (l.outcome, l.fields.clone())))
        .collect()
}

fn at(report: &Report, line: usize, entity: &str) -> (Outcome, Vec<String>) {
    outcomes(report)
        .remove(&(line, entity.to_owned()))
        .unwrap_or_else(|| {
            panic!(
                "no {entity} at line {line}: {:?}",
                report.lines().collect::<Vec<_>>()
            )
        })
}

fn bad_lines(report: &Report) -> BTreeSet<usize> {
    report
        .lines()
        .filter(|l| l.outcome == Outcome::Bad)
        .map(|l| l.line)
        .collect()
}

async fn pulled(phone: &Phone, entity: &str) -> Vec<Value> {
    let (changes, _, _) = phone.api.pull_all(None, None).await.unwrap();
    latest(&changes)
        .into_values()
        .filter(|c| c.entity == entity && !c.deleted)
        .map(|c| {
            let mut f = c.fields.clone();
            f.insert("id".into(), json!(c.id));
            f.insert("version".into(), json!(c.version));
            Value::Object(f)
        })
        .collect()
}

fn field<'a>(records: &'a [Value], key: &str, value: &str) -> &'a Value {
    records
        .iter()
        .find(|r| r[key] == value)
        .unwrap_or_else(|| panic!("no record with {key} = {value} among {records:?}"))
}

#[tokio::test]
async fn an_offices_gb18030_file_is_checked_dry_run_then_imported_and_phones_pull_it() {
    let app = spawn_app().await;
    let head = id_card("19650312", "013");
    let spouse = id_card("19680704", "024");
    let child = id_card("20120901", "031");
    let other = id_card("19700101", "051");
    let text = [
        // 1: a title row above the header (a merged cell in the office's Excel).
        "兴庆区防返贫监测对象花名册,,,,,,,,,,,,,,,".to_owned(),
        HEADER.to_owned(),
        row(
            "640104001002000001",
            "64010400100200000101",
            "崇安社区",
            "马德福",
            &head,
            "户主",
            3,
            "13912345678",
        ),
        row(
            "640104001002000001",
            "64010400100200000102",
            "崇安社区",
            "李秀兰",
            &spouse,
            "配偶",
            3,
            "13912345678",
        ),
        row(
            "640104001002000001",
            "64010400100200000103",
            "崇安社区",
            "马小军",
            &child,
            "之子",
            3,
            "13912345678",
        ),
        // 6: full-width digits in the household number and the ID card.
        row(
            &full_width("640104001002000002"),
            "64010400100200000201",
            "崇安社区",
            "杨志强",
            &full_width(&other),
            "户主",
            1,
            "",
        ),
        // 7: the other village, by name.
        row(
            "640104001003000001",
            "64010400100300000101",
            "兴隆社区",
            "王桂英",
            &id_card("19550505", "062"),
            "户主",
            2,
            "",
        ),
        // 8: the same 人编号 as line 7.
        row(
            "640104001003000001",
            "64010400100300000101",
            "兴隆社区",
            "王小花",
            &id_card("19900909", "082"),
            "之女",
            2,
            "",
        ),
        // 9: a village that is not in the township.
        row(
            "640104001009000001",
            "64010400100900000101",
            "幸福村",
            "张三",
            &id_card("19600101", "073"),
            "户主",
            1,
            "",
        ),
        // 10: a mistyped check digit in a head's number.
        row(
            "640104001002000003",
            "64010400100200000301",
            "崇安社区",
            "赵六",
            &mistyped(&id_card("19750808", "094")),
            "户主",
            1,
            "",
        ),
        // 11: the totals row offices put at the bottom.
        "合计,,,,,,,,7,,,,,,,".to_owned(),
    ]
    .join("\r\n");
    let (file, _, _) = encoding_rs::GB18030.encode(&text);
    let importer = Importer::new(&app, &[VILLAGE_A, VILLAGE_B]).await;

    let dry = importer.run(&app, &file, "花名册.csv", true).await;
    assert_eq!(dry.encoding, Some("GB18030"));
    assert_eq!(dry.unknown_columns, ["备用列"]);
    let lines = outcomes(&dry);
    for l in [3, 4, 5, 6, 7] {
        assert_eq!(at(&dry, l, "member").0, Outcome::New, "line {l}");
    }
    for l in [3, 6, 7] {
        assert_eq!(at(&dry, l, "household").0, Outcome::New, "line {l}");
    }
    assert_eq!(bad_lines(&dry), BTreeSet::from([8, 9, 10]));
    assert!(
        lines.keys().all(|(l, _)| *l != 11),
        "the totals row is not a row: {lines:?}"
    );
    let reasons: BTreeMap<usize, String> = dry
        .lines()
        .filter(|l| l.outcome == Outcome::Bad)
        .map(|l| (l.line, l.reason))
        .collect();
    assert!(reasons[&8].contains("line 7"), "{reasons:?}");
    assert!(reasons[&9].contains("幸福村"), "{reasons:?}");
    assert!(reasons[&10].contains("check digit"), "{reasons:?}");
    assert!(
        dry.lines().all(|l| !l.reason.contains(&head[..14])),
        "no report names an ID-card number"
    );
    let t = dry.totals();
    // Line 9 is a household and its head: two records not imported.
    assert_eq!((t.households[0], t.people[0], t.bad), (3, 5, 4));
    let grid = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    assert!(
        pulled(&grid, "household").await.is_empty(),
        "a dry run writes nothing"
    );

    let done = importer.run(&app, &file, "花名册.csv", false).await;
    assert_eq!(
        outcomes(&done),
        lines,
        "the real run does what the dry run said"
    );
    let households = pulled(&grid, "household").await;
    assert_eq!(households.len(), 2, "{households:?}");
    let first = field(&households, "household_no", "640104001002000001");
    assert_eq!(first["head_name"], "马德福");
    assert_eq!(first["head_id_card"], head.as_str());
    assert_eq!(first["monitoring_type"], "marginal_prone");
    assert_eq!(first["household_size"], 3);
    assert_eq!(first["phone"], "13912345678");
    let second = field(&households, "household_no", "640104001002000002");
    assert_eq!(
        second["head_id_card"],
        other.as_str(),
        "full-width digits read"
    );
    let members = pulled(&grid, "member").await;
    assert_eq!(members.len(), 4, "{members:?}");
    let son = field(&members, "person_no", "64010400100200000103");
    assert_eq!(son["household_id"], first["id"]);
    assert_eq!(son["relation"], "child");
    assert_eq!(son["id_card"], child.as_str());
    assert_eq!(son["birth_date"], "2012-09-01");

    // The same file again changes nothing.
    let again = importer.run(&app, &file, "花名册.csv", false).await;
    let t = again.totals();
    assert_eq!(
        (t.households, t.people, t.conflicts),
        ([0, 0, 3], [0, 0, 5], 0),
        "{:?}",
        again.lines().collect::<Vec<_>>()
    );
    let after = pulled(&grid, "household").await;
    assert_eq!(
        field(&after, "household_no", "640104001002000001")["version"],
        first["version"]
    );
}

async fn open_conflicts(app: &TestApp) -> Vec<fieldsync_server::store::ConflictRow> {
    app.store
        .conflicts(&ConflictFilter {
            villages: &[VILLAGE_A.to_owned()],
            open: Some(true),
            record_id: None,
            household_id: None,
            after: None,
            limit: 100,
        })
        .await
        .unwrap()
}

/// A household of two in VILLAGE_A, with a phone number and a size the office may change.
fn small_file(phone: &str, size: u32, spouse_name: &str) -> Vec<u8> {
    [
        HEADER.to_owned(),
        row(
            "640104001002000001",
            "64010400100200000101",
            "崇安社区",
            "马德福",
            &id_card("19650312", "013"),
            "户主",
            size,
            phone,
        ),
        row(
            "640104001002000001",
            "64010400100200000102",
            "崇安社区",
            spouse_name,
            &id_card("19680704", "024"),
            "配偶",
            size,
            phone,
        ),
    ]
    .join("\n")
    .into_bytes()
}

/// A server whose VILLAGE_A holds [`small_file`]'s household, imported, and its importer.
async fn one_household_imported() -> (TestApp, Importer) {
    let app = spawn_app().await;
    let importer = Importer::new(&app, &[VILLAGE_A]).await;
    importer
        .run(
            &app,
            &small_file("13912345678", 2, "李秀兰"),
            "roster.csv",
            false,
        )
        .await;
    (app, importer)
}

#[tokio::test]
async fn a_reimport_after_a_phone_edit_conflicts_only_where_both_changed() {
    let (app, importer) = one_household_imported().await;
    let mut grid = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let households = pulled(&grid, "household").await;
    let h = &households[0];
    let id = h["id"].as_str().unwrap().parse().unwrap();
    let version = h["version"].as_u64().unwrap();
    // The cadre corrects the phone number and the spouse's name is left alone; the household's
    // monitoring type is corrected too.
    let edit = grid.dev.update(
        "household",
        id,
        version,
        json!({"phone": "13800000000", "monitoring_type": "none"}),
    );
    let pushed = grid.api.push(vec![edit]).await.unwrap();
    assert_eq!(pushed.results[0].status.as_str(), "applied");

    // Next month the office's file changes the phone number, the household size and the
    // spouse's name; the monitoring type is as before.
    let v2 = small_file("13711112222", 3, "李秀英");
    let dry = importer.run(&app, &v2, "roster.csv", true).await;
    let done = importer.run(&app, &v2, "roster.csv", false).await;
    assert_eq!(outcomes(&dry), outcomes(&done));
    assert_eq!(
        at(&done, 2, "household"),
        (Outcome::Conflict, vec!["phone".to_owned()])
    );
    assert_eq!(at(&done, 2, "member").0, Outcome::Unchanged);
    assert_eq!(
        at(&done, 3, "member"),
        (Outcome::Changed, vec!["name".to_owned()])
    );

    let conflicts = open_conflicts(&app).await;
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    let c = &conflicts[0];
    assert_eq!((c.record_id, c.field.as_str()), (id, "phone"));
    assert_eq!(
        (&c.yours.0, &c.theirs.0),
        (&json!("13711112222"), &json!("13800000000")),
        "both numbers are kept for the reviewer: the file's and the phone's"
    );
    let now = pulled(&grid, "household").await;
    assert_eq!(
        now[0]["household_size"], 3,
        "a field only the file changed is taken"
    );
    assert_eq!(
        now[0]["monitoring_type"], "none",
        "the cadre's correction stands"
    );

    // Imported again, the same file changes nothing and raises nothing.
    let again = importer.run(&app, &v2, "roster.csv", false).await;
    assert!(
        outcomes(&again)
            .values()
            .all(|(o, _)| *o == Outcome::Unchanged),
        "{:?}",
        again.lines().collect::<Vec<_>>()
    );
    let open = open_conflicts(&app).await;
    assert_eq!(open.len(), 1);
}

#[tokio::test]
async fn a_household_a_phone_registered_is_found_by_its_heads_id_card() {
    let app = spawn_app().await;
    let mut grid = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let id = grid.dev.new_id();
    let create = grid.dev.create(
        "household",
        id,
        json!({"village_code": VILLAGE_A, "head_name": "马德福",
               "head_id_card": id_card("19650312", "013"), "phone": "13912345678"}),
    );
    grid.api.push(vec![create]).await.unwrap();
    let importer = Importer::new(&app, &[VILLAGE_A]).await;
    let report = importer
        .run(
            &app,
            &small_file("13700000000", 2, "李秀兰"),
            "roster.csv",
            false,
        )
        .await;
    // The phone's number and the file's differ: both are kept for review. The rest the phone
    // never wrote is taken.
    assert_eq!(
        at(&report, 2, "household"),
        (Outcome::Conflict, vec!["phone".to_owned()])
    );
    assert_eq!(at(&report, 2, "member").0, Outcome::New);
    assert_eq!(at(&report, 3, "member").0, Outcome::New);
    let households = pulled(&grid, "household").await;
    assert_eq!(households.len(), 1, "matched, not doubled: {households:?}");
    assert_eq!(households[0]["id"], json!(id));
    assert_eq!(households[0]["household_no"], "640104001002000001");
    assert_eq!(households[0]["household_size"], 2);
    let members = pulled(&grid, "member").await;
    assert_eq!(members.len(), 2);
    assert!(members.iter().all(|m| m["household_id"] == json!(id)));
}

#[tokio::test]
async fn an_import_writes_only_to_the_villages_it_may() {
    let app = spawn_app().await;
    let importer = Importer::new(&app, &[VILLAGE_A]).await;
    let text = [
        HEADER.to_owned(),
        row(
            "640104001003000001",
            "64010400100300000101",
            "兴隆社区",
            "王桂英",
            &id_card("19550505", "062"),
            "户主",
            1,
            "",
        ),
        row(
            "640104001002000001",
            "64010400100200000101",
            "崇安社区",
            "马德福",
            &id_card("19650312", "013"),
            "户主",
            1,
            "",
        ),
    ]
    .join("\n");
    let report = importer
        .run(&app, text.as_bytes(), "roster.csv", false)
        .await;
    assert_eq!(
        bad_lines(&report),
        BTreeSet::from([2]),
        "{:?}",
        report.lines().collect::<Vec<_>>()
    );
    assert_eq!(at(&report, 3, "household").0, Outcome::New);
    let other = app.phone(Role::GridWorker, &[VILLAGE_B]).await;
    assert!(pulled(&other, "household").await.is_empty());
}

#[tokio::test]
async fn the_roster_export_imported_again_changes_nothing() {
    let (app, importer) = one_household_imported().await;
    // A household a phone registered, without the national numbers, and a corrected name.
    let mut grid = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let (h, m) = (grid.dev.new_id(), grid.dev.new_id());
    let batch = vec![
        grid.dev.create(
            "household",
            h,
            json!({"village_code": VILLAGE_A, "head_name": "杨志强", "address": "3组",
                   "labour_capacity": "weak", "per_capita_income": 6100}),
        ),
        grid.dev.create(
            "member",
            m,
            json!({"household_id": h, "name": "杨小兰", "relation": "grandchild",
                   "school_status": "enrolled", "illness": "先天性心脏病", "migrant_worker": false}),
        ),
    ];
    grid.api.push(batch).await.unwrap();

    for format in [
        fieldsync_server::export::Format::Csv,
        fieldsync_server::export::Format::Xlsx,
    ] {
        let reader = fieldsync_server::export::Reader {
            user_id: fieldsync_server::export::CONSOLE,
            device_id: None,
        };
        let mut file = Vec::new();
        let written = fieldsync_server::export::roster::write(
            &app.store,
            &[VILLAGE_A.to_owned()],
            reader,
            format,
            &mut file,
        )
        .await
        .unwrap();
        assert_eq!(written, 2);
        let name = format!("roster.{}", format.extension());
        let report = importer.run(&app, &file, &name, false).await;
        assert!(
            report.lines().all(|l| l.outcome == Outcome::Unchanged),
            "{format:?}: {:?}",
            report.lines().collect::<Vec<_>>()
        );
        assert_eq!(
            report.lines().count(),
            5,
            "{:?}",
            report.lines().collect::<Vec<_>>()
        );
    }
    // The export is audited like any other.
    let audited = app
        .store
        .audit(&fieldsync_server::store::AuditFilter {
            household_id: Some(h),
            user_id: Some(fieldsync_server::export::CONSOLE),
            from_ms: None,
            to_ms: None,
            after: None,
            limit: 10,
        })
        .await
        .unwrap();
    assert!(!audited.is_empty());
}

#[tokio::test]
async fn an_import_stopped_between_its_push_and_its_bookkeeping_goes_on_without_doubling() {
    let (app, importer) = one_household_imported().await;
    let file = small_file("13912345678", 2, "李秀兰");
    // A stop after the push committed and before the import noted what it wrote: the
    // baselines are gone, the records are there.
    execute_sql(&app, "DELETE FROM roster_baselines").await;
    let again = importer.run(&app, &file, "roster.csv", false).await;
    assert!(
        again.lines().all(|l| l.outcome == Outcome::Unchanged),
        "{:?}",
        again.lines().collect::<Vec<_>>()
    );
    let grid = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    assert_eq!(pulled(&grid, "household").await.len(), 1);
    assert_eq!(pulled(&grid, "member").await.len(), 2);
    // And the file's next change is taken as the import's own, with no conflict.
    let next = importer
        .run(
            &app,
            &small_file("13700000000", 2, "李秀兰"),
            "roster.csv",
            false,
        )
        .await;
    assert_eq!(
        at(&next, 2, "household"),
        (Outcome::Changed, vec!["phone".to_owned()])
    );
    assert!(open_conflicts(&app).await.is_empty());
}

/// The disk fills while an import's pushes are in flight (the planning runs ahead of them):
/// the import stops with the disk's error instead of waiting for a push that will not come,
/// and once there is space the same file run again finishes, every household once.
#[tokio::test]
async fn an_import_the_disk_stops_midway_ends_with_its_error_and_finishes_when_run_again() {
    let app = spawn_app().await;
    if app.store.kind() != Kind::Sqlite {
        eprintln!("skipped on PostgreSQL: its disk cannot be filled from a test");
        return;
    }
    let importer = Importer::new(&app, &[VILLAGE_A]).await;
    // Households of one person: more mutations than three pushes hold.
    const HOUSEHOLDS: usize = 3_100;
    let mut lines = vec![HEADER.to_owned()];
    for h in 0..HOUSEHOLDS {
        let no = format!("640104001002{h:06}");
        let birth = format!("19{:02}0101", 40 + h / 1000);
        lines.push(row(
            &no,
            &format!("{no}01"),
            "崇安社区",
            &format!("户主{h}"),
            &id_card(&birth, &format!("{:03}", h % 1000)),
            "户主",
            1,
            "13912345678",
        ));
    }
    let file = lines.join("\n").into_bytes();

    limit_sqlite_growth(&app.store, Some(0)).await.unwrap();
    let stopped = importer.try_run(&app, &file, "roster.csv", false).await;
    assert!(
        matches!(stopped, Err(ServiceError::StorageFull)),
        "{:?}",
        stopped.map(|r| r.totals())
    );

    limit_sqlite_growth(&app.store, None).await.unwrap();
    let done = importer.run(&app, &file, "roster.csv", false).await;
    let t = done.totals();
    assert_eq!(
        t.bad,
        0,
        "{:?}",
        done.problems().take(3).collect::<Vec<_>>()
    );
    assert_eq!(t.households[0], HOUSEHOLDS as u64, "all new: {t:?}");
    let again = importer.run(&app, &file, "roster.csv", false).await;
    assert!(again.lines().all(|l| l.outcome == Outcome::Unchanged));
    assert_eq!(again.lines().count(), HOUSEHOLDS * 2);
}

/// What writes the old Excel format for the XLS test: Python's `xlwt`, as the office's Excel
/// 2003 wrote it (a merged title row, numbers as numbers). Rust has no XLS writer.
const XLS_WRITER: &str = r#"
import json, sys, xlwt
rows = json.load(sys.stdin)
book = xlwt.Workbook(encoding="utf-8")
sheet = book.add_sheet("花名册")
sheet.write_merge(0, 0, 0, len(rows[0]) - 1, "兴庆区防返贫监测对象花名册")
for r, row in enumerate(rows, start=1):
    for c, value in enumerate(row):
        sheet.write(r, c, value)
book.save(sys.argv[1])
"#;

/// An office's `.xls` (Excel 97–2003) is read as its `.xlsx` is: the title row skipped,
/// numbers from number cells, then imported and imported again without a change. Needs a
/// Python with `xlwt` named by `FIELDSYNC_TEST_XLWT_PYTHON` (CI installs one); skipped,
/// saying so, without it.
#[tokio::test]
async fn an_xls_file_from_old_excel_is_imported_like_any_other() {
    let Some(python) = std::env::var_os("FIELDSYNC_TEST_XLWT_PYTHON") else {
        eprintln!(
            "skipped: FIELDSYNC_TEST_XLWT_PYTHON names no Python with xlwt to write the .xls"
        );
        return;
    };
    let head = id_card("19650312", "013");
    let spouse = id_card("19680704", "024");
    let cells = |line: String| -> Vec<Value> {
        line.split(',')
            .map(|c| match c.parse::<f64>() {
                // Sizes and incomes as the number cells Excel keeps them in; numbers that are
                // identifiers (户编号, ID cards, phones) stay text, as offices format them.
                Ok(n) if c.len() < 8 => json!(n),
                _ => json!(c),
            })
            .collect()
    };
    let rows: Vec<Vec<Value>> = vec![
        cells(HEADER.to_owned()),
        cells(row(
            "640104001002000001",
            "64010400100200000101",
            "崇安社区",
            "马德福",
            &head,
            "户主",
            2,
            "13912345678",
        )),
        cells(row(
            "640104001002000001",
            "64010400100200000102",
            "崇安社区",
            "李秀兰",
            &spouse,
            "配偶",
            2,
            "13912345678",
        )),
    ];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("花名册.xls");
    let mut writer = std::process::Command::new(python)
        .arg("-c")
        .arg(XLS_WRITER)
        .arg(&path)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("python starts");
    {
        use std::io::Write as _;
        let mut stdin = writer.stdin.take().expect("stdin");
        stdin
            .write_all(serde_json::to_string(&rows).unwrap().as_bytes())
            .unwrap();
    }
    assert!(writer.wait().unwrap().success(), "xlwt wrote the file");
    let file = std::fs::read(&path).unwrap();
    assert_eq!(&file[..4], &[0xD0, 0xCF, 0x11, 0xE0], "an OLE2 (.xls) file");

    let app = spawn_app().await;
    let importer = Importer::new(&app, &[VILLAGE_A]).await;
    let done = importer.run(&app, &file, "花名册.xls", false).await;
    let t = done.totals();
    assert_eq!(
        (t.households[0], t.people[0], t.bad),
        (1, 2, 0),
        "{:?}",
        done.lines().collect::<Vec<_>>()
    );
    assert_eq!(
        at(&done, 3, "household").0,
        Outcome::New,
        "the title row is line 1"
    );
    let grid = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let households = pulled(&grid, "household").await;
    let h = field(&households, "household_no", "640104001002000001");
    assert_eq!(h["head_name"], "马德福");
    assert_eq!(h["head_id_card"], head.as_str());
    assert_eq!(h["household_size"], 2);
    assert_eq!(h["per_capita_income"], 5200.5);
    assert_eq!(h["phone"], "13912345678");
    let members = pulled(&grid, "member").await;
    assert_eq!(
        field(&members, "person_no", "64010400100200000102")["id_card"],
        spouse.as_str()
    );

    let again = importer.run(&app, &file, "花名册.xls", false).await;
    assert!(
        again.lines().all(|l| l.outcome == Outcome::Unchanged),
        "{:?}",
        again.lines().collect::<Vec<_>>()
    );
}
