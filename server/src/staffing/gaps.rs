//! A village's team on a day, and the periods it falls short of its class's need.
//!
//! A team changes only on the day an assignment starts and the day after one ends, so judging
//! the team on the day asked and on each such later day finds every shortfall ahead: a cadre
//! leaving on the 10th whose successor starts on the 12th leaves the village short on the 11th.

use std::collections::BTreeSet;

use time::Date;
use uuid::Uuid;

use super::Need;

/// The posts of a village's resident team.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Post {
    /// 驻村第一书记, who leads the team.
    FirstSecretary,
    /// 工作队员.
    Member,
}

impl Post {
    /// The post a user's role holds in a village, if any.
    pub fn of_role(role: &str) -> Option<Post> {
        match role.parse().ok()? {
            fieldsync_protocol::Role::FirstSecretary => Some(Post::FirstSecretary),
            fieldsync_protocol::Role::TeamMember => Some(Post::Member),
            _ => None,
        }
    }
}

/// A cadre's assignment to a village.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Posting {
    pub user_id: Uuid,
    pub name: String,
    pub post: Post,
    pub starts_on: Date,
    /// The last day, or open-ended.
    pub ends_on: Option<Date>,
}

impl Posting {
    fn holds_on(&self, day: Date) -> bool {
        self.starts_on <= day && self.ends_on.is_none_or(|end| day <= end)
    }
}

/// How many distinct cadres hold each post on a day.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Staff {
    pub first_secretaries: u32,
    pub members: u32,
}

impl Staff {
    pub fn on(postings: &[Posting], day: Date) -> Staff {
        let count = |post: Post| {
            let people: BTreeSet<Uuid> = postings
                .iter()
                .filter(|p| p.post == post && p.holds_on(day))
                .map(|p| p.user_id)
                .collect();
            u32::try_from(people.len()).unwrap_or(u32::MAX)
        };
        Staff {
            first_secretaries: count(Post::FirstSecretary),
            members: count(Post::Member),
        }
    }

    /// The staff as far as the need counts it: more than needed is as good as enough.
    fn against(self, need: Need) -> Staff {
        Staff {
            first_secretaries: self.first_secretaries.min(need.first_secretaries),
            members: self.members.min(need.members),
        }
    }

    pub fn meets(self, need: Need) -> bool {
        self.first_secretaries >= need.first_secretaries && self.members >= need.members
    }
}

/// A period in which a village's team falls short.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gap {
    pub from: Date,
    /// The last short day, or none foreseen (no assignment planned to fill it).
    pub until: Option<Date>,
    /// The team on `from`.
    pub staff: Staff,
    pub need: Need,
    /// Who of the posts short left the village the day before `from` (a term's end, a handover
    /// without its successor), when the gap starts after the day asked.
    pub leaving: Vec<String>,
}

impl Gap {
    pub fn first_secretaries_missing(&self) -> u32 {
        self.need
            .first_secretaries
            .saturating_sub(self.staff.first_secretaries)
    }

    pub fn members_missing(&self) -> u32 {
        self.need.members.saturating_sub(self.staff.members)
    }

    /// What is missing, in English (the command line's).
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.first_secretaries_missing() > 0 {
            parts.push("no first secretary".to_owned());
        }
        if self.members_missing() > 0 {
            parts.push(format!(
                "{} team member{} of {}",
                self.staff.members,
                if self.staff.members == 1 { "" } else { "s" },
                self.need.members
            ));
        }
        parts.join("; ")
    }
}

/// The periods from `on` in which the team of `postings` (one village's) falls short of `need`,
/// in date order; consecutive days short in the same way are one period.
pub fn gaps(postings: &[Posting], need: Need, on: Date) -> Vec<Gap> {
    if need.is_none() {
        return Vec::new();
    }
    let mut days: BTreeSet<Date> = BTreeSet::from([on]);
    for p in postings {
        days.insert(p.starts_on);
        if let Some(after) = p.ends_on.and_then(|end| end.next_day()) {
            days.insert(after);
        }
    }
    let days: Vec<Date> = days.into_iter().filter(|d| *d >= on).collect();
    let mut out: Vec<Gap> = Vec::new();
    let mut open: Option<(Gap, Staff)> = None;
    for day in days {
        let staff = Staff::on(postings, day);
        let counted = staff.against(need);
        match open.take() {
            Some((gap, was)) if was == counted => {
                open = Some((gap, was));
                continue;
            }
            Some((mut gap, _)) => {
                gap.until = day.previous_day();
                out.push(gap);
            }
            None => {}
        }
        if !staff.meets(need) {
            let gap = Gap {
                from: day,
                until: None,
                staff,
                need,
                leaving: leaving(postings, day, on, staff, need),
            };
            open = Some((gap, counted));
        }
    }
    out.extend(open.map(|(gap, _)| gap));
    out
}

/// The cadres of the posts short on `day` whose assignment ended the day before.
fn leaving(postings: &[Posting], day: Date, on: Date, staff: Staff, need: Need) -> Vec<String> {
    if day == on {
        return Vec::new();
    }
    let short = |post: Post| match post {
        Post::FirstSecretary => staff.first_secretaries < need.first_secretaries,
        Post::Member => staff.members < need.members,
    };
    let mut names: Vec<String> = postings
        .iter()
        .filter(|p| short(p.post) && p.ends_on.and_then(|e| e.next_day()) == Some(day))
        .map(|p| p.name.clone())
        .collect();
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use time::macros::date;

    use super::*;
    use crate::staffing::Category;

    fn posting(name: &str, post: Post, starts_on: Date, ends_on: Option<Date>) -> Posting {
        Posting {
            user_id: Uuid::now_v7(),
            name: name.to_owned(),
            post,
            starts_on,
            ends_on,
        }
    }

    const ON: Date = date!(2026 - 07 - 01);

    #[test]
    fn a_full_team_is_never_short_and_class_d_never_is() {
        let team = [
            posting("马", Post::FirstSecretary, date!(2025 - 07 - 01), None),
            posting("李", Post::Member, date!(2025 - 07 - 01), None),
            posting("王", Post::Member, date!(2025 - 07 - 01), None),
        ];
        assert!(gaps(&team, Category::B.need(), ON).is_empty());
        assert!(gaps(&[], Category::D.need(), ON).is_empty());
        let alone = &team[..1];
        assert!(gaps(alone, Category::C.need(), ON).is_empty());
        let short = gaps(alone, Category::A.need(), ON);
        assert_eq!(short.len(), 1);
        assert_eq!((short[0].from, short[0].until), (ON, None));
        assert_eq!(short[0].describe(), "0 team members of 2");
    }

    #[test]
    fn one_cadre_counts_once_and_the_day_after_a_term_ends_is_judged() {
        let who = Uuid::now_v7();
        let mut a = posting("马", Post::FirstSecretary, date!(2025 - 07 - 01), None);
        a.user_id = who;
        let mut b = a.clone();
        b.starts_on = date!(2026 - 01 - 01);
        let member = posting("李", Post::Member, date!(2025 - 07 - 01), None);
        let members_only = gaps(&[a, b, member], Category::B.need(), ON);
        assert_eq!(members_only.len(), 1);
        assert_eq!(members_only[0].describe(), "1 team member of 2");

        let term = [posting(
            "马",
            Post::FirstSecretary,
            date!(2025 - 07 - 01),
            Some(date!(2027 - 06 - 30)),
        )];
        let after = gaps(&term, Category::C.need(), ON);
        assert_eq!(after.len(), 1);
        assert_eq!(
            (after[0].from, after[0].until),
            (date!(2027 - 07 - 01), None)
        );
        assert_eq!(after[0].describe(), "no first secretary");
        assert_eq!(after[0].leaving, ["马"]);
    }

    /// The leaving first secretary's last day is the 10th, the arriving one's first the 12th:
    /// short on the 11th only.
    #[test]
    fn a_handover_with_a_day_between_leaves_that_day_short() {
        let team = [
            posting(
                "马",
                Post::FirstSecretary,
                date!(2025 - 07 - 01),
                Some(date!(2026 - 07 - 10)),
            ),
            posting("杨", Post::FirstSecretary, date!(2026 - 07 - 12), None),
        ];
        let found = gaps(&team, Category::C.need(), ON);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].from, date!(2026 - 07 - 11));
        assert_eq!(found[0].until, Some(date!(2026 - 07 - 11)));
        assert_eq!(found[0].leaving, ["马"]);
        // Handed over the next day: no gap.
        let mut seamless = team.clone();
        seamless[1].starts_on = date!(2026 - 07 - 11);
        assert!(gaps(&seamless, Category::C.need(), ON).is_empty());
    }

    /// Days short in the same way are one period; a change in what is missing starts another.
    #[test]
    fn periods_merge_while_the_shortfall_is_the_same() {
        let team = [
            posting("马", Post::FirstSecretary, date!(2025 - 07 - 01), None),
            posting(
                "李",
                Post::Member,
                date!(2025 - 07 - 01),
                Some(date!(2026 - 08 - 31)),
            ),
            // A third member beyond the two needed changes nothing that counts.
            posting("赵", Post::Member, date!(2026 - 08 - 01), None),
            posting("钱", Post::Member, date!(2026 - 08 - 15), None),
        ];
        let found = gaps(&team, Category::B.need(), ON);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            (found[0].from, found[0].until),
            (ON, Some(date!(2026 - 07 - 31)))
        );
        assert_eq!(found[0].staff.members, 1);
    }
}
