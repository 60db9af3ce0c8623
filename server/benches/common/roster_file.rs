//! A county's roster as the national system exports it, for the benchmarks that load one: one
//! row per person, four to a household, each with a valid ID-card number, a phone per household,
//! names as the villages have them, and the import run as `admin import-roster` runs it.

// Only some benchmarks sign in to the console or load a roster.
#![allow(dead_code)]

use std::fmt::Write as _;

use fieldsync_protocol::Role;
use fieldsync_protocol::registry::idcard;
use fieldsync_server::store::{NewUser, Store};
use fieldsync_server::sync::Actor;
use fieldsync_server::{auth::password, clock};
use uuid::Uuid;

pub const PEOPLE: usize = 4;

/// How many households: `FIELDSYNC_BENCH_HOUSEHOLDS` for a quick look, else 100,000.
pub fn households() -> usize {
    super::setting("FIELDSYNC_BENCH_HOUSEHOLDS", 100_000)
}

/// A valid ID-card number for person `n` of the county.
pub fn id_card(county: &str, n: usize) -> String {
    let birth = time::Date::from_calendar_date(1940, time::Month::January, 1)
        .expect("date")
        .saturating_add(time::Duration::days((n / 1000) as i64));
    let first17 = format!(
        "{county}{:04}{:02}{:02}{:03}",
        birth.year(),
        u8::from(birth.month()),
        birth.day(),
        n % 1000
    );
    idcard::with_check(&first17).expect("17 digits")
}

/// The name of person `n`: the surnames of Ningxia's villages (马 most of all), two given
/// characters, so that a county has namesakes, as real ones do.
pub fn name(n: usize) -> String {
    const SURNAMES: [&str; 24] = [
        "马", "马", "马", "李", "王", "张", "杨", "田", "海", "丁", "金", "苏", "刘", "白", "何",
        "周", "罗", "穆", "冶", "虎", "韩", "赵", "马", "李",
    ];
    const GIVEN: [char; 40] = [
        '德', '福', '明', '华', '建', '国', '文', '学', '生', '兰', '梅', '花', '英', '秀', '玉',
        '海', '军', '平', '成', '志', '俊', '红', '霞', '云', '林', '强', '勇', '忠', '义', '贵',
        '才', '金', '银', '小', '春', '秋', '东', '宝', '珍', '娟',
    ];
    // A fixed scramble of `n`, so neighbours do not share names.
    let h = n.wrapping_mul(2_654_435_761) % 1_000_003;
    format!(
        "{}{}{}",
        SURNAMES[h % SURNAMES.len()],
        GIVEN[(h / 24) % GIVEN.len()],
        GIVEN[(h / 960) % GIVEN.len()]
    )
}

/// The file: the national system's columns, one row per person.
pub fn roster(county: &str, villages: &[String], households: usize) -> Vec<u8> {
    let mut csv = String::with_capacity(households * PEOPLE * 200);
    csv.push_str("户编号,人编号,行政区划代码,姓名,证件号码,与户主关系,性别,家庭人口数,人均纯收入（元）,联系电话,监测对象类别,在校生状况,健康状况,劳动技能\n");
    let relations = ["户主", "配偶", "之子", "之女"];
    let types = ["边缘易致贫户", "脱贫不稳定户", "突发严重困难户", "无"];
    for h in 0..households {
        let village = &villages[h % villages.len()];
        let no = format!("{village}{h:06}");
        for (p, relation) in relations.iter().enumerate().take(PEOPLE) {
            let n = h * PEOPLE + p;
            let _ = writeln!(
                csv,
                "{no},{no}{p:02},{village},{},{},{},{},{PEOPLE},{}.5,139{:08},{},{},{},{}",
                name(n),
                id_card(county, n),
                relation,
                if p == 1 || p == 3 { "女" } else { "男" },
                4000 + h % 5000,
                h,
                types[h % types.len()],
                if p >= 2 { "小学" } else { "非在校生" },
                if n.is_multiple_of(7) {
                    "长期慢性病"
                } else {
                    "健康"
                },
                if p >= 2 {
                    "无劳动力"
                } else {
                    "普通劳动力"
                },
            );
        }
    }
    csv.into_bytes()
}

pub async fn importer(store: &Store, villages: &[String]) -> Actor {
    let now = clock::now_ms();
    let user = NewUser {
        id: Uuid::now_v7(),
        username: "bench-import".into(),
        password_hash: password::hash("bench-password-1").expect("hash"),
        role: Role::Admin,
        display_name: None,
    };
    store
        .create_user(&user, &[], &clock::iso(clock::today()), now)
        .await
        .expect("user");
    Actor {
        user_id: user.id,
        device_id: store.import_device(user.id, now).await.expect("device"),
        role: Role::Admin,
        villages: villages.iter().cloned().collect(),
    }
}
