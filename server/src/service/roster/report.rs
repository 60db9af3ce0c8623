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
    pub lines: Vec<Line>,
    /// `UTF-8` or `GB18030` for a CSV file.
    pub encoding: Option<&'static str>,
    pub rows_read: usize,
    pub unknown_columns: Vec<String>,
    pub skipped: Vec<(usize, String)>,
}

impl Report {
    pub fn push(&mut self, line: Line) {
        self.lines.push(line);
    }

    /// Counts per village (the empty code: rows whose village is not known).
    pub fn by_village(&self) -> BTreeMap<&str, Counts> {
        let mut out: BTreeMap<&str, Counts> = BTreeMap::new();
        for l in &self.lines {
            let c = out.entry(l.village.as_str()).or_default();
            let slot = match l.outcome {
                Outcome::New => Some(0),
                Outcome::Changed | Outcome::Conflict => Some(1),
                Outcome::Unchanged => Some(2),
                Outcome::Bad | Outcome::Missing => None,
            };
            if let Some(i) = slot {
                match l.entity.as_str() {
                    "household" => c.households[i] += 1,
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
    pub fn problems(&self) -> impl Iterator<Item = &Line> {
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
            let mut lines: Vec<&Line> = self.lines.iter().collect();
            lines.sort_by_key(|l| (l.line == 0, l.line, l.village.as_str()));
            for l in lines {
                w.write_record([
                    l.village.as_str(),
                    &l.line.to_string(),
                    l.entity.as_str(),
                    l.number.as_str(),
                    l.outcome.as_str(self.dry_run),
                    &l.fields.join(" "),
                    l.reason.as_str(),
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
