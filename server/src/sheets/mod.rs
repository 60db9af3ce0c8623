//! County household rosters as spreadsheets: the national monitoring system's export
//! (全国防返贫监测信息系统, one row per person grouped by 户编号) or a workbook with a household
//! sheet and a member sheet, as XLSX, XLS or CSV (UTF-8, GB18030 or UTF-16) → households with
//! their members in registry codes; and the inverse, the rows of our own export.
//!
//! Pure: bytes in, structs out; no database, clock or file. Sheets come typed by hand, so the
//! reader is lenient where the meaning is plain (title rows above the header, totals rows,
//! full-width digits, units in headers, a county's own words through a [`Mapping`]) and strict
//! where data would be wrong: every row that cannot be taken as written is a [`BadRow`] with
//! its spreadsheet row number and column, and nothing of it is imported. Reasons never repeat
//! an ID-card number, phone, illness or income, so they can be shown and logged.
//!
//! `read(write(h)) == h`: [`header`] and [`rows`] write the layout the reader takes.

mod cells;
mod group;
mod header;
mod mapping;
mod parse;
mod read;
mod text;
mod words;
mod write;

#[cfg(test)]
mod tests;

pub use mapping::Mapping;
pub use read::read;
pub use write::{header, rows};

/// One file read: the households taken, and everything that was not.
#[derive(Debug)]
pub struct Roster {
    /// Read from the file's cells when asked for, one at a time: see `read`.
    households: read::Households,
    pub bad_rows: Vec<BadRow>,
    /// Title rows above the header, blank rows, totals and footer rows: line and why.
    pub skipped: Vec<Skipped>,
    /// Header cells that feed nothing, as written; listed so no column is dropped unseen.
    pub unknown_columns: Vec<String>,
    /// CSV only: `"UTF-8"`, `"GB18030"` or `"UTF-16LE"`; `None` for XLSX and XLS.
    pub encoding: Option<&'static str>,
    /// Person rows seen, good or bad (rows of a household sheet are not counted).
    pub rows_read: usize,
}

impl Roster {
    /// How many households were taken.
    pub fn len(&self) -> usize {
        self.households.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The village household `i` names, as written.
    pub fn village(&self, i: usize) -> &Village {
        self.households.village(i)
    }

    /// Household `i` (of [`Roster::len`]), in the order of its first row in the file, read
    /// again from its rows. Reading is deterministic, so it is the household the first
    /// reading took; `None` only for an `i` out of range.
    pub fn household(&self, i: usize) -> Option<Household> {
        self.households.get(i)
    }

    /// Every household taken, one at a time.
    pub fn households(&self) -> impl Iterator<Item = Household> + '_ {
        (0..self.len()).filter_map(|i| self.household(i))
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Household {
    /// Spreadsheet row of its first person row (of its own row when it has no members).
    pub line: usize,
    /// 户编号, normalised (half-width, no spaces).
    pub household_no: String,
    /// 系统户ID: fieldsync's record id, written by our export.
    pub record_id: Option<String>,
    pub village: Village,
    /// Household registry fields in registry codes; only cells that were filled.
    pub fields: serde_json::Map<String, serde_json::Value>,
    pub members: Vec<Person>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Village {
    /// A 12-digit village code.
    Code(String),
    /// Names only: the caller finds the code.
    Named {
        township: Option<String>,
        village: String,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Person {
    pub line: usize,
    /// 人编号.
    pub person_no: Option<String>,
    /// 系统人员ID.
    pub record_id: Option<String>,
    /// Member registry fields in registry codes; only cells that were filled (and
    /// `birth_date` from a valid ID card when the sheet has none).
    pub fields: serde_json::Map<String, serde_json::Value>,
}

/// A row not imported, and why. With more than one sheet the reason starts with the sheet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadRow {
    pub line: usize,
    /// The header of the column at fault, as written.
    pub column: Option<String>,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    pub line: usize,
    pub why: String,
}

/// A problem with the file as a whole: nothing of it can be read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("the file is empty")]
    Empty,
    #[error("the file is too large: split it by township and import each part")]
    TooLarge,
    #[error("not a spreadsheet: {0}")]
    NotSpreadsheet(String),
    #[error(
        "the text is neither UTF-8 nor GB18030/GBK; save the sheet as XLSX or as \"CSV UTF-8\""
    )]
    Encoding,
    #[error(
        "no header row found: one of the first 20 rows of a sheet must name 户编号 and at least \
         two more known columns (such as 姓名, 证件号码, 与户主关系, 行政区划代码 or 行政村)"
    )]
    NoHeader,
    #[error("there are no rows below the header")]
    NoRows,
    #[error("mapping file {file}: {message}")]
    Mapping { file: String, message: String },
}
