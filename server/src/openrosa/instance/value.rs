//! One value of an instance, typed by its bind: the text formats JavaRosa writes.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime};

use crate::openrosa::problem::{Kind, Problem};
use crate::openrosa::xform::schema::ValueType;

#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    Text(String),
    Int(i64),
    Decimal(f64),
    Bool(bool),
    Date(Date),
    /// `08:56:00.000Z`, kept as sent: a time of day has no use here beyond display.
    Time(String),
    DateTime(OffsetDateTime),
    Point(Geopoint),
    /// A geotrace or geoshape.
    Points(Vec<Geopoint>),
    Choice(String),
    Choices(Vec<String>),
    /// The file name of an attachment.
    File(String),
}

/// A geopoint as Android reports it: WGS-84 latitude and longitude in degrees, altitude in
/// metres, accuracy radius in metres (0 or absent when the point was typed or placed by hand).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Geopoint {
    pub lat: f64,
    pub lon: f64,
    pub altitude: Option<f64>,
    pub accuracy: Option<f64>,
}

pub(super) fn invalid(zh: &str, en: &str, path: &str) -> Problem {
    Problem::new(Kind::Invalid, zh, en).at(path)
}

pub(super) fn typed(ty: &ValueType, v: &str, path: &str) -> Result<Answer, Problem> {
    Ok(match ty {
        ValueType::Text | ValueType::Other(_) => Answer::Text(v.to_owned()),
        ValueType::Int => Answer::Int(
            v.parse()
                .map_err(|_| invalid("不是整数", "not a whole number", path))?,
        ),
        ValueType::Decimal => Answer::Decimal(
            v.parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
                .ok_or_else(|| invalid("不是数字", "not a number", path))?,
        ),
        ValueType::Boolean => Answer::Bool(match v {
            "true" | "1" => true,
            "false" | "0" => false,
            _ => return Err(invalid("不是“是/否”", "not true or false", path)),
        }),
        ValueType::Date => Answer::Date(
            date(v)
                .ok_or_else(|| invalid("不是日期（年-月-日）", "not a date YYYY-MM-DD", path))?,
        ),
        ValueType::Time => Answer::Time(v.to_owned()),
        ValueType::DateTime => Answer::DateTime(
            date_time(v).ok_or_else(|| invalid("时间格式不对", "not a date and time", path))?,
        ),
        ValueType::Geopoint => Answer::Point(geopoint(v).ok_or_else(|| {
            invalid(
                "位置格式不对（应为“纬度 经度 高度 精度”）",
                "not a geopoint (lat lon altitude accuracy)",
                path,
            )
        })?),
        ValueType::Geotrace | ValueType::Geoshape => Answer::Points(
            v.split(';')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(geopoint)
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| invalid("轨迹或区域格式不对", "not a list of points", path))?,
        ),
        ValueType::Binary => Answer::File(
            file_name(v).ok_or_else(|| invalid("附件文件名不对", "not a plain file name", path))?,
        ),
        ValueType::Select1 => Answer::Choice(v.to_owned()),
        ValueType::Select => Answer::Choices(v.split_whitespace().map(str::to_owned).collect()),
    })
}

/// `YYYY-MM-DD` (JavaRosa writes dates alone, without a zone).
pub fn date(v: &str) -> Option<Date> {
    Date::parse(v, &format_description!("[year]-[month]-[day]")).ok()
}

/// JavaRosa's `2026-11-28T10:00:00.000+08:00`, and the shorter zones older tools write
/// (`+08`, `+0800`).
pub fn date_time(v: &str) -> Option<OffsetDateTime> {
    if let Ok(t) = OffsetDateTime::parse(v, &Rfc3339) {
        return Some(t);
    }
    let (head, zone) = v.split_at(v.rfind(['+', '-']).filter(|i| *i > 10)?);
    let fixed = match zone.len() {
        3 => format!("{head}{zone}:00"),
        5 => format!("{head}{}:{}", &zone[..3], &zone[3..]),
        _ => return None,
    };
    OffsetDateTime::parse(&fixed, &Rfc3339).ok()
}

/// `lat lon [altitude [accuracy]]`, separated by spaces.
pub fn geopoint(v: &str) -> Option<Geopoint> {
    let n: Vec<f64> = v
        .split_whitespace()
        .map(|s| s.parse::<f64>().ok().filter(|x| x.is_finite()))
        .collect::<Option<_>>()?;
    if !(2..=4).contains(&n.len()) {
        return None;
    }
    let p = Geopoint {
        lat: n[0],
        lon: n[1],
        altitude: n.get(2).copied(),
        accuracy: n.get(3).copied(),
    };
    let ok = (-90.0..=90.0).contains(&p.lat)
        && (-180.0..=180.0).contains(&p.lon)
        && p.accuracy.is_none_or(|a| a >= 0.0);
    ok.then_some(p)
}

/// A file name as Collect writes it: no directories, nothing hidden.
fn file_name(v: &str) -> Option<String> {
    let ok =
        !v.is_empty() && v.len() <= 255 && !v.starts_with('.') && !v.contains(['/', '\\', '\0']);
    ok.then(|| v.to_owned())
}
