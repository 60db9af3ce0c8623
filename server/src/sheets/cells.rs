//! Bytes → a grid of text cells per sheet, whatever the file was: XLSX, XLS or CSV in UTF-8,
//! GB18030 (what Chinese Excel and WPS save as "CSV") or UTF-16 ("Unicode text"). Row numbers
//! are the ones the spreadsheet shows, so a cadre told "line 14" finds row 14.

use std::borrow::Cow;
use std::io::Cursor;

use calamine::{Data, Reader, Xls, Xlsx};

use super::FileError;
use super::text;

/// What a cell held before it became text: the checks of number-like columns need to know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Text = 0,
    Number = 1,
    /// A number beyond 2^53: a spreadsheet keeps 15 significant digits, so digits were lost
    /// (an 18-digit ID card typed into a number cell).
    LossyNumber = 2,
    /// `#N/A`, `#VALUE!` and the like.
    Error = 3,
}

/// The kinds by their number, as a packed cell holds it.
const KINDS: [Kind; 4] = [Kind::Text, Kind::Number, Kind::LossyNumber, Kind::Error];

#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    pub text: String,
    pub kind: Kind,
}

impl Cell {
    pub fn text(s: impl Into<String>) -> Cell {
        Cell {
            text: s.into(),
            kind: Kind::Text,
        }
    }

    pub fn is_blank(&self) -> bool {
        self.kind != Kind::Error && text::clean(&self.text).is_empty()
    }
}

#[derive(Debug)]
pub struct Row {
    /// 1-based, as the spreadsheet shows it.
    pub line: usize,
    pub cells: Vec<Cell>,
}

/// A sheet's cells, packed: one text buffer and where each cell ends. A county's roster is
/// hundreds of thousands of rows; a `String` per cell cost several times the file's size,
/// this little more than its text. Rows are unpacked one at a time, when read.
#[derive(Debug, Default)]
pub struct Sheet {
    pub name: String,
    text: String,
    /// Per cell: where its text ends in `text` (low 30 bits) and its kind (high 2).
    cells: Vec<u32>,
    /// Per row: its line and where its cells end in `cells` (they start where the row
    /// before ends).
    rows: Vec<(u32, u32)>,
}

impl Sheet {
    fn named(name: String) -> Sheet {
        Sheet {
            name,
            ..Sheet::default()
        }
    }

    /// Adds a cell to the row being written.
    fn push(&mut self, text: &str, kind: Kind) -> Result<(), FileError> {
        self.text.push_str(text);
        let end = u32::try_from(self.text.len())
            .ok()
            .filter(|end| *end <= END_MASK)
            .ok_or(FileError::TooLarge)?;
        self.cells.push(end | (kind as u32) << 30);
        Ok(())
    }

    /// Ends the row being written as spreadsheet row `line`.
    fn end_row(&mut self, line: usize) -> Result<(), FileError> {
        let line = u32::try_from(line).map_err(|_| FileError::TooLarge)?;
        let end = u32::try_from(self.cells.len()).map_err(|_| FileError::TooLarge)?;
        self.rows.push((line, end));
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Row `i` (0-based among the sheet's rows), unpacked.
    pub fn row(&self, i: usize) -> Row {
        let (line, end) = self.rows[i];
        let first = match i {
            0 => 0,
            _ => self.rows[i - 1].1 as usize,
        };
        let mut from = match first {
            0 => 0,
            f => (self.cells[f - 1] & END_MASK) as usize,
        };
        let cells = self.cells[first..end as usize]
            .iter()
            .map(|&packed| {
                let to = (packed & END_MASK) as usize;
                let text = self.text[from..to].to_owned();
                from = to;
                Cell {
                    text,
                    kind: KINDS[(packed >> 30) as usize],
                }
            })
            .collect();
        Row {
            line: line as usize,
            cells,
        }
    }

    /// The first `n` rows, unpacked.
    pub fn head(&self, n: usize) -> Vec<Row> {
        (0..n.min(self.len())).map(|i| self.row(i)).collect()
    }
}

/// A sheet's text may be up to 1 GiB: the two bits above hold a cell's kind.
const END_MASK: u32 = (1 << 30) - 1;

#[derive(Debug)]
pub struct Book {
    pub sheets: Vec<Sheet>,
    /// CSV only: the text encoding found.
    pub encoding: Option<&'static str>,
}

const ZIP: &[u8] = b"PK\x03\x04";
const OLE: &[u8] = &[0xd0, 0xcf, 0x11, 0xe0];
/// Integers beyond this are not exact in a spreadsheet's 64-bit floats.
const EXACT_LIMIT: f64 = 9_007_199_254_740_992.0;

/// Reads every sheet. The format is told by the content, not the name: offices rename files.
pub fn read(bytes: &[u8]) -> Result<Book, FileError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(FileError::Empty);
    }
    if bytes.starts_with(ZIP) {
        let book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes))
            .map_err(|e| FileError::NotSpreadsheet(format!("a ZIP file but not XLSX ({e})")))?;
        return xlsx(book);
    }
    if bytes.starts_with(OLE) {
        let mut book: Xls<_> = calamine::open_workbook_from_rs(Cursor::new(bytes))
            .map_err(|e| FileError::NotSpreadsheet(format!("an OLE file but not XLS ({e})")))?;
        return workbook(book.sheet_names(), |name| whole(&mut book, name));
    }
    let (text, encoding) = decode(bytes)?;
    Ok(Book {
        sheets: vec![csv(&text)?],
        encoding: Some(encoding),
    })
}

/// XLSX sheets are read cell by cell as the file gives them, never as a whole grid of
/// calamine's values (which for a county's roster is several times the file).
fn xlsx(mut book: Xlsx<Cursor<&[u8]>>) -> Result<Book, FileError> {
    workbook(book.sheet_names(), |name| {
        match xlsx_sheet(&mut book, name)? {
            Some(sheet) => Ok(sheet),
            // Cells out of reading order (no spreadsheet program writes them so): the sheet is
            // read whole and put in order.
            None => whole(&mut book, name),
        }
    })
}

/// A sheet read whole through calamine's grid of values.
fn whole<'a, R: Reader<Cursor<&'a [u8]>>>(book: &mut R, name: &str) -> Result<Sheet, Unreadable>
where
    R::Error: std::fmt::Display,
{
    let range = book
        .worksheet_range(name)
        .map_err(|e| Unreadable::Sheet(e.to_string()))?;
    from_range(name.to_owned(), &range).map_err(Unreadable::File)
}

enum Unreadable {
    /// The whole file: too large.
    File(FileError),
    /// This sheet only (a chart sheet, a broken one).
    Sheet(String),
}

/// One XLSX sheet, or `None` when its cells are not in reading order.
fn xlsx_sheet(book: &mut Xlsx<Cursor<&[u8]>>, name: &str) -> Result<Option<Sheet>, Unreadable> {
    let mut reader = book
        .worksheet_cells_reader(name)
        .map_err(|e| Unreadable::Sheet(e.to_string()))?;
    let mut filler = Filler::new(name.to_owned());
    while let Some(c) = reader
        .next_cell()
        .map_err(|e| Unreadable::Sheet(e.to_string()))?
    {
        let (row, col) = c.get_position();
        let data = Data::from(c.get_value().clone());
        if !filler.cell(row, col, &data).map_err(Unreadable::File)? {
            return Ok(None);
        }
    }
    filler.finish().map(Some).map_err(Unreadable::File)
}

/// Reads each sheet named. Chart sheets and broken sheets are passed over; only a workbook
/// with no readable sheet is an error.
fn workbook(
    names: Vec<String>,
    mut read: impl FnMut(&str) -> Result<Sheet, Unreadable>,
) -> Result<Book, FileError> {
    let mut sheets = Vec::new();
    let mut failed = None;
    for name in names {
        match read(&name) {
            Ok(sheet) => sheets.push(sheet),
            Err(Unreadable::File(e)) => return Err(e),
            Err(Unreadable::Sheet(e)) => failed = Some(e),
        }
    }
    if sheets.is_empty() {
        return Err(match failed {
            Some(e) => FileError::NotSpreadsheet(format!("no sheet could be read ({e})")),
            None => FileError::Empty,
        });
    }
    Ok(Book {
        sheets,
        encoding: None,
    })
}

fn from_range(name: String, range: &calamine::Range<Data>) -> Result<Sheet, FileError> {
    // A range starts at its first used cell, not at A1.
    let (top, left) = range.start().unwrap_or((0, 0));
    let mut filler = Filler::new(name);
    for (row, col, data) in range.used_cells() {
        let (Ok(row), Ok(col)) = (u32::try_from(row), u32::try_from(col)) else {
            return Err(FileError::TooLarge);
        };
        filler.cell(top + row, left + col, data)?;
    }
    filler.finish()
}

/// Packs cells given in reading order (row by row, left to right, gaps allowed) into a sheet
/// whose rows are numbered as the spreadsheet numbers them: the blank rows between filled
/// ones are rows too (they are reported as skipped), the first filled row is the first row.
struct Filler {
    sheet: Sheet,
    /// The row being filled (0-based) and its next column.
    at: Option<(u32, u32)>,
}

impl Filler {
    fn new(name: String) -> Filler {
        Filler {
            sheet: Sheet::named(name),
            at: None,
        }
    }

    /// Adds a cell; `false` when it comes before one already added.
    fn cell(&mut self, row: u32, col: u32, data: &Data) -> Result<bool, FileError> {
        if matches!(data, Data::Empty) {
            return Ok(true);
        }
        let mut next = 0;
        match self.at {
            Some((r, c)) if row < r || (row == r && col < c) => return Ok(false),
            Some((r, c)) if row == r => next = c,
            Some((r, _)) => {
                for line in r + 1..=row {
                    self.sheet.end_row(line as usize)?;
                }
            }
            None => {}
        }
        for _ in next..col {
            self.sheet.push("", Kind::Text)?;
        }
        let c = cell(data);
        self.sheet.push(&c.text, c.kind)?;
        self.at = Some((row, col + 1));
        Ok(true)
    }

    fn finish(mut self) -> Result<Sheet, FileError> {
        if let Some((r, _)) = self.at {
            self.sheet.end_row(r as usize + 1)?;
        }
        Ok(self.sheet)
    }
}

fn cell(d: &Data) -> Cell {
    match d {
        Data::Empty => Cell::text(""),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => Cell::text(s.clone()),
        Data::Int(i) => Cell {
            text: i.to_string(),
            kind: Kind::Number,
        },
        Data::Float(f) => number(*f),
        Data::Bool(b) => Cell::text(if *b { "TRUE" } else { "FALSE" }),
        Data::DateTime(dt) if dt.is_datetime() => {
            let (y, mo, d, h, mi, s, _) = dt.to_ymd_hms_milli();
            let mut text = format!("{y:04}-{mo:02}-{d:02}");
            if (h, mi, s) != (0, 0, 0) {
                text.push_str(&format!(" {h:02}:{mi:02}:{s:02}"));
            }
            Cell::text(text)
        }
        Data::DateTime(dt) => number(dt.as_f64()),
        Data::Error(e) => Cell {
            text: e.to_string(),
            kind: Kind::Error,
        },
    }
}

/// Integers without `.0`; fractions to the 15 significant digits a spreadsheet shows, so a
/// computed `6543.499999999999` reads as `6543.5`.
fn number(f: f64) -> Cell {
    if !f.is_finite() {
        return Cell {
            text: f.to_string(),
            kind: Kind::Error,
        };
    }
    if f.fract() == 0.0 {
        let kind = if f.abs() > EXACT_LIMIT {
            Kind::LossyNumber
        } else {
            Kind::Number
        };
        return Cell {
            text: format!("{f:.0}"),
            kind,
        };
    }
    let shown: f64 = format!("{f:.14e}").parse().unwrap_or(f);
    Cell {
        text: shown.to_string(),
        kind: Kind::Number,
    }
}

/// The text of a CSV file and the encoding it was in.
/// UTF-8 text is borrowed, not copied: a county's CSV is tens of megabytes.
fn decode(bytes: &[u8]) -> Result<(Cow<'_, str>, &'static str), FileError> {
    if let Some(rest) = bytes.strip_prefix(b"\xef\xbb\xbf") {
        return std::str::from_utf8(rest)
            .map(|s| (Cow::Borrowed(s), "UTF-8"))
            .map_err(|_| FileError::Encoding);
    }
    if bytes.starts_with(b"\xff\xfe") {
        let (text, _, bad) = encoding_rs::UTF_16LE.decode(bytes);
        return if bad {
            Err(FileError::Encoding)
        } else {
            Ok((text, "UTF-16LE"))
        };
    }
    // Text never holds NUL; a PDF, an image or an unknown binary does.
    if bytes.contains(&0) {
        return Err(FileError::NotSpreadsheet(
            "binary content; send XLSX, XLS or CSV".into(),
        ));
    }
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Ok((Cow::Borrowed(s), "UTF-8"));
    }
    encoding_rs::GB18030
        .decode_without_bom_handling_and_without_replacement(bytes)
        .map(|s| (s, "GB18030"))
        .ok_or(FileError::Encoding)
}

/// CSV as RFC 4180 has it (quotes, doubled quotes, line breaks inside quotes), one record
/// per spreadsheet row. Written here rather than with the csv crate, which skips blank lines
/// and so would shift every row number below one.
fn csv(text: &str) -> Result<Sheet, FileError> {
    let delim = delimiter(text);
    let mut sheet = Sheet::named(String::new());
    // Sized once: the cells' text is at most the file's, and there is a cell for each
    // delimiter or line end at most. Grown by doubling, both would briefly be twice that.
    let ends = text
        .bytes()
        .filter(|b| *b == b'\n' || char::from(*b) == delim)
        .count();
    sheet.text.reserve(text.len());
    sheet.cells.reserve(ends + 1);
    let mut field = String::new();
    let mut quoted = false;
    let mut filled = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    field.push('"');
                    chars.next();
                }
                '"' => quoted = false,
                _ => field.push(c),
            }
            continue;
        }
        match c {
            // A quote opens a quoted field only at its start; elsewhere it is a character.
            '"' if field.is_empty() => {
                quoted = true;
                filled = true;
            }
            c if c == delim => {
                sheet.push(&field, Kind::Text)?;
                field.clear();
                filled = true;
            }
            '\r' | '\n' => {
                if c == '\r' && chars.peek() == Some(&'\n') {
                    chars.next();
                }
                sheet.push(&field, Kind::Text)?;
                field.clear();
                filled = false;
                sheet.end_row(sheet.len() + 1)?;
            }
            _ => {
                field.push(c);
                filled = true;
            }
        }
    }
    if filled || !field.is_empty() {
        sheet.push(&field, Kind::Text)?;
        sheet.end_row(sheet.len() + 1)?;
    }
    Ok(sheet)
}

/// Comma, unless the first lines hold more tabs (a "text" export) or semicolons.
fn delimiter(text: &str) -> char {
    let head: String = text.lines().take(20).collect();
    let count = |c| head.matches(c).count();
    let (commas, tabs, semis) = (count(','), count('\t'), count(';'));
    if tabs > commas && tabs >= semis {
        '\t'
    } else if semis > commas {
        ';'
    } else {
        ','
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(book: &Book) -> Vec<(usize, Vec<String>)> {
        let sheet = &book.sheets[0];
        (0..sheet.len())
            .map(|i| sheet.row(i))
            .map(|r| (r.line, r.cells.iter().map(|c| c.text.clone()).collect()))
            .collect()
    }

    #[test]
    fn csv_rows_are_spreadsheet_rows_blank_lines_and_quoted_breaks_included() {
        let text = "a,b\n\n\"x\ny\",z\nc,\"d \"\"q\"\"\"\r\n\r\ne,f";
        let book = read(text.as_bytes()).unwrap();
        assert_eq!(book.encoding, Some("UTF-8"));
        let got: Vec<usize> = lines(&book).iter().map(|(l, _)| *l).collect();
        assert_eq!(got, [1, 2, 3, 4, 5, 6]);
        assert_eq!(lines(&book)[2].1, ["x\ny", "z"]);
        assert_eq!(lines(&book)[3].1, ["c", "d \"q\""]);
        assert_eq!(lines(&book)[5].1, ["e", "f"]);
    }

    #[test]
    fn encodings_are_told_apart() {
        let (gbk, _, _) = encoding_rs::GB18030.encode("户编号,姓名\n1,马德福\n");
        let book = read(&gbk).unwrap();
        assert_eq!(book.encoding, Some("GB18030"));
        assert_eq!(lines(&book)[1].1, ["1", "马德福"]);
        let bom = [b"\xef\xbb\xbf".as_slice(), "户编号\t姓名\n".as_bytes()].concat();
        let book = read(&bom).unwrap();
        assert_eq!(lines(&book)[0].1, ["户编号", "姓名"]);
        assert!(matches!(read(b"\x81\x30\xff"), Err(FileError::Encoding)));
        assert!(matches!(
            read(b"%PDF\0\x01"),
            Err(FileError::NotSpreadsheet(_))
        ));
        assert!(matches!(read(b" \n"), Err(FileError::Empty)));
        assert!(matches!(
            read(b"PK\x03\x04junk"),
            Err(FileError::NotSpreadsheet(_))
        ));
    }

    #[test]
    fn packed_rows_give_back_their_cells_kinds_and_gaps() {
        let mut f = Filler::new("户".into());
        assert!(f.cell(2, 1, &Data::String("户编号".into())).unwrap());
        assert!(f.cell(2, 3, &Data::Float(640422198506120312.0)).unwrap());
        assert!(f.cell(5, 0, &Data::Int(7)).unwrap());
        assert!(f.cell(5, 2, &Data::Empty).unwrap());
        assert!(
            !f.cell(4, 0, &Data::Int(1)).unwrap(),
            "out of reading order"
        );
        let sheet = f.finish().unwrap();
        let rows: Vec<Row> = (0..sheet.len()).map(|i| sheet.row(i)).collect();
        let lines: Vec<usize> = rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, [3, 4, 5, 6], "the blank rows between are rows");
        let texts: Vec<&str> = rows[0].cells.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts, ["", "户编号", "", "640422198506120320"]);
        assert_eq!(rows[0].cells[3].kind, Kind::LossyNumber);
        assert!(rows[1].cells.is_empty() && rows[2].cells.is_empty());
        assert_eq!(
            rows[3].cells,
            [Cell {
                text: "7".into(),
                kind: Kind::Number
            }]
        );
    }

    #[test]
    fn numbers_read_as_a_spreadsheet_shows_them() {
        assert_eq!(number(3.0).text, "3");
        assert_eq!(number(6543.499999999999).text, "6543.5");
        assert_eq!(number(0.1 + 0.2).text, "0.3");
        assert_eq!(number(640422100201.0).kind, Kind::Number);
        let id = number(640422198506120312.0);
        assert_eq!(id.kind, Kind::LossyNumber);
        assert_eq!(number(13900000000.0).text, "13900000000");
    }
}
