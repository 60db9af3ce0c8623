//! Scenario tests and property tests of the merge.

use proptest::prelude::*;
use serde_json::json;
use uuid::Uuid;

use super::*;
use crate::registry::{FieldDef, FieldType, HOUSEHOLD, ScopeRule};

fn device(n: u8) -> Uuid {
    Uuid::from_bytes([n; 16])
}

fn hlc(wall_ms: u64, dev: u8) -> Hlc {
    Hlc {
        wall_ms,
        counter: 0,
        node: device(dev),
    }
}

fn mutation(op: Op, base: Option<u64>, fields: Value, stamp: Hlc) -> Mutation {
    Mutation {
        mutation_id: Uuid::now_v7(),
        entity: "household".into(),
        id: device(99),
        op,
        base_version: base,
        fields: fields.as_object().cloned().unwrap_or_default(),
        hlc: stamp,
        gps: None,
    }
}

fn created() -> RecordState {
    let m = mutation(
        Op::Create,
        None,
        json!({"village_code": "640104001002", "head_name": "马德福", "phone": "13900000000", "address": "1 组"}),
        hlc(100, 9),
    );
    apply(&HOUSEHOLD, None, &m).unwrap().state
}

#[test]
fn create_sets_version_one_and_skips_nulls() {
    let m = mutation(
        Op::Create,
        None,
        json!({"village_code": "640104001002", "head_name": "马", "phone": null}),
        hlc(1, 1),
    );
    let out = apply(&HOUSEHOLD, None, &m).unwrap();
    assert_eq!(out.status, Status::Applied);
    assert_eq!(out.state.version, 1);
    assert!(!out.state.fields.contains_key("phone"));
}

/// The scenario of the issue: one phone changes the phone number, the other the phone number
/// and the address, both offline on version 1.
#[test]
fn same_field_conflicts_other_fields_merge() {
    let v1 = created();
    let a = mutation(
        Op::Update,
        Some(1),
        json!({"phone": "13911111111"}),
        hlc(200, 1),
    );
    let b = mutation(
        Op::Update,
        Some(1),
        json!({"phone": "13922222222", "address": "2 组"}),
        hlc(300, 2),
    );
    let after_a = apply(&HOUSEHOLD, Some(&v1), &a).unwrap();
    assert_eq!(after_a.status, Status::Applied);
    let after_b = apply(&HOUSEHOLD, Some(&after_a.state), &b).unwrap();
    assert_eq!(after_b.status, Status::Conflict);
    assert_eq!(after_b.state.version, 3);
    assert_eq!(
        after_b.state.fields["phone"], "13922222222",
        "later stamp wins"
    );
    assert_eq!(
        after_b.state.fields["address"], "2 组",
        "address merges cleanly"
    );
    assert_eq!(after_b.conflicts.len(), 1);
    let c = &after_b.conflicts[0];
    assert_eq!(
        (c.field.as_str(), &c.yours, &c.theirs, &c.kept),
        (
            "phone",
            &json!("13922222222"),
            &json!("13911111111"),
            &json!("13922222222")
        )
    );

    // The other order reaches the same record and the same pair of phone numbers.
    let after_b = apply(&HOUSEHOLD, Some(&v1), &b).unwrap();
    let after_a = apply(&HOUSEHOLD, Some(&after_b.state), &a).unwrap();
    assert_eq!(after_a.status, Status::Conflict);
    assert_eq!(after_a.state.visible_fields(), {
        let mut f = v1.fields.clone();
        f.insert("phone".into(), json!("13922222222"));
        f.insert("address".into(), json!("2 组"));
        f
    });
    let c = &after_a.conflicts[0];
    assert_eq!(
        (&c.yours, &c.theirs, &c.kept),
        (
            &json!("13911111111"),
            &json!("13922222222"),
            &json!("13922222222")
        )
    );
    assert!(
        !after_a.changed,
        "a losing edit leaves the record as it was"
    );
}

#[test]
fn edits_of_different_fields_report_merged() {
    let v1 = created();
    let a = apply(
        &HOUSEHOLD,
        Some(&v1),
        &mutation(
            Op::Update,
            Some(1),
            json!({"phone": "13911111111"}),
            hlc(200, 1),
        ),
    )
    .unwrap();
    let b = apply(
        &HOUSEHOLD,
        Some(&a.state),
        &mutation(Op::Update, Some(1), json!({"address": "3 组"}), hlc(150, 2)),
    )
    .unwrap();
    assert_eq!(b.status, Status::Merged);
    assert!(b.conflicts.is_empty());
    assert_eq!(b.state.fields["phone"], "13911111111");
    assert_eq!(b.state.fields["address"], "3 组");
}

#[test]
fn a_causally_later_edit_wins_whatever_its_clock_says() {
    let v1 = created();
    let a = apply(
        &HOUSEHOLD,
        Some(&v1),
        &mutation(
            Op::Update,
            Some(1),
            json!({"phone": "13911111111"}),
            hlc(500, 1),
        ),
    )
    .unwrap();
    // Device 2 saw version 2 and edits the phone with a clock far behind.
    let b = apply(
        &HOUSEHOLD,
        Some(&a.state),
        &mutation(
            Op::Update,
            Some(2),
            json!({"phone": "13933333333"}),
            hlc(10, 2),
        ),
    )
    .unwrap();
    assert_eq!(b.status, Status::Applied);
    assert_eq!(b.state.fields["phone"], "13933333333");
}

#[test]
fn a_device_does_not_conflict_with_itself() {
    let v1 = created();
    let a1 = apply(
        &HOUSEHOLD,
        Some(&v1),
        &mutation(
            Op::Update,
            Some(1),
            json!({"phone": "13911111111"}),
            hlc(200, 1),
        ),
    )
    .unwrap();
    // Second offline edit of the same device, still on base 1.
    let a2 = apply(
        &HOUSEHOLD,
        Some(&a1.state),
        &mutation(
            Op::Update,
            Some(1),
            json!({"phone": "13944444444"}),
            hlc(210, 1),
        ),
    )
    .unwrap();
    assert_eq!(a2.status, Status::Merged);
    assert!(a2.conflicts.is_empty());
    assert_eq!(a2.state.fields["phone"], "13944444444");
}

#[test]
fn refusals() {
    let v1 = created();
    let upd = |base| {
        mutation(
            Op::Update,
            base,
            json!({"phone": "13911111111"}),
            hlc(200, 1),
        )
    };
    assert_eq!(
        apply(&HOUSEHOLD, Some(&v1), &upd(None)),
        Err(Refusal::BaseVersionRequired)
    );
    assert_eq!(
        apply(&HOUSEHOLD, Some(&v1), &upd(Some(7))),
        Err(Refusal::BaseVersionFromFuture {
            base: 7,
            current: 1
        })
    );
    assert_eq!(
        apply(&HOUSEHOLD, None, &upd(Some(1))),
        Err(Refusal::NotFound)
    );
    let create = mutation(
        Op::Create,
        None,
        json!({"village_code": "640104001002", "head_name": "x"}),
        hlc(1, 1),
    );
    assert_eq!(
        apply(&HOUSEHOLD, Some(&v1), &create),
        Err(Refusal::AlreadyExists)
    );
    for r in [
        Refusal::NotFound,
        Refusal::AppendOnly,
        Refusal::BaseVersionRequired,
    ] {
        assert!(r.detail("household").field.is_some());
    }
}

#[test]
fn delete_wins_and_keeps_the_concurrent_edit() {
    let v1 = created();
    let upd = mutation(
        Op::Update,
        Some(1),
        json!({"phone": "13911111111"}),
        hlc(200, 1),
    );
    let del = mutation(Op::Delete, Some(1), json!({}), hlc(150, 2));

    let u = apply(&HOUSEHOLD, Some(&v1), &upd).unwrap();
    let d = apply(&HOUSEHOLD, Some(&u.state), &del).unwrap();
    assert!(d.state.deleted);
    assert_eq!(d.status, Status::Conflict);
    assert_eq!(d.conflicts[0].theirs, json!("13911111111"));
    assert_eq!(d.conflicts[0].kind, ConflictKind::Delete);

    let d = apply(&HOUSEHOLD, Some(&v1), &del).unwrap();
    assert_eq!(d.status, Status::Applied);
    let u = apply(&HOUSEHOLD, Some(&d.state), &upd).unwrap();
    assert!(u.state.deleted && !u.changed);
    assert_eq!(u.conflicts[0].yours, json!("13911111111"));
    assert!(u.state.visible_fields().is_empty());
}

#[test]
fn a_decision_restores_a_deleted_record() {
    let v1 = created();
    let d = apply(
        &HOUSEHOLD,
        Some(&v1),
        &mutation(Op::Delete, Some(1), json!({}), hlc(150, 2)),
    )
    .unwrap();
    assert!(
        decide(&d.state, "phone", &Value::Null, hlc(1, 3)).is_none(),
        "null keeps it deleted"
    );
    let restored = decide(&d.state, "phone", &json!("13955555555"), hlc(1, 3)).unwrap();
    assert!(!restored.deleted);
    assert_eq!(restored.version, d.state.version + 1);
    assert_eq!(restored.fields["phone"], "13955555555");
    assert!(decide(&restored, "phone", &json!("13955555555"), hlc(2, 3)).is_none());
    let s = stamp_after(Some(hlc(5_000, 1)), device(3), 10);
    assert!(s > hlc(5_000, 1) && s.node == device(3));
}

// ---------------------------------------------------------------------------------------------
// Properties: up to five devices edit the same record offline, on the same base version; the
// server receives their edits in any interleaving (each device's own edits stay in the order it
// made them, as its outbox sends them).

const STATUSES: &[&str] = &["open", "assigned", "in_progress", "done"];

static TEST_ENTITY: EntityDef = EntityDef {
    name: "household",
    scope: ScopeRule::OwnField("v"),
    append_only: false,
    needs_fix: false,
    fields: &[
        FieldDef::plain("a", FieldType::Text { max_chars: 10 }),
        FieldDef::plain("b", FieldType::Text { max_chars: 10 }),
        FieldDef::plain("s", FieldType::Enum(STATUSES)).merge(MergePolicy::Ranked(STATUSES)),
    ],
};

const BASE_VERSION: u64 = 5;

fn base_state() -> RecordState {
    let mut s = RecordState {
        version: BASE_VERSION,
        ..RecordState::default()
    };
    for (f, v) in [("a", "a0"), ("b", "b0"), ("s", "assigned")] {
        s.fields.insert(f.into(), json!(v));
        s.meta.insert(f.into(), FieldMeta::new(3, hlc(1, 0)));
    }
    s
}

#[derive(Clone, Debug)]
struct Edit {
    delete: bool,
    fields: Vec<(&'static str, Value)>,
}

fn edit_strategy() -> impl Strategy<Value = Edit> {
    let value = |f: &'static str| -> BoxedStrategy<(&'static str, Value)> {
        if f == "s" {
            proptest::sample::select(STATUSES)
                .prop_map(move |s| (f, json!(s)))
                .boxed()
        } else {
            // Few distinct values, so that equal concurrent writes happen too; null clears.
            prop_oneof![
                4 => (0u8..3).prop_map(move |n| (f, json!(format!("{f}{n}")))),
                1 => Just((f, Value::Null)),
            ]
            .boxed()
        }
    };
    (
        proptest::bool::weighted(0.08),
        proptest::option::of(value("a")),
        proptest::option::of(value("b")),
        proptest::option::of(value("s")),
    )
        .prop_filter_map("an update changes a field", |(delete, a, b, s)| {
            let fields: Vec<_> = [a, b, s].into_iter().flatten().collect();
            (delete || !fields.is_empty()).then(|| Edit {
                delete,
                fields: if delete { Vec::new() } else { fields },
            })
        })
}

/// Per device: its edits, and its clock skew in ms.
fn devices_strategy() -> impl Strategy<Value = Vec<(Vec<Edit>, u64)>> {
    proptest::collection::vec(
        (proptest::collection::vec(edit_strategy(), 1..4), 0u64..50),
        1..=5,
    )
}

fn to_mutations(devices: &[(Vec<Edit>, u64)]) -> Vec<Vec<Mutation>> {
    devices
        .iter()
        .enumerate()
        .map(|(d, (edits, skew))| {
            edits
                .iter()
                .enumerate()
                .map(|(k, e)| {
                    let stamp = hlc(1_000 + skew + 10 * k as u64, d as u8 + 1);
                    let fields = e
                        .fields
                        .iter()
                        .map(|(f, v)| (f.to_string(), v.clone()))
                        .collect::<Map<_, _>>();
                    let op = if e.delete { Op::Delete } else { Op::Update };
                    mutation(op, Some(BASE_VERSION), Value::Object(fields), stamp)
                })
                .collect()
        })
        .collect()
}

/// Interleaves the devices' queues following `choices` (each picks one of the non-empty queues).
fn interleave(queues: &[Vec<Mutation>], choices: &[usize]) -> Vec<Mutation> {
    let mut heads = vec![0usize; queues.len()];
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        let open: Vec<usize> = (0..queues.len())
            .filter(|&q| heads[q] < queues[q].len())
            .collect();
        if open.is_empty() {
            return out;
        }
        let q = open[choices.get(i).copied().unwrap_or(0) % open.len()];
        out.push(queues[q][heads[q]].clone());
        heads[q] += 1;
        i += 1;
    }
}

fn run(order: &[Mutation]) -> (RecordState, Vec<LostValue>) {
    let mut state = base_state();
    let mut lost = Vec::new();
    for m in order {
        let out =
            apply(&TEST_ENTITY, Some(&state), m).expect("updates on an existing record apply");
        assert_eq!(out.changed, out.state.version == state.version + 1);
        if out.status == Status::Applied {
            assert!(out.conflicts.is_empty());
        }
        lost.extend(out.conflicts);
        state = out.state;
    }
    (state, lost)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn any_arrival_order_reaches_the_same_state(
        devices in devices_strategy(),
        first in proptest::collection::vec(0usize..5, 0..16),
        second in proptest::collection::vec(0usize..5, 0..16),
    ) {
        let queues = to_mutations(&devices);
        let (s1, _) = run(&interleave(&queues, &first));
        let (s2, _) = run(&interleave(&queues, &second));
        prop_assert_eq!(s1.deleted, s2.deleted);
        prop_assert_eq!(s1.visible_fields(), s2.visible_fields());
    }

    #[test]
    fn every_losing_value_is_kept_in_a_conflict(
        devices in devices_strategy(),
        choices in proptest::collection::vec(0usize..5, 0..16),
    ) {
        let queues = to_mutations(&devices);
        let (state, lost) = run(&interleave(&queues, &choices));
        for queue in &queues {
            for (k, m) in queue.iter().enumerate() {
                for (field, value) in &m.fields {
                    let survived = !state.deleted && state.fields.get(field).unwrap_or(&Value::Null) == value;
                    let in_conflict = lost.iter().any(|c| &c.field == field && (&c.yours == value || &c.theirs == value));
                    // A device overwriting its own earlier value of a last-writer-wins field, or
                    // deleting the record itself, is an edit, not a loss.
                    let superseded_by_author = queue[k + 1..].iter().any(|later| {
                        later.op == Op::Delete || (field != "s" && later.fields.contains_key(field))
                    });
                    prop_assert!(
                        survived || in_conflict || superseded_by_author,
                        "value {} of field {} from {:?} vanished", value, field, m.hlc.node
                    );
                }
            }
        }
    }

    #[test]
    fn last_writer_wins_fields_end_with_the_latest_stamp(
        devices in devices_strategy(),
        choices in proptest::collection::vec(0usize..5, 0..16),
    ) {
        let queues = to_mutations(&devices);
        let (state, _) = run(&interleave(&queues, &choices));
        if state.deleted {
            return Ok(());
        }
        for field in ["a", "b"] {
            let latest = queues.iter().flatten()
                .filter_map(|m| m.fields.get(field).map(|v| (m.hlc, v)))
                .max_by_key(|(h, _)| *h);
            if let Some((_, v)) = latest {
                prop_assert_eq!(state.fields.get(field).unwrap_or(&Value::Null), v);
            }
        }
    }
}
