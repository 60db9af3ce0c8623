//! The export as an Excel workbook: one sheet, the header row frozen, numbers as numbers and
//! everything else as text (so an ID-card number keeps all 18 digits).
//!
//! The sheet is written in `rust_xlsxwriter`'s constant-memory mode: each row goes to a
//! temporary file as soon as the next one starts, and strings are stored inline rather than in
//! a shared-string table that would grow with the households. The finished workbook is written
//! to a file the caller gives (a temporary file for HTTP), never assembled in memory.

use std::io::Write;

use rust_xlsxwriter::{Format, Workbook, XlsxError};

use super::row::{Cell, Row, headers};

const SHEET: &str = "农户";

/// Column widths in characters, by header; the rest get the default.
const WIDTHS: [(&str, f64); 8] = [
    ("(village_code)", 14.0),
    ("(village_name)", 18.0),
    ("(township)", 16.0),
    ("(address)", 30.0),
    ("(phone)", 14.0),
    ("(head_id_card)", 21.0),
    ("_checked_at)", 26.0),
    ("(household_id)", 38.0),
];

/// A workbook being written row by row.
pub struct Sheet {
    workbook: Workbook,
    next_row: u32,
}

impl Sheet {
    /// The household workbook with its header row written.
    pub fn new() -> Result<Sheet, XlsxError> {
        Sheet::with_headers(SHEET, &headers(), |header| {
            WIDTHS
                .iter()
                .find(|(key, _)| header.ends_with(key))
                .map(|(_, width)| *width)
        })
    }

    /// A workbook of one sheet named `name` with these headers (in bold, frozen) and the
    /// column widths `width_of` gives.
    pub fn with_headers(
        name: &str,
        headers: &[&str],
        width_of: impl Fn(&str) -> Option<f64>,
    ) -> Result<Sheet, XlsxError> {
        let mut workbook = Workbook::new();
        let sheet = workbook.add_worksheet_with_constant_memory()?;
        sheet.set_name(name)?;
        let bold = Format::new().set_bold();
        for (col, header) in (0u16..).zip(headers) {
            sheet.write_string_with_format(0, col, *header, &bold)?;
            if let Some(width) = width_of(header) {
                sheet.set_column_width(col, width)?;
            }
        }
        sheet.set_freeze_panes(1, 0)?;
        Ok(Sheet {
            workbook,
            next_row: 1,
        })
    }

    /// Appends rows below those written so far.
    pub fn write(&mut self, rows: &[Row]) -> Result<(), XlsxError> {
        self.write_cells(rows.iter().map(|r| r.cells.as_slice()))
    }

    /// Appends rows of cells below those written so far.
    pub fn write_cells<'a>(
        &mut self,
        rows: impl IntoIterator<Item = &'a [Cell]>,
    ) -> Result<(), XlsxError> {
        let sheet = self.workbook.worksheet_from_index(0)?;
        for row in rows {
            for (col, cell) in (0u16..).zip(row) {
                match cell {
                    Cell::Text(s) => {
                        sheet.write_string(self.next_row, col, s)?;
                    }
                    Cell::Number(n) => {
                        sheet.write_number(self.next_row, col, *n)?;
                    }
                    Cell::Empty => {}
                }
            }
            self.next_row += 1;
        }
        Ok(())
    }

    /// Writes the finished workbook to `out`.
    pub fn save(mut self, out: impl Write + Send) -> Result<(), XlsxError> {
        let mut out = std::io::BufWriter::new(out);
        self.workbook.save_to_writer(&mut out)?;
        out.flush()?;
        Ok(())
    }
}
