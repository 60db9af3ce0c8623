//! What an import did, or would do: a line per household or person the file touched (or could
//! not), counted per village, and written as CSV for the clerk to open in a spreadsheet. It
//! names rows by their line and national number, fields by name, never a value: the report is
//! passed around offices, and the values are people's personal data.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What became of one row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Outcome {
    New,
    Changed,
    Unchanged,
    /// The file and a phone changed the same field: both values are kept for review (in a dry
    /// run: would be).
    Conflict,
    /// The row was not imported.
    Bad,
    /// Imported before, no longer in the file: reported, not deleted.
    Missing,
}

impl Outcome {
    pub fn as_str(self, dry_run: bool) -> &'static str {
        match self {
            Outcome::New => "new",
            Outcome::Changed => "changed",
            Outcome::Unchanged => "unchanged",
            Outcome::Conflict if dry_run => "would_conflict",
            Outcome::Conflict => "conflict",
            Outcome::Bad => "bad_row",
            Outcome::Missing => "not_in_file",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Line {
    /// The village's code; empty when the row names none that could be found.
    pub village: String,
    /// The file's line; 0 for a record no longer in the file.
    pub line: usize,
    /// `household`, `member`, or empty for a row that is neither yet.
    pub entity: String,
    /// 户编号 or 人编号.
    pub number: String,
    pub outcome: Outcome,
    /// The fields changed, or in conflict.
    pub fields: Vec<String>,
    /// Why a row is bad, with its column when one is to blame.
    pub reason: String,
}

/// A village's counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub households: [u64; 3],
    pub people: [u64; 3],
    pub conflicts: u64,
    pub bad: u64,
    pub missing: u64,
}

/// The whole report, and what the reader made of the file.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub dry_run: bool,
    /// A line per record, packed: a county's first import is half a million of them.
    lines: Vec<Packed>,
    /// The village codes the lines name, by their number in [`Packed`].
    villages: Vec<String>,
    /// `UTF-8` or `GB18030` for a CSV file.
    pub encoding: Option<&'static str>,
    pub rows_read: usize,
    pub unknown_columns: Vec<String>,
    pub skipped: Vec<(usize, String)>,
}

/// A [`Line`] as the report keeps it: the village by number, the record kind as a byte, the
/// changed fields and reason only where there are any (most lines have neither).
#[derive(Clone, Debug)]
struct Packed {
    village: u32,
    line: u32,
    entity: Entity,
    outcome: Outcome,
    number: Box<str>,
    more: Option<Box<(Vec<String>, String)>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Entity {
    Neither,
    Household,
    Member,
}

impl Entity {
    fn of(s: &str) -> Entity {
        match s {
            "household" => Entity::Household,
            "member" => Entity::Member,
            _ => Entity::Neither,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Entity::Neither => "",
            Entity::Household => "household",
            Entity::Member => "member",
        }
    }
}

impl Report {
    /// A report of a run reading a file; its lines come with [`Report::push`].
    pub fn new(
        dry_run: bool,
        encoding: Option<&'static str>,
        rows_read: usize,
        unknown_columns: Vec<String>,
        skipped: Vec<(usize, String)>,
    ) -> Report {
        Report {
            dry_run,
            encoding,
            rows_read,
            unknown_columns,
            skipped,
            ..Report::default()
        }
    }

    pub fn push(&mut self, line: Line) {
        // Lines come village by village: the last village is nearly always the one.
        let village = match self.villages.iter().rposition(|v| *v == line.village) {
            Some(i) => i,
            None => {
                self.villages.push(line.village);
                self.villages.len() - 1
            }
        };
        let more = (!line.fields.is_empty() || !line.reason.is_empty())
            .then(|| Box::new((line.fields, line.reason)));
        self.lines.push(Packed {
            village: u32::try_from(village).unwrap_or(u32::MAX),
            line: u32::try_from(line.line).unwrap_or(u32::MAX),
            entity: Entity::of(&line.entity),
            outcome: line.outcome,
            number: line.number.into_boxed_str(),
            more,
        });
    }

    fn village(&self, p: &Packed) -> &str {
        self.villages
            .get(p.village as usize)
            .map_or("", String::as_str)
    }

    fn unpack(&self, p: &Packed) -> Line {
        let (fields, reason) = p.more.as_deref().cloned().unwrap_or_default();
        Line {
            village: self.village(p).to_owned(),
            line: p.line as usize,
            entity: p.entity.as_str().to_owned(),
            number: p.number.to_string(),
            outcome: p.outcome,
            fields,
            reason,
        }
    }

    /// Every line, in the order pushed.
    pub fn lines(&self) -> impl Iterator<Item = Line> + '_ {
        self.lines.iter().map(|p| self.unpack(p))
    }

    /// Counts per village (the empty code: rows whose village is not known).
    pub fn by_village(&self) -> BTreeMap<&str, Counts> {
        let mut out: BTreeMap<&str, Counts> = BTreeMap::new();
        for l in &self.lines {
            let c = out.entry(self.village(l)).or_default();
            let slot = match l.outcome {
                Outcome::New => Some(0),
                Outcome::Changed | Outcome::Conflict => Some(1),
                Outcome::Unchanged => Some(2),
                Outcome::Bad | Outcome::Missing => None,
            };
            if let Some(i) = slot {
                match l.entity {
                    Entity::Household => c.households[i] += 1,
                    _ => c.people[i] += 1,
                }
            }
            match l.outcome {
                Outcome::Conflict => c.conflicts += 1,
                Outcome::Bad => c.bad += 1,
                Outcome::Missing => c.missing += 1,
                _ => {}
            }
        }
        out
    }

    /// The counts of the whole file.
    pub fn totals(&self) -> Counts {
        self.by_village()
            .values()
            .fold(Counts::default(), |mut t, c| {
                for i in 0..3 {
                    t.households[i] += c.households[i];
                    t.people[i] += c.people[i];
                }
                t.conflicts += c.conflicts;
                t.bad += c.bad;
                t.missing += c.missing;
                t
            })
    }

    /// Lines that need a person's eye: everything but the new, changed and unchanged.
    pub fn problems(&self) -> impl Iterator<Item = Line> + '_ {
        self.packed_problems().map(|p| self.unpack(p))
    }

    /// How many [`Report::problems`] there are, without unpacking them.
    pub fn problem_count(&self) -> usize {
        self.packed_problems().count()
    }

    fn packed_problems(&self) -> impl Iterator<Item = &Packed> {
        self.lines.iter().filter(|l| {
            matches!(
                l.outcome,
                Outcome::Conflict | Outcome::Bad | Outcome::Missing
            )
        })
    }

    /// The report as CSV (UTF-8 with a byte-order mark, so Excel opens the Chinese right):
    /// one line per row of the file touched, then the records no longer in it.
    pub fn to_csv(&self) -> Result<Vec<u8>, csv::Error> {
        let mut out = Vec::from("\u{feff}".as_bytes());
        {
            let mut w = csv::Writer::from_writer(&mut out);
            w.write_record([
                "village_code",
                "line",
                "record",
                "number",
                "outcome",
                "fields",
                "reason",
            ])?;
            let mut lines: Vec<&Packed> = self.lines.iter().collect();
            lines.sort_by_key(|l| (l.line == 0, l.line, self.village(l)));
            for l in lines {
                let (fields, reason) = match l.more.as_deref() {
                    Some((fields, reason)) => (fields.join(" "), reason.as_str()),
                    None => (String::new(), ""),
                };
                w.write_record([
                    self.village(l),
                    &l.line.to_string(),
                    l.entity.as_str(),
                    &l.number,
                    l.outcome.as_str(self.dry_run),
                    &fields,
                    reason,
                ])?;
            }
            w.flush()?;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(village: &str, entity: &str, outcome: Outcome) -> Line {
        Line {
            village: village.into(),
            line: 3,
            entity: entity.into(),
            number: "6405".into(),
            outcome,
            fields: vec!["phone".into()],
            reason: String::new(),
        }
    }

    #[test]
    fn counts_per_village_and_in_all() {
        let mut r = Report::default();
        r.push(line("1", "household", Outcome::New));
        r.push(line("1", "member", Outcome::New));
        r.push(line("1", "member", Outcome::Conflict));
        r.push(line("2", "household", Outcome::Unchanged));
        r.push(line("", "", Outcome::Bad));
        r.push(line("2", "member", Outcome::Missing));
        let v = r.by_village();
        assert_eq!(v["1"].households, [1, 0, 0]);
        assert_eq!(v["1"].people, [1, 1, 0]);
        assert_eq!(v["1"].conflicts, 1);
        assert_eq!(v[""].bad, 1);
        assert_eq!(v["2"].missing, 1);
        let t = r.totals();
        assert_eq!((t.households, t.people), ([1, 0, 1], [1, 1, 0]));
        assert_eq!(r.problems().count(), 3);
        assert_eq!(r.problem_count(), 3);
    }

    #[test]
    fn the_csv_says_would_in_a_dry_run() {
        let mut r = Report {
            dry_run: true,
            ..Report::default()
        };
        r.push(line("1", "member", Outcome::Conflict));
        let csv = String::from_utf8(r.to_csv().unwrap()).unwrap();
        assert!(csv.starts_with('\u{feff}'));
        assert!(
            csv.contains("1,3,member,6405,would_conflict,phone,"),
            "{csv}"
        );
    }
}
