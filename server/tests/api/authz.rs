//! The authorization matrix: every endpoint × every role × a record inside and outside the
//! caller's villages, against an expectation written out here independently of the server's
//! permission table. Outside the caller's villages nothing is allowed, and a conflict there
//! answers 404 as if it did not exist.

use fieldsync_protocol::push::Status;
use fieldsync_protocol::{ErrorCode, Role};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::*;

/// A village of another township: outside every user below except the owner.
const FAR: &str = "640104002001";

/// What a role may do, as the product promises it.
struct Expect {
    role: Role,
    create_household: bool,
    update_household: bool,
    delete_household: bool,
    create_member: bool,
    delete_member: bool,
    read: bool,
    review: bool,
    audit: bool,
}

const fn e(role: Role, flags: [bool; 8]) -> Expect {
    let [
        create_household,
        update_household,
        delete_household,
        create_member,
        delete_member,
        read,
        review,
        audit,
    ] = flags;
    Expect {
        role,
        create_household,
        update_household,
        delete_household,
        create_member,
        delete_member,
        read,
        review,
        audit,
    }
}

const T: bool = true;
const F: bool = false;

#[rustfmt::skip]
const MATRIX: [Expect; 8] = [
    //                                hh+ hh~ hh- m+  m-  read review audit
    e(Role::Admin,              [T,  T,  T,  T,  T,  T,  T,  T]),
    e(Role::CountyOfficer,      [T,  T,  T,  T,  T,  T,  T,  F]),
    e(Role::TownshipSupervisor, [T,  T,  F,  T,  F,  T,  T,  F]),
    e(Role::FirstSecretary,     [T,  T,  T,  T,  T,  T,  T,  F]),
    e(Role::TeamMember,         [T,  T,  F,  T,  T,  T,  F,  F]),
    e(Role::GridWorker,         [T,  T,  F,  T,  T,  T,  F,  F]),
    e(Role::HotlineOperator,    [F,  F,  F,  F,  F,  F,  F,  F]),
    e(Role::Farmer,             [F,  F,  F,  F,  F,  F,  F,  F]),
];

/// Records made by an owner who works in both villages.
struct Fixture {
    household: Uuid,
    far_household: Uuid,
    member_to_delete: Uuid,
    household_to_delete: Uuid,
    conflict: Uuid,
    far_conflict: Uuid,
}

async fn fixture(app: &TestApp, owner: &mut Phone, other: &mut Phone) -> Fixture {
    let (h, f, m, d) = (
        owner.dev.new_id(),
        owner.dev.new_id(),
        owner.dev.new_id(),
        owner.dev.new_id(),
    );
    owner
        .api
        .push(vec![
            owner.dev.create("household", h, household(VILLAGE_A, "甲")),
            owner.dev.create("household", f, household(FAR, "乙")),
            owner.dev.create(
                "member",
                m,
                json!({"household_id": h.to_string(), "name": "丙"}),
            ),
            owner.dev.create("household", d, household(VILLAGE_A, "丁")),
        ])
        .await
        .unwrap();
    let conflict = conflict_on(owner, other, h).await;
    let far_conflict = conflict_on(owner, other, f).await;
    let _ = app;
    Fixture {
        household: h,
        far_household: f,
        member_to_delete: m,
        household_to_delete: d,
        conflict,
        far_conflict,
    }
}

/// Two devices set different phones on a household; returns the conflict id.
async fn conflict_on(a: &mut Phone, b: &mut Phone, id: Uuid) -> Uuid {
    let (cur, _, _) = a.api.pull_all(None, None).await.unwrap();
    let version = latest(&cur)[&id].version;
    a.api
        .push(vec![a.dev.update(
            "household",
            id,
            version,
            json!({"phone": "13911111111"}),
        )])
        .await
        .unwrap();
    let r = b
        .api
        .push(vec![b.dev.update(
            "household",
            id,
            version,
            json!({"phone": "13922222222"}),
        )])
        .await
        .unwrap()
        .results
        .remove(0);
    r.conflicts[0].conflict_id
}

fn outcome(r: &fieldsync_protocol::push::MutationResult) -> Result<(), ErrorCode> {
    match (&r.status, &r.error) {
        (Status::Rejected, Some(e)) => Err(e.code),
        _ => Ok(()),
    }
}

#[tokio::test]
async fn every_role_on_every_endpoint_in_and_out_of_scope() {
    let app = spawn_app().await;
    let mut owner = app.phone(Role::FirstSecretary, &[VILLAGE_A, FAR]).await;
    let mut other = app.phone(Role::FirstSecretary, &[VILLAGE_A, FAR]).await;
    for expect in MATRIX {
        let role = expect.role;
        let fx = fixture(&app, &mut owner, &mut other).await;
        let division = if matches!(
            role,
            Role::Admin | Role::CountyOfficer | Role::TownshipSupervisor
        ) {
            TOWNSHIP
        } else {
            VILLAGE_A
        };
        let mut p = app.phone(role, &[division]).await;
        let denied_role = |allowed: bool| {
            if allowed {
                Ok(())
            } else {
                Err(ErrorCode::ForbiddenRole)
            }
        };
        let out_of_scope = |allowed: bool| {
            Err(if allowed {
                ErrorCode::ForbiddenScope
            } else {
                ErrorCode::ForbiddenRole
            })
        };

        let res = p
            .api
            .push(vec![
                p.dev
                    .create("household", p.dev.new_id(), household(VILLAGE_A, "新")),
                p.dev
                    .create("household", p.dev.new_id(), household(FAR, "新")),
                p.dev
                    .update("household", fx.household, 1, json!({"grid": "二组"})),
                p.dev
                    .update("household", fx.far_household, 1, json!({"grid": "二组"})),
                p.dev.create(
                    "member",
                    p.dev.new_id(),
                    json!({"household_id": fx.household.to_string(), "name": "新"}),
                ),
                p.dev.create(
                    "member",
                    p.dev.new_id(),
                    json!({"household_id": fx.far_household.to_string(), "name": "新"}),
                ),
                p.dev.delete("member", fx.member_to_delete, 1),
                p.dev.delete("household", fx.household_to_delete, 1),
            ])
            .await
            .unwrap();
        let got: Vec<_> = res.results.iter().map(outcome).collect();
        let want = vec![
            denied_role(expect.create_household),
            out_of_scope(expect.create_household),
            denied_role(expect.update_household),
            out_of_scope(expect.update_household),
            denied_role(expect.create_member),
            out_of_scope(expect.create_member),
            denied_role(expect.delete_member),
            denied_role(expect.delete_household),
        ];
        assert_eq!(got, want, "{role}: push");

        let (changes, _, _) = p.api.pull_all(None, None).await.unwrap();
        let seen: Vec<Uuid> = changes.iter().map(|c| c.id).collect();
        assert_eq!(
            seen.contains(&fx.household),
            expect.read,
            "{role}: pull sees the household of its village"
        );
        assert!(
            !seen.contains(&fx.far_household),
            "{role}: pull never sees another village"
        );

        let listed = p.api.get_json::<Value>("/v1/conflicts").await;
        if expect.review {
            let ids: Vec<Value> = listed.unwrap()["conflicts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].clone())
                .collect();
            assert!(
                ids.contains(&json!(fx.conflict)),
                "{role}: lists the conflict of its village"
            );
            assert!(
                !ids.contains(&json!(fx.far_conflict)),
                "{role}: never lists another village's conflict"
            );
        } else {
            assert_eq!(
                listed.unwrap_err().code(),
                Some(ErrorCode::ForbiddenRole),
                "{role}: list conflicts"
            );
        }
        let far = p
            .api
            .post_json::<_, Value>(
                &format!("/v1/conflicts/{}/resolve", fx.far_conflict),
                &json!({"choice": "kept"}),
            )
            .await;
        assert_eq!(
            far.unwrap_err().code(),
            Some(ErrorCode::NotFound),
            "{role}: a conflict elsewhere does not exist for it"
        );
        let here = p
            .api
            .post_json::<_, Value>(
                &format!("/v1/conflicts/{}/resolve", fx.conflict),
                &json!({"choice": "kept"}),
            )
            .await;
        match (expect.review, here) {
            (true, Ok(_)) => {}
            (false, Err(e)) => {
                assert_eq!(e.code(), Some(ErrorCode::ForbiddenRole), "{role}: resolve")
            }
            (want, got) => panic!("{role}: resolve expected allowed={want}, got {got:?}"),
        }

        let audit = p.api.get_json::<Value>("/v1/audit").await;
        assert_eq!(audit.is_ok(), expect.audit, "{role}: audit");
        if !expect.audit {
            assert_eq!(audit.unwrap_err().code(), Some(ErrorCode::ForbiddenRole));
        }
    }
}
