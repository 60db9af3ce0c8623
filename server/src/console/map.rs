//! A village's map: its boundary (the area its fixes are judged against: the village's own
//! shape or circle, its township's shape, or the county's built-in one) and the month's
//! visit, check and check-in points coloured by their GPS verdict.
//!
//! The server makes one GeoJSON FeatureCollection (served at `…/points.geojson` for other
//! tools) and draws the page's SVG from that same collection, so the map needs no tile server
//! and no script. With `console.tile_url` set, Web Mercator tiles are laid under it.

use axum::extract::State;
use axum::http::{HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::ConsoleError;
use super::i18n::Lang;
use super::layout::{self, Nav};
use super::scope::Scope;
use super::session::Viewer;
use super::{P, Q, here, url_encode};
use crate::access::{self, Action};
use crate::attendance::load;
use crate::service::attendance as ops;
use crate::state::AppState;
use crate::store::StoredArea;

#[derive(Deserialize)]
pub struct MapQuery {
    village: Option<String>,
    month: Option<String>,
}

/// The village asked for, if the viewer may see where its households are.
fn check_village(v: &Viewer, scope: &Scope, village: &str) -> Result<(), ConsoleError> {
    if scope.villages.contains(village)
        && access::allowed(
            v.caller.role,
            fieldsync_protocol::registry::HOUSEHOLD.name,
            Action::Read,
        )
    {
        Ok(())
    } else {
        Err(ConsoleError::not_found())
    }
}

/// A circle as a 64-sided polygon, for drawing.
fn circle(lat: f64, lon: f64, radius_m: f64) -> Value {
    let dlat = radius_m / 111_320.0;
    let dlon = dlat / lat.to_radians().cos().max(0.01);
    let ring: Vec<[f64; 2]> = (0..=64)
        .map(|i| {
            let a = f64::from(i) / 64.0 * std::f64::consts::TAU;
            [lon + dlon * a.cos(), lat + dlat * a.sin()]
        })
        .collect();
    json!({"type": "Polygon", "coordinates": [ring]})
}

/// The month's points of a village and its boundary as a GeoJSON FeatureCollection (WGS-84).
pub async fn collection(
    state: &AppState,
    village: &str,
    month: (i32, time::Month),
) -> Result<Value, ConsoleError> {
    let (from, to) = load::month_ms(month).ok_or_else(|| ConsoleError::bad("no such month"))?;
    let (area, geometry) = match state.store().stored_village_area(village).await? {
        Some(StoredArea::VillageShape(g)) => ("village_shape", g),
        Some(StoredArea::VillageCircle(c)) => ("village_circle", circle(c.lat, c.lon, c.radius_m)),
        Some(StoredArea::TownshipShape(g)) => ("township_shape", g),
        None => match crate::geo::county_of(village).map(|c| &c.area) {
            Some(crate::geo::Boundary::Area(a)) => {
                ("county_shape", crate::geo::counties::geometry_json(a))
            }
            Some(crate::geo::Boundary::Circle { centre, radius_m }) => {
                ("county_shape", circle(centre.lat, centre.lon, *radius_m))
            }
            None => ("none", Value::Null),
        },
    };
    let mut features = vec![json!({
        "type": "Feature",
        "geometry": geometry,
        "properties": {"kind": "boundary", "area": area, "village": village},
    })];
    for p in state.store().village_points(village, from, to).await? {
        let verdict = p.gps_verdict.map(|v| v.0).unwrap_or_default();
        let ok = verdict["ok"].as_bool().unwrap_or(false);
        features.push(json!({
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [p.lon, p.lat]},
            "properties": {
                "kind": "point",
                "record_id": p.record_id,
                "entity": p.entity,
                "at": crate::clock::rfc3339_of_ms(p.fix_at),
                "verdict": if ok { "ok" } else { "doubted" },
                "reasons": verdict["reasons"].clone(),
            },
        }));
    }
    Ok(json!({"type": "FeatureCollection", "features": features}))
}

pub async fn geojson(
    State(state): State<AppState>,
    v: Viewer,
    P(village): P<String>,
    Q(q): Q<MapQuery>,
) -> Result<Response, ConsoleError> {
    let scope = Scope::of(&state, &v).await?;
    check_village(&v, &scope, &village)?;
    let month = ops::month_of(q.month.as_deref().filter(|m| !m.is_empty()))?;
    let body = collection(&state, &village, month).await?;
    let mut r = body.to_string().into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/geo+json"),
    );
    Ok(r)
}

pub async fn page(
    State(state): State<AppState>,
    v: Viewer,
    uri: Uri,
    Q(q): Q<MapQuery>,
) -> Result<Response, ConsoleError> {
    let l = v.lang;
    let scope = Scope::of(&state, &v).await?;
    let village = q
        .village
        .clone()
        .filter(|s| !s.is_empty())
        .or_else(|| scope.villages.iter().next().cloned());
    let month = ops::month_of(q.month.as_deref().filter(|m| !m.is_empty()))?;
    let month_text = ops::month_text(month);
    let drawn = match &village {
        Some(code) => {
            check_village(&v, &scope, code)?;
            let fc = collection(&state, code, month).await?;
            Some((
                svg(l, &fc, state.settings().console.tile_url.as_deref()),
                fc,
            ))
        }
        None => None,
    };
    let body = html! {
        form.filters method="get" action="/console/map" {
            label { (l.t("村", "Village")) select name="village" data-auto { (scope.village_options(village.as_deref())) } }
            label { (l.t("月份", "Month")) input type="month" name="month" value=(month_text); }
            button type="submit" { (l.t("查看", "Show")) }
            @if let Some(code) = &village {
                a href=(format!("/console/map/{}/points.geojson?month={month_text}", url_encode(code))) { "GeoJSON" }
            }
        }
        @if let Some((picture, fc)) = &drawn {
            @let points = fc["features"].as_array().map_or(0, |f| f.len().saturating_sub(1));
            @let doubted = fc["features"].as_array().map_or(0, |f| f.iter().filter(|x| x["properties"]["verdict"] == "doubted").count());
            p.legend {
                span { span.dot.ok {} " " (l.t("定位可信", "GPS fix trusted")) }
                span { span.dot.doubted {} " " (l.t("定位存疑", "GPS fix doubted")) }
                span.muted data-testid="point-count" { (points) " " (l.t("个点", "points")) ", " (doubted) " " (l.t("个存疑", "doubted")) }
                span.muted { (area_name(l, fc["features"][0]["properties"]["area"].as_str().unwrap_or(""))) }
            }
            div.map { (picture) }
        } @else {
            p.muted { (l.t("您没有可查看的村", "No villages to show")) }
        }
    };
    Ok(layout::page(
        &v,
        Nav::Map,
        l.t("走访地图", "Visit map"),
        &here(&uri),
        body,
    )
    .into_response())
}

fn area_name(l: Lang, area: &str) -> &'static str {
    match area {
        "village_shape" => l.t("边界：村界", "Boundary: the village's shape"),
        "village_circle" => l.t("边界：村范围（圆）", "Boundary: the village's circle"),
        "township_shape" => l.t(
            "边界：乡镇界（未导入村界）",
            "Boundary: the township (no village shape imported)",
        ),
        "county_shape" => l.t(
            "边界：县界（未导入村界）",
            "Boundary: the county (no village shape imported)",
        ),
        _ => l.t("无边界", "No boundary"),
    }
}

const WIDTH: f64 = 1000.0;

/// Web Mercator: x in [0, 1) across the world, y in [0, 1) from the north.
fn mercator(lon: f64, lat: f64) -> (f64, f64) {
    let lat = lat.clamp(-85.0, 85.0).to_radians();
    (
        (lon + 180.0) / 360.0,
        (1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0,
    )
}

/// Every `[lon, lat]` pair in a geometry's coordinates.
fn positions(v: &Value, out: &mut Vec<(f64, f64)>) {
    match v {
        Value::Array(a) if a.len() >= 2 && a[0].is_number() && a[1].is_number() => {
            if let (Some(x), Some(y)) = (a[0].as_f64(), a[1].as_f64()) {
                out.push((x, y));
            }
        }
        Value::Array(a) => a.iter().for_each(|x| positions(x, out)),
        _ => {}
    }
}

/// The map as SVG, in Web Mercator, fitted to the boundary and the points.
fn svg(l: Lang, fc: &Value, tile_url: Option<&str>) -> Markup {
    let features = fc["features"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    let mut all = Vec::new();
    for f in features {
        positions(&f["geometry"]["coordinates"], &mut all);
    }
    let projected: Vec<(f64, f64)> = all.iter().map(|(lon, lat)| mercator(*lon, *lat)).collect();
    let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for (x, y) in &projected {
        x0 = x0.min(*x);
        y0 = y0.min(*y);
        x1 = x1.max(*x);
        y1 = y1.max(*y);
    }
    if projected.is_empty() {
        return html! { p.muted { (l.t("没有可画的内容", "Nothing to draw")) } };
    }
    // A margin, and never less than ~100 m across (one point alone).
    let span = (x1 - x0).max(y1 - y0).max(1e-6);
    let (x0, y0) = (x0 - span * 0.05, y0 - span * 0.05);
    let span = span * 1.1;
    let scale = WIDTH / span;
    let height = ((y1 - y0 + span * 0.05) * scale).clamp(200.0, WIDTH);
    let at = |lon: f64, lat: f64| {
        let (x, y) = mercator(lon, lat);
        ((x - x0) * scale, (y - y0) * scale)
    };
    let path = |g: &Value| -> String {
        let polygons: Vec<&Value> = match g["type"].as_str() {
            Some("Polygon") => vec![&g["coordinates"]],
            Some("MultiPolygon") => g["coordinates"]
                .as_array()
                .map(|a| a.iter().collect())
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let mut d = String::new();
        for rings in polygons {
            for ring in rings.as_array().into_iter().flatten() {
                for (i, p) in ring.as_array().into_iter().flatten().enumerate() {
                    let (Some(lon), Some(lat)) = (p[0].as_f64(), p[1].as_f64()) else {
                        continue;
                    };
                    let (x, y) = at(lon, lat);
                    d.push_str(&format!("{}{x:.1},{y:.1} ", if i == 0 { "M" } else { "L" }));
                }
                d.push_str("Z ");
            }
        }
        d
    };
    let tiles = tile_url
        .map(|url| tiles(url, x0, y0, span, scale))
        .unwrap_or_default();
    html! {
        svg xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 {WIDTH} {height:.0}")) role="img" aria-label=(l.t("村地图", "Village map")) data-testid="map" {
            @for (href, x, y, size) in &tiles {
                image href=(href) x=(format!("{x:.1}")) y=(format!("{y:.1}")) width=(format!("{size:.1}")) height=(format!("{size:.1}")) {}
            }
            @for f in features.iter().filter(|f| f["properties"]["kind"] == "boundary") {
                path d=(path(&f["geometry"])) fill="#ffffff88" stroke="#b3261e" stroke-width="2" {}
            }
            @for f in features.iter().filter(|f| f["properties"]["kind"] == "point") {
                @let c = &f["geometry"]["coordinates"];
                @let (x, y) = at(c[0].as_f64().unwrap_or_default(), c[1].as_f64().unwrap_or_default());
                @let ok = f["properties"]["verdict"] == "ok";
                circle cx=(format!("{x:.1}")) cy=(format!("{y:.1}")) r="6" fill=(if ok { "#1b7f3b" } else { "#d97706" }) stroke="#fff" stroke-width="1.5" data-verdict=(if ok { "ok" } else { "doubted" }) {
                    title { (l.entity(f["properties"]["entity"].as_str().unwrap_or(""))) " " (f["properties"]["at"].as_str().unwrap_or("")) }
                }
            }
        }
    }
}

/// The tiles covering the view at the zoom that fits it: `(url, x, y, size)` in view units.
fn tiles(url: &str, x0: f64, y0: f64, span: f64, scale: f64) -> Vec<(String, f64, f64, f64)> {
    // The zoom whose 256-pixel tiles come closest to the view's own scale.
    let zoom = ((WIDTH / 256.0 / span).log2().floor() as i32).clamp(1, 18);
    let n = f64::from(1u32 << zoom);
    let size = scale / n;
    let first_x = (x0 * n).floor() as i64;
    let first_y = (y0 * n).floor() as i64;
    let last = ((x0 + span) * n).floor() as i64;
    let last_y = ((y0 + span) * n).floor() as i64;
    let mut out = Vec::new();
    for tx in first_x..=last {
        for ty in first_y..=last_y {
            let href = url
                .replace("{z}", &zoom.to_string())
                .replace("{x}", &tx.to_string())
                .replace("{y}", &ty.to_string());
            out.push((
                href,
                (tx as f64 / n - x0) * scale,
                (ty as f64 / n - y0) * scale,
                size,
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mercator_puts_the_equator_and_greenwich_in_the_middle() {
        let (x, y) = mercator(0.0, 0.0);
        assert!((x - 0.5).abs() < 1e-12 && (y - 0.5).abs() < 1e-12);
        let (_, north) = mercator(106.2, 38.5);
        assert!(north < 0.5, "north is up");
    }

    #[test]
    fn points_are_drawn_inside_the_view_and_coloured_by_verdict() {
        let fc = json!({"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"kind": "boundary"},
             "geometry": {"type": "Polygon", "coordinates": [[[106.0, 38.0], [106.1, 38.0], [106.1, 38.1], [106.0, 38.1], [106.0, 38.0]]]}},
            {"type": "Feature", "properties": {"kind": "point", "verdict": "ok", "entity": "visit"},
             "geometry": {"type": "Point", "coordinates": [106.05, 38.05]}},
            {"type": "Feature", "properties": {"kind": "point", "verdict": "doubted", "entity": "presence"},
             "geometry": {"type": "Point", "coordinates": [106.2, 38.2]}},
        ]});
        let out = svg(Lang::En, &fc, None).into_string();
        assert_eq!(out.matches("<circle").count(), 2);
        assert!(out.contains(r#"data-verdict="ok""#) && out.contains(r#"data-verdict="doubted""#));
        assert_eq!(out.matches("<path").count(), 1);
        let with_tiles =
            svg(Lang::En, &fc, Some("https://t.example/{z}/{x}/{y}.png")).into_string();
        assert!(
            with_tiles.contains("https://t.example/"),
            "tiles laid under the map"
        );
        assert!(!with_tiles.contains("{z}"));
    }
}
