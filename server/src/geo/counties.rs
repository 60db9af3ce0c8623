//! County boundaries from GeoJSON, converted to WGS-84.
//!
//! The only public polygons for Ningxia are the 22 county-level divisions, published by a
//! Chinese web-map provider in GCJ-02. Read as WGS-84 they sit 300–500 m off, so every vertex is
//! converted from the file's declared system. The reader takes a FeatureCollection of Polygon
//! or MultiPolygon features with properties `adcode` and `name` and nothing else, checked
//! thoroughly: boundary files come from outside, and a wrong one must be an error that names the
//! feature and position, never a panic or a silently wrong shape.

use std::collections::HashSet;

use fieldsync_protocol::gps::{Crs, LatLon};
use geo::{LineString, MultiPolygon, Polygon};
use serde_json::Value;

use crate::geo::convert::to_wgs84;
use crate::geo::{Area, Boundary, FeatureProblem, GeoError};

/// Ningxia's 22 county-level boundaries (adcode, name), GCJ-02, ~8,200 vertices.
pub const NINGXIA_COUNTIES_GCJ02: &str = include_str!("../../data/ningxia-counties.geojson");

/// The built-in county that holds a division code (its first six digits), parsed and
/// converted to WGS-84 once per process.
pub fn county_of(code: &str) -> Option<&'static County> {
    static COUNTIES: std::sync::OnceLock<Vec<County>> = std::sync::OnceLock::new();
    // The built-in file parses (a test says so); were it ever broken, fixes would simply be
    // judged without a county.
    let all = COUNTIES
        .get_or_init(|| parse_counties(NINGXIA_COUNTIES_GCJ02, Crs::Gcj02).unwrap_or_default());
    let county = code.get(..6)?;
    all.iter().find(|c| c.code == county)
}

#[derive(Clone, Debug)]
pub struct County {
    /// The 6-digit division code (adcode), e.g. "640104".
    pub code: String,
    pub name: String,
    /// WGS-84.
    pub area: Boundary,
}

/// What a boundary file is read as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// The county file: 6-digit `adcode` and a `name` on every feature.
    Counties,
    /// An administrator's import of village (or township) shapes: the code in `code` or
    /// `adcode`, 6 to 12 digits (checked against the division list by the caller), `name`
    /// optional.
    Divisions,
}

/// Reads a FeatureCollection whose coordinates are in `crs`, returning the shapes in WGS-84.
pub fn parse_counties(geojson: &str, crs: Crs) -> Result<Vec<County>, GeoError> {
    parse(geojson, crs, Expect::Counties)
}

/// Reads an administrator's FeatureCollection of division shapes (villages, townships) whose
/// coordinates are in `crs`, returning them in WGS-84.
pub fn parse_division_shapes(geojson: &str, crs: Crs) -> Result<Vec<County>, GeoError> {
    parse(geojson, crs, Expect::Divisions)
}

/// A Polygon or MultiPolygon geometry object in `crs`, as a WGS-84 area.
pub fn parse_geometry(geometry: &Value, crs: Crs) -> Result<Area, FeatureProblem> {
    let kind = geometry.get("type").and_then(Value::as_str);
    let coordinates = geometry.get("coordinates");
    let polygons = match (kind, coordinates) {
        (Some("Polygon"), Some(c)) => vec![polygon(c, 0, crs)?],
        (Some("MultiPolygon"), Some(c)) => array(c, "the coordinates")?
            .iter()
            .enumerate()
            .map(|(i, p)| polygon(p, i, crs))
            .collect::<Result<_, _>>()?,
        (Some(kind @ ("Polygon" | "MultiPolygon")), None) => {
            return Err(bad(kind.to_owned(), "has no coordinates"));
        }
        (other, _) => {
            let kind = other.map_or_else(|| "missing".to_owned(), str::to_owned);
            return Err(FeatureProblem::UnsupportedGeometry(kind));
        }
    };
    Area::new(MultiPolygon(polygons)).map_err(|_| bad("the geometry".into(), "is empty"))
}

/// The area as a GeoJSON MultiPolygon geometry (WGS-84), the form it is stored in.
pub fn geometry_json(area: &Area) -> Value {
    let ring = |r: &LineString<f64>| -> Vec<[f64; 2]> { r.coords().map(|c| [c.x, c.y]).collect() };
    let polygons: Vec<Vec<Vec<[f64; 2]>>> = area
        .shape()
        .0
        .iter()
        .map(|p| {
            std::iter::once(p.exterior())
                .chain(p.interiors())
                .map(ring)
                .collect()
        })
        .collect();
    serde_json::json!({"type": "MultiPolygon", "coordinates": polygons})
}

fn parse(geojson: &str, crs: Crs, expect: Expect) -> Result<Vec<County>, GeoError> {
    let root: Value = serde_json::from_str(geojson)?;
    let features = match (root.get("type"), root.get("features")) {
        (Some(t), Some(Value::Array(features))) if t == "FeatureCollection" => features,
        _ => return Err(GeoError::NotFeatureCollection),
    };
    let mut seen = HashSet::new();
    let mut counties = Vec::with_capacity(features.len());
    for (index, feature) in features.iter().enumerate() {
        let county = parse_feature(feature, crs, expect)
            .map_err(|problem| GeoError::Feature { index, problem })?;
        if !seen.insert(county.code.clone()) {
            let problem = FeatureProblem::DuplicateAdcode(county.code);
            return Err(GeoError::Feature { index, problem });
        }
        counties.push(county);
    }
    Ok(counties)
}

fn parse_feature(feature: &Value, crs: Crs, expect: Expect) -> Result<County, FeatureProblem> {
    if feature.get("type").is_none_or(|t| t != "Feature") {
        return Err(FeatureProblem::NotAFeature);
    }
    let properties = feature.get("properties");
    let code = match expect {
        Expect::Counties => adcode(properties.and_then(|p| p.get("adcode")))?,
        Expect::Divisions => division_code(properties)?,
    };
    let name = match properties
        .and_then(|p| p.get("name"))
        .and_then(Value::as_str)
    {
        Some(name) if !name.trim().is_empty() => name.trim().to_owned(),
        _ if expect == Expect::Divisions => String::new(),
        _ => return Err(FeatureProblem::MissingProperty("name")),
    };
    let geometry = feature.get("geometry").filter(|g| !g.is_null());
    let area = match geometry {
        Some(g) => parse_geometry(g, crs)?,
        None => return Err(FeatureProblem::UnsupportedGeometry("missing".to_owned())),
    };
    Ok(County {
        code,
        name,
        area: Boundary::Area(area),
    })
}

/// `adcode` as a 6-digit string; the county file has numbers, other sources strings.
fn adcode(value: Option<&Value>) -> Result<String, FeatureProblem> {
    let text = match value {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.trim().to_owned(),
        _ => return Err(FeatureProblem::MissingProperty("adcode")),
    };
    let valid =
        text.len() == 6 && text.bytes().all(|b| b.is_ascii_digit()) && !text.starts_with('0');
    if valid {
        Ok(text)
    } else {
        Err(FeatureProblem::BadAdcode(text))
    }
}

/// A division code of 6 to 12 digits from `code` (or `adcode`), as text.
fn division_code(properties: Option<&Value>) -> Result<String, FeatureProblem> {
    let value = properties.and_then(|p| p.get("code").or_else(|| p.get("adcode")));
    let text = match value {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.trim().to_owned(),
        _ => return Err(FeatureProblem::MissingProperty("code")),
    };
    if (6..=12).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit()) {
        Ok(text)
    } else {
        Err(FeatureProblem::BadCode(text))
    }
}

fn polygon(value: &Value, index: usize, crs: Crs) -> Result<Polygon<f64>, FeatureProblem> {
    let rings = array(value, &format!("polygon {index}"))?;
    let mut rings = rings.iter().enumerate().map(|(r, ring)| {
        let at = format!("polygon {index}, ring {r}");
        linear_ring(ring, &at, crs)
    });
    let exterior = rings
        .next()
        .ok_or_else(|| bad(format!("polygon {index}"), "has no rings"))??;
    let interiors = rings.collect::<Result<_, _>>()?;
    Ok(Polygon::new(exterior, interiors))
}

fn linear_ring(value: &Value, at: &str, crs: Crs) -> Result<LineString<f64>, FeatureProblem> {
    let positions = array(value, at)?;
    if positions.len() < 4 {
        let len = positions.len();
        return Err(FeatureProblem::ShortRing {
            at: at.to_owned(),
            len,
        });
    }
    let raw = positions
        .iter()
        .enumerate()
        .map(|(i, p)| position(p).map_err(|reason| bad(format!("{at}, position {i}"), reason)))
        .collect::<Result<Vec<LatLon>, _>>()?;
    if raw.first() != raw.last() {
        return Err(FeatureProblem::UnclosedRing { at: at.to_owned() });
    }
    Ok(raw
        .into_iter()
        .map(|p| {
            let w = to_wgs84(p.lat, p.lon, crs);
            (w.lon, w.lat)
        })
        .collect())
}

/// A GeoJSON position: `[longitude, latitude]`, optionally followed by an altitude (ignored).
fn position(value: &Value) -> Result<LatLon, &'static str> {
    let numbers = match value.as_array() {
        Some(a) if a.len() >= 2 => a,
        _ => return Err("a position must be [longitude, latitude]"),
    };
    let (Some(lon), Some(lat)) = (numbers[0].as_f64(), numbers[1].as_f64()) else {
        return Err("longitude and latitude must be numbers");
    };
    if !(-180.0..=180.0).contains(&lon) {
        return Err("longitude is not within -180..180");
    }
    if !(-90.0..=90.0).contains(&lat) {
        return Err("latitude is not within -90..90");
    }
    Ok(LatLon { lat, lon })
}

fn array<'a>(value: &'a Value, at: &str) -> Result<&'a Vec<Value>, FeatureProblem> {
    value
        .as_array()
        .ok_or_else(|| bad(at.to_owned(), "must be an array"))
}

fn bad(at: String, reason: &str) -> FeatureProblem {
    FeatureProblem::BadCoordinates {
        at,
        reason: reason.to_owned(),
    }
}

/// The built-in file, parsed once for all tests.
#[cfg(test)]
pub(crate) fn built_in() -> &'static [County] {
    static COUNTIES: std::sync::LazyLock<Vec<County>> = std::sync::LazyLock::new(|| {
        parse_counties(NINGXIA_COUNTIES_GCJ02, Crs::Gcj02).expect("the built-in county file parses")
    });
    &COUNTIES
}

#[cfg(test)]
#[path = "counties_tests.rs"]
mod tests;
