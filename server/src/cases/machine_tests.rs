use super::*;
use time::macros::date;

const LINE_2021: f64 = 6000.0;
const TODAY: Date = date!(2026 - 11 - 28);

/// Evidence that satisfies every step.
fn full() -> Evidence {
    Evidence {
        verified_visit: true,
        note: Some("村民代表12人参加，一致同意纳入".into()),
        publicity_days: Some(7),
        case_type: Some("sudden_severe_difficulty".into()),
        reason: Some("criteria_not_met".into()),
        measures: vec!["medical_assistance".into()],
        income_per_person: Some(8000.0),
        checks_pass: true,
        no_labour_capacity: false,
    }
}

fn case(state: CaseState) -> Case {
    Case {
        state,
        publicity_until: Some(date!(2026 - 11 - 20)),
    }
}

const ROLES: [Role; 8] = [
    Role::Admin,
    Role::CountyOfficer,
    Role::TownshipSupervisor,
    Role::FirstSecretary,
    Role::TeamMember,
    Role::GridWorker,
    Role::HotlineOperator,
    Role::Farmer,
];

/// The procedure, written out independently of `allowed` and `roles_for`.
fn expected(from: CaseState, to: CaseState, role: Role) -> bool {
    use CaseState::*;
    use Role::*;
    let step = matches!(
        (from, to),
        (Reported, Verified)
            | (Verified, Reviewed)
            | (Reviewed, Publicized)
            | (Publicized, TownshipReviewed)
            | (TownshipReviewed, Approved)
            | (Approved, Helping)
            | (Helping, Helping)
            | (Helping, Eliminated)
            | (Reported, NotAdmitted)
            | (Verified, NotAdmitted)
            | (Reviewed, NotAdmitted)
            | (TownshipReviewed, NotAdmitted)
    );
    let who = match to {
        Verified => matches!(role, FirstSecretary | TeamMember | GridWorker),
        Reviewed | Publicized => role == FirstSecretary,
        TownshipReviewed => role == TownshipSupervisor,
        Approved | Eliminated => role == CountyOfficer,
        NotAdmitted => matches!(role, FirstSecretary | TownshipSupervisor | CountyOfficer),
        Helping => matches!(role, FirstSecretary | TeamMember),
        Reported => false,
    };
    step && who
}

#[test]
fn every_step_and_role_is_allowed_or_refused_as_the_procedure_says() {
    let mut allowed_count = 0;
    for from in ALL_STATES {
        for to in ALL_STATES {
            for role in ROLES {
                let got = step(&case(from), from, to, role, &full(), LINE_2021, TODAY);
                assert_eq!(
                    got.is_ok(),
                    expected(from, to, role),
                    "{from:?} → {to:?} by {role:?}: {got:?}"
                );
                if got.is_ok() {
                    allowed_count += 1;
                } else if !allowed(from, to) {
                    assert!(matches!(got, Err(Refusal::NotAStep { .. })), "{got:?}");
                } else {
                    assert!(matches!(got, Err(Refusal::Role { .. })), "{got:?}");
                }
            }
        }
    }
    // 8 steps with 1 to 3 roles each (12 role-steps), and not admitting from 4 states by 3 roles.
    assert_eq!(allowed_count, 24);
}

#[test]
fn ended_states_go_nowhere() {
    for end in [CaseState::Eliminated, CaseState::NotAdmitted] {
        for to in ALL_STATES {
            for role in ROLES {
                assert!(step(&case(end), end, to, role, &full(), LINE_2021, TODAY).is_err());
            }
        }
    }
}

#[test]
fn each_step_needs_its_evidence() {
    use CaseState::*;
    let refuse = |from: CaseState, to: CaseState, role: Role, e: Evidence| match step(
        &case(from),
        from,
        to,
        role,
        &e,
        LINE_2021,
        TODAY,
    ) {
        Err(Refusal::Evidence(m)) => m,
        other => panic!("{from:?} → {to:?}: {other:?}"),
    };
    let m = refuse(
        Reported,
        Verified,
        Role::GridWorker,
        Evidence {
            verified_visit: false,
            ..full()
        },
    );
    assert!(m.contains("GPS"), "{m}");
    refuse(
        Verified,
        Reviewed,
        Role::FirstSecretary,
        Evidence {
            note: Some("  ".into()),
            ..full()
        },
    );
    refuse(
        Reviewed,
        Publicized,
        Role::FirstSecretary,
        Evidence {
            publicity_days: Some(4),
            ..full()
        },
    );
    refuse(
        TownshipReviewed,
        Approved,
        Role::CountyOfficer,
        Evidence {
            case_type: Some("poor".into()),
            ..full()
        },
    );
    refuse(
        Verified,
        NotAdmitted,
        Role::FirstSecretary,
        Evidence {
            reason: None,
            ..full()
        },
    );
    refuse(
        Approved,
        Helping,
        Role::TeamMember,
        Evidence {
            measures: vec![],
            ..full()
        },
    );
    refuse(
        Helping,
        Eliminated,
        Role::CountyOfficer,
        Evidence {
            checks_pass: false,
            ..full()
        },
    );
}

#[test]
fn publicity_runs_its_days_before_the_township_reviews() {
    let reviewed = case(CaseState::Reviewed);
    let out = step(
        &reviewed,
        CaseState::Reviewed,
        CaseState::Publicized,
        Role::FirstSecretary,
        &full(),
        LINE_2021,
        TODAY,
    )
    .unwrap();
    assert_eq!(
        out.publicity_until,
        Some(date!(2026 - 12 - 04)),
        "7 days from the 28th, the 28th included"
    );
    let publicized = Case {
        state: CaseState::Publicized,
        publicity_until: out.publicity_until,
    };
    let review = |day| {
        step(
            &publicized,
            CaseState::Publicized,
            CaseState::TownshipReviewed,
            Role::TownshipSupervisor,
            &full(),
            LINE_2021,
            day,
        )
    };
    assert!(
        matches!(review(date!(2026 - 12 - 04)), Err(Refusal::Evidence(_))),
        "still running on its last day"
    );
    assert!(review(date!(2026 - 12 - 05)).is_ok());
}

#[test]
fn elimination_needs_income_above_the_line_times_one_point_one() {
    let helping = case(CaseState::Helping);
    let eliminate = |income: f64, line: f64| {
        let e = Evidence {
            income_per_person: Some(income),
            ..full()
        };
        step(
            &helping,
            CaseState::Helping,
            CaseState::Eliminated,
            Role::CountyOfficer,
            &e,
            line,
            TODAY,
        )
    };
    let at_boundary = eliminate(6600.0, LINE_2021).unwrap_err();
    assert!(at_boundary.to_string().contains("6600.00"), "{at_boundary}");
    assert!(eliminate(6600.01, LINE_2021).is_ok());
    // Another year's line.
    assert!(eliminate(6600.01, 6200.0).is_err());
    assert!(eliminate(6820.01, 6200.0).is_ok());
}

#[test]
fn a_household_without_labour_capacity_stays_tracked() {
    let e = Evidence {
        no_labour_capacity: true,
        income_per_person: Some(20_000.0),
        ..full()
    };
    let got = step(
        &case(CaseState::Helping),
        CaseState::Helping,
        CaseState::Eliminated,
        Role::CountyOfficer,
        &e,
        LINE_2021,
        TODAY,
    );
    assert!(
        matches!(got, Err(Refusal::Evidence(ref m)) if m.contains("labour")),
        "{got:?}"
    );
}

#[test]
fn the_second_of_two_offline_phones_meets_the_moved_case() {
    // Both phones saw `reported`; the first verification lands, the second meets `verified`.
    let c = case(CaseState::Reported);
    let first = step(
        &c,
        CaseState::Reported,
        CaseState::Verified,
        Role::GridWorker,
        &full(),
        LINE_2021,
        TODAY,
    )
    .unwrap();
    let moved = Case {
        state: first.to,
        publicity_until: None,
    };
    let second = step(
        &moved,
        CaseState::Reported,
        CaseState::NotAdmitted,
        Role::FirstSecretary,
        &full(),
        LINE_2021,
        TODAY,
    );
    assert_eq!(
        second,
        Err(Refusal::Moved {
            expected: "reported",
            met: "verified"
        })
    );
}

#[test]
fn states_read_back_from_their_names() {
    for s in ALL_STATES {
        assert_eq!(CaseState::parse(s.as_str()), Some(s));
    }
    assert_eq!(CaseState::parse("closed"), None);
}

#[test]
fn the_states_are_the_ones_phones_know() {
    let names: Vec<&str> = ALL_STATES.iter().map(|s| s.as_str()).collect();
    assert_eq!(names, fieldsync_protocol::registry::work::CASE_STATES);
}

#[test]
fn next_steps_are_the_procedures_for_the_role() {
    use CaseState::*;
    assert_eq!(
        next_steps(Reported, Role::FirstSecretary),
        vec![Verified, NotAdmitted]
    );
    assert_eq!(
        next_steps(Publicized, Role::TownshipSupervisor),
        vec![TownshipReviewed]
    );
    assert_eq!(next_steps(Publicized, Role::FirstSecretary), vec![]);
    assert_eq!(
        next_steps(TownshipReviewed, Role::CountyOfficer),
        vec![Approved, NotAdmitted]
    );
    assert_eq!(next_steps(Helping, Role::CountyOfficer), vec![Eliminated]);
    assert!(next_steps(Eliminated, Role::CountyOfficer).is_empty());
}
