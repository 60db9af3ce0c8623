//! `admin seed-region`: fills a PostgreSQL database with a region's worth of synthetic records
//! (households, members, the four checks) spread over every village, to measure how push and
//! pull cost grows with the data (`ops/load/`). Never for a production database: it refuses
//! one that already holds records, unless told to add to them.
//!
//! The records are what phones would have pushed: valid fields, merge metadata, sequence
//! numbers after the sync head. Personal data is left out (names are synthetic; no ID-card
//! numbers, which would need sealing and the keyed index).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::{Context, bail};
use fieldsync_protocol::Hlc;
use fieldsync_protocol::merge::FieldMeta;
use fieldsync_protocol::registry::CHECK_NAMES as CHECKS;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::progress::Progress;
use crate::clock;
use crate::store::{Kind, StampsOf, Store};

/// Households written per `COPY` (each with its members and checks).
const CHUNK: usize = 2_000;

/// What `admin seed-region` writes.
#[derive(clap::Args)]
pub(super) struct Plan {
    #[arg(long, default_value_t = 1_000_000)]
    households: usize,
    /// Members per household.
    #[arg(long, default_value_t = 4)]
    members: usize,
    /// Checks per household, spread over the four kinds.
    #[arg(long, default_value_t = 20)]
    checks: usize,
    /// Leave this village empty (repeat for more).
    #[arg(long = "skip-village", value_name = "CODE")]
    skip: Vec<String>,
    /// Add to a database that already holds records.
    #[arg(long)]
    add: bool,
}

pub(super) async fn seed(store: &Store, plan: Plan) -> anyhow::Result<()> {
    if store.kind() != Kind::Postgres {
        bail!("seed-region needs PostgreSQL (FIELDSYNC_DATABASE_URL=postgres://…)");
    }
    let existing = store.sync_stats().await?.records;
    if existing > 0 && !plan.add {
        bail!(
            "the database already holds {existing} records; seed only an empty measurement database (or pass --add)"
        );
    }
    let villages: Vec<String> = store
        .villages_under("64")
        .await?
        .into_iter()
        .filter(|v| !plan.skip.contains(v))
        .collect();
    if villages.is_empty() {
        bail!("no villages to seed");
    }
    let now = clock::now_ms();
    let node = Uuid::nil();
    let total = plan.households;
    let per_household = 1 + plan.members + plan.checks;
    let mut progress = Progress::new("households", total);
    let mut done = 0;
    let mut rows = 0u64;
    while done < total {
        let households = CHUNK.min(total - done);
        let first = done;
        rows += store
            .seed_chunk(
                i64::try_from(households * per_household).unwrap_or(i64::MAX),
                |base| {
                    let mut seq = base;
                    let mut csv = String::with_capacity(households * per_household * 400);
                    for n in first..first + households {
                        let village = &villages[n % villages.len()];
                        household(&mut csv, &mut seq, village, n, &plan, now, node);
                    }
                    csv.into_bytes()
                },
            )
            .await
            .context("copying a chunk of records")?;
        done += households;
        progress.update(done);
    }
    progress.finish();
    println!(
        "seeded {rows} records: {total} households in {} villages, {} members and {} checks each",
        villages.len(),
        plan.members,
        plan.checks
    );
    Ok(())
}

/// One household with its members and checks, as CSV rows.
fn household(
    csv: &mut String,
    seq: &mut i64,
    village: &str,
    n: usize,
    plan: &Plan,
    now: i64,
    node: Uuid,
) {
    let id = Uuid::now_v7();
    let mut fields = Map::new();
    fields.insert("village_code".into(), json!(village));
    fields.insert("head_name".into(), json!(format!("户主{n}")));
    fields.insert("grid".into(), json!(format!("网格{}", n % 7 + 1)));
    fields.insert("poverty_status".into(), json!("out_of_poverty"));
    fields.insert("household_size".into(), json!(plan.members.max(1)));
    row(
        csv,
        seq,
        id,
        "household",
        village,
        fields,
        now,
        node,
        Some(id),
    );
    let mut members = Vec::with_capacity(plan.members);
    for m in 0..plan.members {
        let member = Uuid::now_v7();
        members.push(member);
        let mut fields = Map::new();
        fields.insert("household_id".into(), json!(id));
        fields.insert("name".into(), json!(format!("成员{n}-{m}")));
        fields.insert(
            "relation".into(),
            json!(if m == 0 { "head" } else { "child" }),
        );
        fields.insert(
            "gender".into(),
            json!(if m % 2 == 0 { "male" } else { "female" }),
        );
        row(
            csv,
            seq,
            member,
            "member",
            village,
            fields,
            now,
            node,
            Some(id),
        );
    }
    for c in 0..plan.checks {
        let entity = CHECKS[c % CHECKS.len()];
        // A check a month, going back from now.
        let captured = time::OffsetDateTime::from_unix_timestamp(
            now / 1000 - i64::try_from(c / CHECKS.len()).unwrap_or(0) * 30 * 86_400,
        )
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default();
        let mut fields = Map::new();
        fields.insert("household_id".into(), json!(id));
        fields.insert("captured_at".into(), json!(captured));
        fields.insert("passing".into(), json!(true));
        fields.insert("failures".into(), json!([]));
        let member = members.get(c % members.len().max(1)).copied();
        match entity {
            "housing_check" => {
                fields.insert("appraisal_grade".into(), json!("A"));
            }
            "water_check" => {
                fields.insert("source".into(), json!("centralised_tap"));
                for k in [
                    "quantity_ok",
                    "quality_ok",
                    "convenience_ok",
                    "supply_guaranteed",
                ] {
                    fields.insert(k.into(), json!(true));
                }
            }
            "education_check" => {
                fields.insert("member_id".into(), json!(member));
                fields.insert("status".into(), json!("enrolled"));
            }
            "health_check" => {
                fields.insert("member_id".into(), json!(member));
                fields.insert("insured".into(), json!(true));
                fields.insert("family_doctor_signed".into(), json!(true));
            }
            // A check added to the registry later is seeded with the common fields alone.
            _ => {}
        }
        row(
            csv,
            seq,
            Uuid::now_v7(),
            entity,
            village,
            fields,
            now,
            node,
            Some(id),
        );
    }
}

/// One record as a CSV row in the order of `store::SEED_COLUMNS`, at version 1, every field
/// stamped by the seeding node.
#[allow(clippy::too_many_arguments)]
fn row(
    csv: &mut String,
    seq: &mut i64,
    id: Uuid,
    entity: &str,
    village: &str,
    fields: Map<String, Value>,
    now: i64,
    node: Uuid,
    household: Option<Uuid>,
) {
    *seq += 1;
    let stamp = FieldMeta {
        version: 1,
        hlc: Hlc {
            wall_ms: u64::try_from(now).unwrap_or_default(),
            counter: 0,
            node,
        },
        shared: false,
    };
    let meta: BTreeMap<String, FieldMeta> = fields.keys().map(|k| (k.clone(), stamp)).collect();
    let quoted = |v: &str| format!("\"{}\"", v.replace('"', "\"\""));
    let _ = writeln!(
        csv,
        "{id},{entity},{village},1,{seq},false,{},{},{now},{now},{node},{node},{}",
        quoted(&Value::Object(fields).to_string()),
        quoted(&serde_json::to_string(&StampsOf(&meta)).expect("stamps always serialise")),
        household.map(|h| h.to_string()).unwrap_or_default(),
        seq = *seq,
    );
}
