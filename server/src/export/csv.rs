//! The export as CSV: UTF-8 with a byte-order mark, because Excel (and WPS) read a CSV without
//! one in the system's legacy code page and turn every Chinese name into mojibake. Written a
//! page of rows at a time, so the HTTP endpoint can send each page as it is made.
//!
//! Values are written as they are, digits included: Excel shows an 18-digit ID-card number
//! opened from a CSV as a rounded number, so officials who open exports in Excel take the XLSX,
//! where every value is typed. Text that Excel would run as a formula (`=`, `+`, `-`, `@` first)
//! is prefixed with `'`: names and addresses come from phones, and a spreadsheet must not run
//! what a phone typed.

use super::row::{Cell, Row, headers};

const BOM: &[u8] = "\u{feff}".as_bytes();

/// The start of the household file: the byte-order mark and the header row.
pub fn csv_preamble() -> Result<Vec<u8>, ::csv::Error> {
    csv_header(&headers())
}

/// The byte-order mark (so Excel reads UTF-8) and a header row.
pub fn csv_header(headers: &[&str]) -> Result<Vec<u8>, ::csv::Error> {
    let mut w = writer(BOM.to_vec());
    w.write_record(headers)?;
    into_bytes(w)
}

/// The lines of a page of rows.
pub fn csv_rows(rows: &[Row]) -> Result<Vec<u8>, ::csv::Error> {
    csv_cells(rows.iter().map(|r| r.cells.as_slice()))
}

/// The lines of rows of cells.
pub fn csv_cells<'a>(rows: impl IntoIterator<Item = &'a [Cell]>) -> Result<Vec<u8>, ::csv::Error> {
    let mut w = writer(Vec::new());
    for row in rows {
        w.write_record(row.iter().map(text))?;
    }
    into_bytes(w)
}

fn writer(buffer: Vec<u8>) -> ::csv::Writer<Vec<u8>> {
    ::csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(buffer)
}

fn into_bytes(w: ::csv::Writer<Vec<u8>>) -> Result<Vec<u8>, ::csv::Error> {
    w.into_inner().map_err(|e| e.into_error().into())
}

fn text(cell: &Cell) -> String {
    match cell {
        Cell::Text(s) if s.starts_with(['=', '+', '-', '@', '\t', '\r']) => format!("'{s}"),
        Cell::Text(s) => s.clone(),
        Cell::Number(n) => n.to_string(),
        Cell::Empty => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn starts_with_a_bom_and_quotes_what_needs_it() {
        let head = csv_preamble().unwrap();
        assert!(head.starts_with(BOM));
        let head = String::from_utf8(head[BOM.len()..].to_vec()).unwrap();
        assert!(head.starts_with("村代码 (village_code),村名 (village_name),"));
        assert!(head.ends_with("记录编号 (household_id)\n"));

        let row = Row {
            household_id: Uuid::nil(),
            village: "640104001002".into(),
            cells: vec![
                Cell::Text("马, 大".into()),
                Cell::Text("=1+2".into()),
                Cell::Number(5200.5),
                Cell::Number(4.0),
                Cell::Empty,
            ],
            disclosed: Vec::new(),
        };
        let body = String::from_utf8(csv_rows(&[row]).unwrap()).unwrap();
        assert_eq!(body, "\"马, 大\",'=1+2,5200.5,4,\n");
    }
}
