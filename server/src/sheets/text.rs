//! Text as county offices type it: full-width digits and letters from Chinese input methods,
//! ideographic spaces, numbers kept as text with a leading apostrophe. Every cell and header
//! passes through here, so the rest of the module compares plain half-width text.

use time::Date;

/// Full-width ASCII (U+FF01–FF5E) to half-width and the ideographic space to a space; drops
/// byte-order marks and zero-width spaces that survive copy and paste.
pub fn half_width(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, '\u{feff}' | '\u{200b}' | '\u{200c}' | '\u{200d}'))
        .map(|c| match c {
            '\u{ff01}'..='\u{ff5e}' => char::from_u32(c as u32 - 0xfee0).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        })
        .collect()
}

/// A text cell: half-width, trimmed.
pub fn clean(s: &str) -> String {
    half_width(s).trim().to_owned()
}

/// A number-like cell (户编号, ID card, phone, code): no whitespace at all, and without the
/// marks spreadsheets use to keep digits as text (`'640…`, `="640…"`, a leading tab).
pub fn compact(s: &str) -> String {
    let s: String = half_width(s)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let s = s.strip_prefix('\'').unwrap_or(&s);
    let s = s
        .strip_prefix("=\"")
        .and_then(|rest| rest.strip_suffix('"'))
        .unwrap_or(s);
    s.to_owned()
}

/// A header cell: [`compact`] without the `*` marking required columns.
pub fn header(s: &str) -> String {
    compact(s).trim_matches('*').to_owned()
}

/// A header without a trailing unit in brackets: `人均纯收入(元)` → `人均纯收入`,
/// `乡(镇)` → `乡`. `None` when there is no such suffix.
pub fn without_unit(h: &str) -> Option<&str> {
    let (open, close) = match h.chars().last()? {
        ')' => ('(', ')'),
        ']' => ('[', ']'),
        '】' => ('【', '】'),
        _ => return None,
    };
    let start = h.rfind(open)?;
    let stem = &h[..start];
    let inner = &h[start + open.len_utf8()..h.len() - close.len_utf8()];
    (!stem.is_empty() && inner.chars().count() <= 8).then_some(stem)
}

/// Dates as offices write them: `1985-06-12`, `1985/6/12`, `1985.6.12`, `19850612`,
/// `1985年6月12日`, with an optional time after a space or `T` (a date cell's text).
pub fn date(s: &str) -> Option<Date> {
    let s = s.trim();
    let s = s.split([' ', 'T']).next().unwrap_or(s);
    let parts: Vec<&str> = if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
        vec![&s[0..4], &s[4..6], &s[6..8]]
    } else {
        s.trim_end_matches('日')
            .split(['-', '/', '.', '年', '月'])
            .collect()
    };
    let [y, m, d] = parts[..] else { return None };
    if y.len() != 4 || m.is_empty() || m.len() > 2 || d.is_empty() || d.len() > 2 {
        return None;
    }
    let month = time::Month::try_from(m.parse::<u8>().ok()?).ok()?;
    let date = Date::from_calendar_date(y.parse().ok()?, month, d.parse().ok()?).ok()?;
    (1900..=2100).contains(&date.year()).then_some(date)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_width_and_marks_are_undone() {
        assert_eq!(half_width("６４０４２２（元）ＡＢｘ"), "640422(元)ABx");
        assert_eq!(compact(" ６４０　４２２\t"), "640422");
        assert_eq!(compact("'640422"), "640422");
        assert_eq!(compact("=\"640422\""), "640422");
        assert_eq!(header("* 户 编 号"), "户编号");
        assert_eq!(clean("\u{feff}　马德福 "), "马德福");
    }

    #[test]
    fn units_in_brackets_are_found() {
        assert_eq!(without_unit("人均纯收入(元)"), Some("人均纯收入"));
        assert_eq!(without_unit("乡(镇)"), Some("乡"));
        assert_eq!(without_unit("收入【元/年】"), Some("收入"));
        assert_eq!(without_unit("(元)"), None);
        assert_eq!(without_unit("姓名"), None);
    }

    #[test]
    fn dates_in_office_spellings() {
        for s in [
            "1985-06-12",
            "1985/6/12",
            "1985.6.12",
            "19850612",
            "1985年6月12日",
            "1985-06-12 00:00:00",
            "1985-06-12T00:00:00",
        ] {
            assert_eq!(
                date(s).map(crate::clock::iso).as_deref(),
                Some("1985-06-12"),
                "{s}"
            );
        }
        for s in ["1985-13-01", "85-6-12", "1985-02-30", "abc", "1985-06"] {
            assert_eq!(date(s), None, "{s}");
        }
    }
}
