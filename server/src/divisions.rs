//! Reading the statistical division codes (`code,name,level,parent_code`, the NBS list's
//! columns). Ningxia's list is built in (`server/data/`), so a fresh server
//! knows every village without an import.

use crate::store::Division;

/// Ningxia's 3,197 divisions (NBS 2022 codes).
pub const NINGXIA_CSV: &str = include_str!("../data/ningxia-divisions.csv");

const LEVELS: [(&str, usize); 5] = [
    ("province", 6),
    ("city", 6),
    ("county", 6),
    ("township", 9),
    ("village", 12),
];

#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("line {line}: {message}")]
    Line { line: usize, message: String },
    #[error("the header must be code,name,level,parent_code")]
    Header,
    #[error("{0}")]
    Csv(#[from] csv::Error),
}

/// Parses and checks a division file: known levels, codes of the right length, parents that
/// exist in the file (or are empty for the province).
pub fn parse(text: &str) -> Result<Vec<Division>, ParseError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header = reader.headers()?.clone();
    if header.iter().collect::<Vec<_>>() != ["code", "name", "level", "parent_code"] {
        return Err(ParseError::Header);
    }
    let mut out: Vec<Division> = Vec::new();
    for (i, row) in reader.records().enumerate() {
        let row = row?;
        let line = i + 2;
        let bad = |message: String| ParseError::Line { line, message };
        let field = |n: usize| row.get(n).unwrap_or("").to_owned();
        let (code, name, level, parent) = (field(0), field(1), field(2), field(3));
        let Some((_, len)) = LEVELS.iter().find(|(l, _)| *l == level) else {
            return Err(bad(format!("unknown level {level:?}")));
        };
        if code.len() != *len || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(format!(
                "a {level} code has {len} digits, got {code:?}"
            )));
        }
        if name.is_empty() {
            return Err(bad("empty name".into()));
        }
        out.push(Division {
            code,
            name,
            level,
            parent_code: (!parent.is_empty()).then_some(parent),
        });
    }
    let codes: std::collections::HashSet<&str> = out.iter().map(|d| d.code.as_str()).collect();
    for (i, d) in out.iter().enumerate() {
        if let Some(p) = &d.parent_code {
            if !codes.contains(p.as_str()) {
                return Err(ParseError::Line {
                    line: i + 2,
                    message: format!("parent {p} is not in the file"),
                });
            }
        } else if d.level != "province" {
            return Err(ParseError::Line {
                line: i + 2,
                message: format!("a {} needs a parent", d.level),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_file_parses_completely() {
        let all = parse(NINGXIA_CSV).unwrap();
        assert_eq!(all.len(), 3197);
        assert_eq!(all.iter().filter(|d| d.level == "village").count(), 2909);
        let v = all.iter().find(|d| d.code == "640104001002").unwrap();
        assert_eq!(
            (v.name.as_str(), v.parent_code.as_deref()),
            ("崇安社区居委会", Some("640104001"))
        );
    }

    #[test]
    fn errors_name_the_line() {
        let text =
            "code,name,level,parent_code\n640000,宁夏,province,\n64010400100,x,village,640000\n";
        let e = parse(text).unwrap_err().to_string();
        assert!(e.starts_with("line 3:"), "{e}");
        assert!(matches!(parse("a,b\n1,2\n"), Err(ParseError::Header)));
        let orphan = "code,name,level,parent_code\n640104,x,county,640100\n";
        assert!(
            parse(orphan)
                .unwrap_err()
                .to_string()
                .contains("parent 640100")
        );
    }
}
