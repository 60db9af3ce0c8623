//! A county's staff roster as a CSV file, for `fieldsync admin import-users`: who works, in
//! which role, in which divisions, from when until when.
//!
//! Rosters come out of spreadsheets typed by hand, so this module reads them leniently where
//! the meaning is plain (a byte-order mark, spaces around fields, full-width `；`) and checks
//! every row before anything is written: a bad row is reported with its line number and the
//! reason, and the good rows can still be imported. It is pure (no database, no clock, no
//! IO) so every rule is unit-tested; whether a division code exists is asked of the caller
//! through [`Roster::reject_unknown_divisions`].

use std::collections::{BTreeSet, HashMap};

use fieldsync_protocol::Role;
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use time::Date;
use time::macros::format_description;

use crate::auth::password;

/// The columns of a roster, in this order.
pub const HEADER: [&str; 7] = [
    "username",
    "role",
    "display_name",
    "divisions",
    "starts_on",
    "ends_on",
    "password",
];

/// The longest password the login endpoint accepts, in bytes.
const MAX_PASSWORD_BYTES: usize = 1024;

/// Length of a generated password: 16 symbols of 56 are about 93 bits.
const GENERATED_LEN: usize = 16;

/// Letters and digits without the look-alikes `0 O 1 l I`, so a password read off paper can
/// be typed on a phone.
const GENERATED_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";

/// A problem with the file as a whole: nothing of it can be imported.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("the header must be {} (found {found:?})", HEADER.join(","))]
    Header { found: String },
    #[error("there are no rows below the header")]
    Empty,
    #[error("{0}")]
    Csv(#[from] csv::Error),
}

/// One checked row: a user and the divisions it works in for one period.
#[derive(Debug)]
pub struct Row {
    pub line: usize,
    pub username: String,
    pub role: Role,
    pub display_name: Option<String>,
    pub divisions: Vec<String>,
    /// `None`: from today, or from the start of the assignment already running today.
    pub starts_on: Option<Date>,
    /// `None`: open-ended.
    pub ends_on: Option<Date>,
    pub password: Option<SecretString>,
}

/// A row that will not be imported, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejected {
    pub line: usize,
    /// The username the row names, when it names one.
    pub username: Option<String>,
    pub reason: String,
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.username {
            Some(u) => write!(f, "line {} ({u}): {}", self.line, self.reason),
            None => write!(f, "line {}: {}", self.line, self.reason),
        }
    }
}

/// A parsed roster: the rows that passed every check so far, and those that did not.
#[derive(Debug, Default)]
pub struct Roster {
    pub rows: Vec<Row>,
    pub rejected: Vec<Rejected>,
}

/// A user as the roster describes it, gathered from all of its rows.
#[derive(Debug)]
pub struct Person {
    pub username: String,
    pub role: Role,
    pub display_name: Option<String>,
    pub password: Option<SecretString>,
    pub assignments: Vec<Assignment>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assignment {
    pub division: String,
    pub starts_on: Option<Date>,
    pub ends_on: Option<Date>,
}

/// Reads a roster. `today` (in the villages' time zone) stands in for an empty `starts_on`
/// when checking that a period does not end before it starts.
pub fn parse(text: &str, today: Date) -> Result<Roster, FileError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let header = reader.headers()?;
    if header.iter().map(str::trim).ne(HEADER) {
        return Err(FileError::Header {
            found: header.iter().collect::<Vec<_>>().join(","),
        });
    }
    let mut roster = Roster::default();
    for record in reader.records() {
        match record {
            Ok(record) => {
                let line = line_of(record.position());
                let fields: Vec<&str> = record.iter().collect();
                match check_row(line, &fields, today) {
                    Ok(row) => roster.rows.push(row),
                    Err(reason) => roster.rejected.push(Rejected {
                        line,
                        username: fields
                            .first()
                            .map(|u| u.trim().to_owned())
                            .filter(|u| !u.is_empty()),
                        reason,
                    }),
                }
            }
            Err(e) => roster.rejected.push(Rejected {
                line: line_of(e.position()),
                username: None,
                reason: e.to_string(),
            }),
        }
    }
    if roster.rows.is_empty() && roster.rejected.is_empty() {
        return Err(FileError::Empty);
    }
    Ok(roster)
}

/// The 1-based line a record starts on.
fn line_of(position: Option<&csv::Position>) -> usize {
    position.map_or(0, |p| usize::try_from(p.line()).unwrap_or(usize::MAX))
}

fn check_row(line: usize, fields: &[&str], today: Date) -> Result<Row, String> {
    let [
        username,
        role,
        display_name,
        divisions,
        starts_on,
        ends_on,
        password,
    ] = fields
    else {
        return Err(format!(
            "expected {} columns ({}), found {}",
            HEADER.len(),
            HEADER.join(","),
            fields.len()
        ));
    };
    let username = username.trim();
    check_username(username)?;
    let role: Role = role.trim().parse().map_err(|e| format!("{e}"))?;
    let display_name = Some(display_name.trim().to_owned()).filter(|d| !d.is_empty());
    let divisions = split_divisions(divisions)?;
    let starts_on = optional_date("starts_on", starts_on)?;
    let ends_on = optional_date("ends_on", ends_on)?;
    if let Some(end) = ends_on {
        let start = starts_on.unwrap_or(today);
        if end < start {
            return Err(format!(
                "ends_on {end} is before starts_on {start}{}",
                if starts_on.is_none() { " (today)" } else { "" }
            ));
        }
    }
    Ok(Row {
        line,
        username: username.to_owned(),
        role,
        display_name,
        divisions,
        starts_on,
        ends_on,
        password: check_password(password)?,
    })
}

/// The rule for usernames: what a phone's login form and a log line can both carry.
pub fn check_username(name: &str) -> Result<(), String> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err(format!(
            "{name:?} is not a username: a username has 1 to 64 letters, digits, '.', '_' or '-'"
        ));
    }
    Ok(())
}

/// Division codes separated by `;` (or a full-width `；`, as Chinese input methods type it).
fn split_divisions(field: &str) -> Result<Vec<String>, String> {
    let mut codes: Vec<String> = Vec::new();
    for code in field
        .split([';', '；'])
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        if code.contains(['E', 'e', '.']) {
            return Err(format!(
                "division code {code:?} was turned into a number by a spreadsheet; \
                 format the divisions column as text"
            ));
        }
        if !matches!(code.len(), 6 | 9 | 12) || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "{code:?} is not a division code (6, 9 or 12 digits)"
            ));
        }
        if !codes.iter().any(|c| c == code) {
            codes.push(code.to_owned());
        }
    }
    if codes.is_empty() {
        return Err("no division codes (separate several with ';')".into());
    }
    Ok(codes)
}

/// A `YYYY-MM-DD` date, as dates are stored.
pub fn parse_date(text: &str) -> Result<Date, String> {
    let text = text.trim();
    let format = format_description!("[year]-[month]-[day]");
    match Date::parse(text, format) {
        Ok(d) if text.len() == 10 => Ok(d),
        _ => Err(format!("{text:?} is not a date like 2026-12-01")),
    }
}

fn optional_date(column: &str, text: &str) -> Result<Option<Date>, String> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    parse_date(text)
        .map(Some)
        .map_err(|e| format!("{column}: {e}"))
}

fn check_password(field: &str) -> Result<Option<SecretString>, String> {
    if field.is_empty() {
        return Ok(None);
    }
    if field.trim() != field {
        return Err("the password begins or ends with a space".into());
    }
    if field.chars().count() < password::MIN_LEN {
        return Err(format!(
            "the password needs at least {} characters",
            password::MIN_LEN
        ));
    }
    if field.len() > MAX_PASSWORD_BYTES {
        return Err(format!(
            "the password is longer than {MAX_PASSWORD_BYTES} bytes"
        ));
    }
    Ok(Some(SecretString::from(field)))
}

impl Roster {
    /// Every division code the good rows name, once.
    pub fn division_codes(&self) -> BTreeSet<&str> {
        self.rows
            .iter()
            .flat_map(|r| r.divisions.iter().map(String::as_str))
            .collect()
    }

    /// Rejects the rows that name a division code `known` does not know.
    pub fn reject_unknown_divisions(&mut self, known: impl Fn(&str) -> bool) {
        self.reject_rows(|row| {
            let unknown: Vec<&str> = row
                .divisions
                .iter()
                .map(String::as_str)
                .filter(|c| !known(c))
                .collect();
            (!unknown.is_empty()).then(|| format!("{} not a known division code", are(&unknown)))
        });
    }

    /// Rejects the rows `why` gives a reason for (beyond the importer's reach, say).
    pub fn reject_rows(&mut self, why: impl Fn(&Row) -> Option<String>) {
        let mut kept = Vec::with_capacity(self.rows.len());
        for row in std::mem::take(&mut self.rows) {
            match why(&row) {
                Some(reason) => self.rejected.push(Rejected {
                    line: row.line,
                    username: Some(row.username),
                    reason,
                }),
                None => kept.push(row),
            }
        }
        self.rows = kept;
    }

    /// Gathers the rows into users, in file order. A user may have several rows (one per
    /// period); they must agree on the role, and on the display name and password where
    /// both give one, and may not give one assignment two different ends. A row that
    /// disagrees with an earlier one is rejected. The rejected rows come back sorted by line.
    pub fn into_people(self) -> (Vec<Person>, Vec<Rejected>) {
        let mut rejected = self.rejected;
        let mut people: Vec<Person> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut periods = Periods::new();
        for row in self.rows {
            let existing = index.get(&row.username).map(|&i| &people[i]);
            if let Some(reason) = existing
                .and_then(|p| disagreement(p, &row))
                .or_else(|| clashing_period(&periods, &row))
            {
                rejected.push(Rejected {
                    line: row.line,
                    username: Some(row.username),
                    reason,
                });
                continue;
            }
            let person = match index.get(&row.username) {
                Some(&i) => &mut people[i],
                None => {
                    index.insert(row.username.clone(), people.len());
                    people.push(Person {
                        username: row.username.clone(),
                        role: row.role,
                        display_name: None,
                        password: None,
                        assignments: Vec::new(),
                    });
                    let last = people.len() - 1;
                    &mut people[last]
                }
            };
            if person.display_name.is_none() {
                person.display_name = row.display_name;
            }
            if person.password.is_none() {
                person.password = row.password;
            }
            for division in row.divisions {
                let key = (row.username.clone(), division.clone(), row.starts_on);
                if periods.insert(key, (row.line, row.ends_on)).is_none() {
                    person.assignments.push(Assignment {
                        division,
                        starts_on: row.starts_on,
                        ends_on: row.ends_on,
                    });
                }
            }
        }
        rejected.sort_by_key(|r| r.line);
        (people, rejected)
    }
}

/// The assignments gathered so far: (username, division, starts_on) → (line, ends_on) of the
/// row that first gave it.
type Periods = HashMap<(String, String, Option<Date>), (usize, Option<Date>)>;

/// Why `row` cannot belong to the same user as the earlier rows gathered in `person`.
fn disagreement(person: &Person, row: &Row) -> Option<String> {
    if person.role != row.role {
        return Some(format!(
            "an earlier row gives {} the role {}, this one {}",
            person.username, person.role, row.role
        ));
    }
    if let (Some(a), Some(b)) = (&person.display_name, &row.display_name)
        && a != b
    {
        return Some(format!(
            "an earlier row gives {} the display name {a:?}, this one {b:?}",
            person.username
        ));
    }
    if let (Some(a), Some(b)) = (&person.password, &row.password)
        && a.expose_secret() != b.expose_secret()
    {
        return Some(format!(
            "an earlier row gives {} a different password",
            person.username
        ));
    }
    None
}

/// Why `row` gives an assignment already in the file a different end.
fn clashing_period(periods: &Periods, row: &Row) -> Option<String> {
    row.divisions.iter().find_map(|division| {
        let key = (row.username.clone(), division.clone(), row.starts_on);
        match periods.get(&key) {
            Some(&(line, ends_on)) if ends_on != row.ends_on => Some(format!(
                "line {line} already assigns {division} from {} with a different ends_on",
                row.starts_on
                    .map_or_else(|| "today".to_owned(), |d| d.to_string())
            )),
            _ => None,
        }
    })
}

/// A list of codes as the subject of a reason: `a is`, `a, b are`.
pub fn are(codes: &[&str]) -> String {
    let verb = if codes.len() == 1 { "is" } else { "are" };
    format!("{} {verb}", codes.join(", "))
}

/// A new random password of letters and digits, for a user the roster gives none.
pub fn generate_password() -> SecretString {
    let mut rng = rand::thread_rng();
    let text: String = (0..GENERATED_LEN)
        .map(|_| char::from(GENERATED_ALPHABET[rng.gen_range(0..GENERATED_ALPHABET.len())]))
        .collect();
    SecretString::from(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const TODAY: Date = date!(2026 - 11 - 28);
    const HEAD: &str = "username,role,display_name,divisions,starts_on,ends_on,password\n";

    fn roster(rows: &str) -> Roster {
        parse(&format!("{HEAD}{rows}"), TODAY).unwrap()
    }

    fn reasons(r: &Roster) -> Vec<(usize, String)> {
        r.rejected
            .iter()
            .map(|r| (r.line, r.reason.clone()))
            .collect()
    }

    #[test]
    fn good_rows_parse_with_defaults() {
        let r = roster(
            "ma,grid_worker,马德福,640104001002,,,\n\
             li , first_secretary ,,640104001002; 640104001003；640104001002,2026-12-01,2027-06-30,secret-pass\n",
        );
        assert!(r.rejected.is_empty(), "{:?}", r.rejected);
        let [ma, li] = &r.rows[..] else {
            panic!("{:?}", r.rows)
        };
        assert_eq!(ma.line, 2);
        assert_eq!(ma.username, "ma");
        assert_eq!(ma.role, Role::GridWorker);
        assert_eq!(ma.display_name.as_deref(), Some("马德福"));
        assert_eq!((ma.starts_on, ma.ends_on), (None, None));
        assert!(ma.password.is_none());
        assert_eq!(li.line, 3);
        assert_eq!(li.username, "li");
        assert_eq!(li.role, Role::FirstSecretary);
        assert_eq!(li.display_name, None);
        assert_eq!(li.divisions, ["640104001002", "640104001003"]);
        assert_eq!(li.starts_on, Some(date!(2026 - 12 - 01)));
        assert_eq!(li.ends_on, Some(date!(2027 - 06 - 30)));
        assert_eq!(
            li.password.as_ref().map(|p| p.expose_secret()),
            Some("secret-pass")
        );
    }

    #[test]
    fn a_byte_order_mark_and_spaces_in_the_header_are_fine() {
        let text = format!("\u{feff}{}", HEAD.replace(',', " , "));
        let r = parse(&format!("{text}ma,farmer,,640104001002,,,\n"), TODAY).unwrap();
        assert_eq!(r.rows.len(), 1);
    }

    #[test]
    fn a_wrong_header_or_no_rows_rejects_the_file() {
        let e = parse("code,name,level,parent_code\n1,2,3,4\n", TODAY).unwrap_err();
        assert!(matches!(e, FileError::Header { .. }), "{e}");
        assert!(e.to_string().contains(&HEADER.join(",")), "{e}");
        assert!(matches!(parse(HEAD, TODAY), Err(FileError::Empty)));
    }

    #[test]
    fn every_bad_row_is_named_with_its_line_and_reason() {
        let r = roster(
            "ma,grid_worker,,640104001002,,,\n\
             li,wizard,,640104001002,,,\n\
             zhang san,grid_worker,,640104001002,,,\n\
             wang,grid_worker,,,,,\n\
             zhao,grid_worker,,6.40104E+11,,,\n\
             qian,grid_worker,,64010400100,,,\n\
             sun,grid_worker,,640104001002,2026/12/01,,\n\
             zhou,grid_worker,,640104001002,2026-12-01,2026-11-30,\n\
             wu,grid_worker,,640104001002,,2026-11-27,\n\
             zheng,grid_worker,,640104001002,,,short\n\
             feng,grid_worker,,640104001002,,, padded-pass\n\
             chen,grid_worker\n\
             ,grid_worker,,640104001002,,,\n",
        );
        assert_eq!(r.rows.len(), 1);
        let got = reasons(&r);
        let want: [(usize, &str); 12] = [
            (3, "unknown role \"wizard\""),
            (4, "\"zhang san\" is not a username"),
            (5, "no division codes"),
            (6, "turned into a number by a spreadsheet"),
            (7, "\"64010400100\" is not a division code"),
            (8, "starts_on: \"2026/12/01\" is not a date like 2026-12-01"),
            (9, "ends_on 2026-11-30 is before starts_on 2026-12-01"),
            (
                10,
                "ends_on 2026-11-27 is before starts_on 2026-11-28 (today)",
            ),
            (11, "at least 8 characters"),
            (12, "begins or ends with a space"),
            (13, "expected 7 columns"),
            (14, "\"\" is not a username"),
        ];
        assert_eq!(got.len(), want.len(), "{got:?}");
        for ((line, reason), (want_line, want_reason)) in got.iter().zip(want) {
            assert_eq!(*line, want_line, "{reason}");
            assert!(reason.contains(want_reason), "line {line}: {reason}");
        }
        assert_eq!(r.rejected[0].username.as_deref(), Some("li"));
        assert_eq!(r.rejected[11].username, None);
        assert_eq!(
            r.rejected[0].to_string(),
            format!("line 3 (li): {}", got[0].1)
        );
    }

    #[test]
    fn rejected_rows_never_show_the_password() {
        let r = roster("ma,wizard,,640104001002,,,hunter2-secret\n");
        assert_eq!(r.rejected.len(), 1);
        assert!(!format!("{:?}", r.rejected).contains("hunter2"));
        let r = roster("ma,farmer,,640104001002,,,hunter2-secret\n");
        assert!(!format!("{:?}", r.rows).contains("hunter2"));
    }

    #[test]
    fn dates_must_be_real_and_complete() {
        assert_eq!(parse_date("2026-02-28"), Ok(date!(2026 - 02 - 28)));
        for bad in [
            "2026-02-30",
            "2026-2-3",
            "26-02-03",
            "2026-02-03x",
            "",
            "+2026-02-03",
        ] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unknown_divisions_reject_the_whole_row() {
        let mut r = roster(
            "ma,grid_worker,,640104001002;640104001999,,,\n\
             li,grid_worker,,640104001002,,,\n",
        );
        assert_eq!(
            r.division_codes().into_iter().collect::<Vec<_>>(),
            ["640104001002", "640104001999"]
        );
        r.reject_unknown_divisions(|c| c == "640104001002");
        assert_eq!(r.rows.len(), 1);
        assert_eq!(
            reasons(&r),
            [(2, "640104001999 is not a known division code".to_owned())]
        );
    }

    #[test]
    fn rows_of_one_user_gather_into_one_person() {
        let (people, rejected) = roster(
            "ma,first_secretary,马德福,640104001002,2026-01-01,2026-12-14,\n\
             li,first_secretary,,640104001002,2026-12-01,,\n\
             ma,first_secretary,,640104001003,2026-12-15,,ma-password\n\
             ma,first_secretary,马德福,640104001002,2026-01-01,2026-12-14,\n",
        )
        .into_people();
        assert!(rejected.is_empty(), "{rejected:?}");
        let [ma, li] = &people[..] else {
            panic!("{people:?}")
        };
        assert_eq!(ma.username, "ma");
        assert_eq!(ma.display_name.as_deref(), Some("马德福"));
        assert_eq!(
            ma.password.as_ref().map(|p| p.expose_secret()),
            Some("ma-password")
        );
        assert_eq!(
            ma.assignments,
            [
                Assignment {
                    division: "640104001002".into(),
                    starts_on: Some(date!(2026 - 01 - 01)),
                    ends_on: Some(date!(2026 - 12 - 14)),
                },
                Assignment {
                    division: "640104001003".into(),
                    starts_on: Some(date!(2026 - 12 - 15)),
                    ends_on: None,
                },
            ],
            "the repeated row adds nothing"
        );
        assert_eq!(li.assignments.len(), 1, "overlapping periods are fine");
    }

    #[test]
    fn rows_that_contradict_earlier_ones_are_rejected() {
        let (people, rejected) = roster(
            "ma,grid_worker,马德福,640104001002,,,first-password\n\
             ma,team_member,,640104001003,,,\n\
             ma,grid_worker,马德华,640104001003,,,\n\
             ma,grid_worker,,640104001003,,,other-password\n\
             ma,grid_worker,,640104001002,,2027-01-01,\n\
             ma,grid_worker,,640104001003,,,first-password\n",
        )
        .into_people();
        assert_eq!(people.len(), 1);
        assert_eq!(people[0].assignments.len(), 2, "{people:?}");
        let got: Vec<(usize, &str)> = rejected
            .iter()
            .map(|r| (r.line, r.reason.as_str()))
            .collect();
        assert_eq!(got.len(), 4, "{got:?}");
        assert!(
            got[0].0 == 3
                && got[0]
                    .1
                    .contains("the role grid_worker, this one team_member")
        );
        assert!(got[1].0 == 4 && got[1].1.contains("display name"));
        assert!(got[2].0 == 5 && got[2].1.contains("different password"));
        assert!(!got[2].1.contains("other-password"));
        assert!(
            got[3].0 == 6
                && got[3]
                    .1
                    .contains("line 2 already assigns 640104001002 from today")
        );
    }

    #[test]
    fn rejections_come_back_in_line_order() {
        let mut r = roster(
            "ma,grid_worker,,640104001999,,,\n\
             li,wizard,,640104001002,,,\n",
        );
        r.reject_unknown_divisions(|c| c == "640104001002");
        let (_, rejected) = r.into_people();
        assert_eq!(rejected.iter().map(|r| r.line).collect::<Vec<_>>(), [2, 3]);
    }

    #[test]
    fn generated_passwords_are_long_random_letters_and_digits() {
        let a = generate_password();
        let b = generate_password();
        assert_ne!(a.expose_secret(), b.expose_secret());
        for p in [&a, &b] {
            let p = p.expose_secret();
            assert!(p.chars().count() >= 16, "{p}");
            assert!(p.chars().all(|c| c.is_ascii_alphanumeric()), "{p}");
            assert!(check_password(p).is_ok());
        }
    }

    #[test]
    fn the_username_rule() {
        for good in ["ma", "ma.defu", "ma_defu-2", &"a".repeat(64)] {
            assert!(check_username(good).is_ok(), "{good}");
        }
        for bad in ["", "马德福", "ma defu", "ma@x", &"a".repeat(65)] {
            assert!(check_username(bad).is_err(), "{bad}");
        }
    }
}
