//! The monthly attendance of a cadre (驻村考勤): which days of a calendar month they were
//! provably in a village they are assigned to.
//!
//! A day counts as present when the server holds at least one event of the cadre that day
//! (a visit, a check, a check-in) whose GPS fix was judged without doubt, in a village the cadre
//! was assigned to on that day. Days are local (Asia/Shanghai): an event at 23:30 Beijing time
//! belongs to that day, whatever the phone's or the server's time zone. An event counts for the
//! day its fix was taken, however late the phone synced it. Doubted events are listed as
//! evidence but do not count by themselves (a team leader may accept them; later work).
//!
//! Pure: the caller loads the events and the assignment spans.

use std::collections::BTreeMap;

use serde::Serialize;
use time::{Date, Month, OffsetDateTime};
use uuid::Uuid;

use crate::clock::{self, CHINA};

pub mod load;
pub mod table;

/// Days a cadre must be present each calendar month (DOMAIN.md, l.1282).
pub const REQUIRED_DAYS: u32 = 20;

/// The roles with attendance duty (DOMAIN.md, l.1282): the cadres who live in the villages.
/// Only their sheets are read and reviewed by others, by the team leaders above them, never
/// upward; `store::attendance`'s `cadre_assignment!` selects the same roles for the tables.
pub const CADRE_ROLES: &[fieldsync_protocol::Role] = &[
    fieldsync_protocol::Role::FirstSecretary,
    fieldsync_protocol::Role::TeamMember,
];

/// One event that may prove presence.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub record_id: Uuid,
    pub entity: String,
    pub village: String,
    /// When the fix was taken.
    pub at: OffsetDateTime,
    /// The server's judgement of the fix had no doubt.
    pub fix_ok: bool,
    pub doubts: Vec<String>,
    /// The team leader accepted it despite its doubts.
    pub accepted: bool,
}

/// A dated assignment to a division (a village, or a township or county above villages).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    pub division: String,
    pub starts_on: Date,
    pub ends_on: Option<Date>,
}

impl Span {
    fn covers(&self, village: &str, day: Date) -> bool {
        self.starts_on <= day && self.ends_on.is_none_or(|end| day <= end) && {
            let (lo, hi) = crate::store::village_range(&self.division);
            lo.as_str() <= village && village <= hi.as_str()
        }
    }
}

/// A declared absence and the team leader's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Absence {
    pub request_id: Uuid,
    /// `leave`, `training` or `official_trip`.
    pub kind: String,
    pub first_day: Date,
    pub last_day: Date,
    /// `None` while the team leader has not answered.
    pub approved: Option<bool>,
}

impl Absence {
    fn counts_as_present(&self) -> bool {
        self.kind != "leave"
    }
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct AbsenceRef {
    pub request_id: Uuid,
    pub kind: String,
    /// `pending`, `approved` or `rejected`.
    pub status: &'static str,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DayState {
    /// A doubt-free event in an assigned village.
    Present,
    /// An approved training or official-trip day: counts as present.
    Exempt,
    /// Approved leave: not present, not absent either.
    Leave,
    /// Events, but each doubted or outside the cadre's villages: evidence for review only.
    Doubtful,
    /// No event.
    Absent,
    /// After today: not yet decided.
    Future,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct EventRef {
    pub record_id: Uuid,
    pub entity: String,
    pub village: String,
    /// Local time, `HH:MM`.
    pub time: String,
    pub counts: bool,
    /// Counts because the team leader accepted it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub accepted: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub doubts: Vec<String>,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Day {
    /// `YYYY-MM-DD`.
    pub date: String,
    pub state: DayState,
    pub events: Vec<EventRef>,
    /// Declared absences covering the day, whatever their answer.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub absences: Vec<AbsenceRef>,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Sheet {
    pub user_id: Uuid,
    /// `YYYY-MM`.
    pub month: String,
    pub days: Vec<Day>,
    pub present: u32,
    /// Approved training and official-trip days: they count towards the requirement.
    pub exempt: u32,
    pub leave: u32,
    pub doubtful: u32,
    pub absent: u32,
    pub required: u32,
    /// Present and exempt days reach `required`.
    pub meets_requirement: bool,
}

/// Where the review stands: the latest of approve, return and reply decides.
pub fn review_state(reviews: &[crate::store::ReviewRow]) -> &'static str {
    match reviews
        .iter()
        .rev()
        .find(|r| matches!(r.action.as_str(), "approve" | "return" | "reply"))
        .map(|r| r.action.as_str())
    {
        Some("approve") => "approved",
        Some("return") => "returned",
        Some("reply") => "answered",
        _ => "open",
    }
}

/// The first and the last day of a month.
pub fn month_bounds(year: i32, month: Month) -> Option<(Date, Date)> {
    let first = Date::from_calendar_date(year, month, 1).ok()?;
    let days = time::util::days_in_month(month, year);
    Some((first, first.replace_day(days).ok()?))
}

/// Reads `YYYY-MM`.
pub fn parse_month(text: &str) -> Option<(i32, Month)> {
    let (y, m) = text.split_once('-')?;
    if y.len() != 4 || m.len() != 2 {
        return None;
    }
    let year: i32 = y.parse().ok()?;
    let month = Month::try_from(m.parse::<u8>().ok()?).ok()?;
    Some((year, month))
}

/// The sheet of one cadre for one month, as of `today` (days after it are `future`).
pub fn sheet(
    user_id: Uuid,
    (year, month): (i32, Month),
    events: &[Event],
    absences: &[Absence],
    spans: &[Span],
    today: Date,
) -> Option<Sheet> {
    let (first, last) = month_bounds(year, month)?;
    let mut by_day: BTreeMap<Date, Vec<EventRef>> = BTreeMap::new();
    for e in events {
        let local = e.at.to_offset(CHINA);
        let day = local.date();
        if day < first || day > last {
            continue;
        }
        let assigned = spans.iter().any(|s| s.covers(&e.village, day));
        let mut doubts = e.doubts.clone();
        if !assigned {
            doubts.push("not_assigned_village".to_owned());
        }
        by_day.entry(day).or_default().push(EventRef {
            record_id: e.record_id,
            entity: e.entity.clone(),
            village: e.village.clone(),
            time: format!("{:02}:{:02}", local.hour(), local.minute()),
            counts: e.accepted || (e.fix_ok && assigned),
            accepted: e.accepted,
            doubts,
        });
    }
    let mut days = Vec::new();
    let (mut present, mut exempt, mut leave, mut doubtful, mut absent) = (0, 0, 0, 0, 0);
    let mut day = first;
    loop {
        let mut events = by_day.remove(&day).unwrap_or_default();
        events.sort_by(|a, b| a.time.cmp(&b.time));
        let covering: Vec<&Absence> = absences
            .iter()
            .filter(|a| a.first_day <= day && day <= a.last_day)
            .collect();
        let approved = |exempting: bool| {
            covering
                .iter()
                .any(|a| a.approved == Some(true) && a.counts_as_present() == exempting)
        };
        // Being there beats any declaration; an approved trip beats approved leave.
        let state = if events.iter().any(|e| e.counts) {
            present += 1;
            DayState::Present
        } else if approved(true) {
            exempt += 1;
            DayState::Exempt
        } else if approved(false) {
            leave += 1;
            DayState::Leave
        } else if !events.is_empty() {
            doubtful += 1;
            DayState::Doubtful
        } else if day > today {
            DayState::Future
        } else {
            absent += 1;
            DayState::Absent
        };
        let absences = covering
            .iter()
            .map(|a| AbsenceRef {
                request_id: a.request_id,
                kind: a.kind.clone(),
                status: match a.approved {
                    None => "pending",
                    Some(true) => "approved",
                    Some(false) => "rejected",
                },
            })
            .collect();
        days.push(Day {
            date: clock::iso(day),
            state,
            events,
            absences,
        });
        match day.next_day() {
            Some(next) if next <= last => day = next,
            _ => break,
        }
    }
    Some(Sheet {
        user_id,
        month: format!("{year:04}-{:02}", u8::from(month)),
        days,
        present,
        exempt,
        leave,
        doubtful,
        absent,
        required: REQUIRED_DAYS,
        meets_requirement: present + exempt >= REQUIRED_DAYS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    const VILLAGE: &str = "640104001002";

    fn event(at: OffsetDateTime, ok: bool) -> Event {
        Event {
            record_id: Uuid::now_v7(),
            entity: "presence".into(),
            village: VILLAGE.into(),
            at,
            fix_ok: ok,
            doubts: if ok {
                vec![]
            } else {
                vec!["outside_village".into()]
            },
            accepted: false,
        }
    }

    fn assigned() -> Vec<Span> {
        vec![Span {
            division: "640104001".into(),
            starts_on: date!(2026 - 01 - 01),
            ends_on: None,
        }]
    }

    #[test]
    fn an_event_late_in_the_beijing_evening_belongs_to_that_day() {
        // 23:30 in Beijing is 15:30 UTC the same day; 00:30 Beijing is the previous UTC day.
        let events = [
            event(datetime!(2026-11-30 15:30 UTC), true),
            event(datetime!(2026-10-31 16:30 UTC), true),
        ];
        let s = sheet(
            Uuid::nil(),
            (2026, Month::November),
            &events,
            &[],
            &assigned(),
            date!(2026 - 12 - 05),
        )
        .unwrap();
        assert_eq!(s.days.len(), 30);
        assert_eq!(s.days[29].state, DayState::Present, "30 Nov 23:30 Beijing");
        assert_eq!(s.days[29].events[0].time, "23:30");
        assert_eq!(
            s.days[0].state,
            DayState::Present,
            "1 Nov 00:30 Beijing, still 31 Oct in UTC"
        );
        assert_eq!(s.present, 2);
    }

    #[test]
    fn twenty_days_meet_the_rule_nineteen_do_not() {
        for (n, meets) in [(19, false), (20, true), (21, true)] {
            let events: Vec<Event> = (1..=n)
                .map(|d| {
                    event(
                        datetime!(2026-11-01 02:00 UTC) + time::Duration::days(d - 1),
                        true,
                    )
                })
                .collect();
            let s = sheet(
                Uuid::nil(),
                (2026, Month::November),
                &events,
                &[],
                &assigned(),
                date!(2026 - 12 - 01),
            )
            .unwrap();
            assert_eq!((s.present, s.meets_requirement), (n as u32, meets));
            assert_eq!(s.absent, 30 - n as u32);
        }
    }

    #[test]
    fn doubted_or_unassigned_events_do_not_count_alone() {
        let mut elsewhere = event(datetime!(2026-11-03 02:00 UTC), true);
        elsewhere.village = "640105001001".into();
        let events = [
            event(datetime!(2026-11-02 02:00 UTC), false),
            elsewhere,
            // A doubted and a good event the same day: the day counts.
            event(datetime!(2026-11-04 01:00 UTC), false),
            event(datetime!(2026-11-04 03:00 UTC), true),
        ];
        let s = sheet(
            Uuid::nil(),
            (2026, Month::November),
            &events,
            &[],
            &assigned(),
            date!(2026 - 11 - 10),
        )
        .unwrap();
        let state = |d: usize| s.days[d - 1].state;
        assert_eq!(
            (state(2), state(3), state(4), state(5)),
            (
                DayState::Doubtful,
                DayState::Doubtful,
                DayState::Present,
                DayState::Absent
            )
        );
        assert_eq!(s.days[2].events[0].doubts, ["not_assigned_village"]);
        assert_eq!(state(11), DayState::Future);
        assert_eq!((s.present, s.doubtful, s.absent), (1, 2, 7));
    }

    #[test]
    fn an_assignment_counts_only_on_its_dates() {
        let spans = [Span {
            division: VILLAGE.into(),
            starts_on: date!(2026 - 11 - 10),
            ends_on: Some(date!(2026 - 11 - 20)),
        }];
        let events = [
            event(datetime!(2026-11-09 02:00 UTC), true),
            event(datetime!(2026-11-10 02:00 UTC), true),
            event(datetime!(2026-11-20 02:00 UTC), true),
            event(datetime!(2026-11-21 02:00 UTC), true),
        ];
        let s = sheet(
            Uuid::nil(),
            (2026, Month::November),
            &events,
            &[],
            &spans,
            date!(2026 - 12 - 01),
        )
        .unwrap();
        assert_eq!(s.present, 2);
    }

    #[test]
    fn approved_training_counts_approved_leave_does_not_and_presence_beats_both() {
        let absence = |kind: &str, first, last, approved| Absence {
            request_id: Uuid::now_v7(),
            kind: kind.into(),
            first_day: first,
            last_day: last,
            approved,
        };
        let absences = [
            absence(
                "training",
                date!(2026 - 11 - 02),
                date!(2026 - 11 - 04),
                Some(true),
            ),
            absence(
                "leave",
                date!(2026 - 11 - 05),
                date!(2026 - 11 - 06),
                Some(true),
            ),
            absence(
                "official_trip",
                date!(2026 - 11 - 07),
                date!(2026 - 11 - 07),
                None,
            ),
            absence(
                "leave",
                date!(2026 - 11 - 08),
                date!(2026 - 11 - 08),
                Some(false),
            ),
        ];
        // Present on the 3rd despite the training.
        let events = [event(datetime!(2026-11-03 02:00 UTC), true)];
        let s = sheet(
            Uuid::nil(),
            (2026, Month::November),
            &events,
            &absences,
            &assigned(),
            date!(2026 - 11 - 30),
        )
        .unwrap();
        let state = |d: usize| s.days[d - 1].state;
        assert_eq!(
            [2, 3, 4, 5, 6, 7, 8].map(state),
            [
                DayState::Exempt,
                DayState::Present,
                DayState::Exempt,
                DayState::Leave,
                DayState::Leave,
                DayState::Absent,
                DayState::Absent
            ]
        );
        assert_eq!(s.days[6].absences[0].status, "pending");
        assert_eq!(s.days[7].absences[0].status, "rejected");
        assert_eq!((s.present, s.exempt, s.leave, s.absent), (1, 2, 2, 25));
        // 18 days there and 2 approved training days meet the rule.
        let events: Vec<Event> = (10..=27)
            .map(|d| {
                event(
                    datetime!(2026-11-01 02:00 UTC) + time::Duration::days(d - 1),
                    true,
                )
            })
            .collect();
        let s = sheet(
            Uuid::nil(),
            (2026, Month::November),
            &events,
            &absences[..1],
            &assigned(),
            date!(2026 - 11 - 30),
        )
        .unwrap();
        assert_eq!((s.present, s.exempt, s.meets_requirement), (18, 3, true));
    }

    #[test]
    fn months_are_read_strictly() {
        assert_eq!(parse_month("2026-02"), Some((2026, Month::February)));
        assert_eq!(
            month_bounds(2028, Month::February).unwrap().1,
            date!(2028 - 02 - 29)
        );
        for bad in ["2026-13", "2026-2", "26-02", "2026/02", ""] {
            assert_eq!(parse_month(bad), None, "{bad}");
        }
    }
}
