//! `admin set-village-area` and `admin import-boundaries`: the areas GPS fixes are held against
//! when the built-in county shapes are too coarse.

use std::path::Path;

use anyhow::{Context, bail};
use fieldsync_protocol::gps::Crs;

use crate::clock;
use crate::geo::{geometry_json, parse_division_shapes};
use crate::store::{DivisionShape, Store, VillageArea};

pub(super) fn crs_arg(text: &str) -> Result<Crs, String> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|_| "expected wgs84, gcj02 or bd09".to_owned())
}

pub(super) async fn set_circle(
    store: &Store,
    village: &str,
    lat: f64,
    lon: f64,
    radius_m: f64,
    crs: Crs,
) -> anyhow::Result<()> {
    let division = store.division(village).await?;
    if division.is_none_or(|d| d.level != "village") {
        bail!("{village} is not a known village code");
    }
    if !(10.0..=20_000.0).contains(&radius_m) {
        bail!("the radius is in metres, between 10 and 20000");
    }
    if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
        bail!("{lat}, {lon} is not a position");
    }
    let centre = crate::geo::convert::to_wgs84(lat, lon, crs);
    store
        .set_village_area(
            village,
            VillageArea {
                lat: centre.lat,
                lon: centre.lon,
                radius_m,
            },
            None,
            clock::now_ms(),
        )
        .await?;
    println!(
        "village {village}: fixes within {radius_m} m of {:.6}, {:.6} (WGS-84) are inside",
        centre.lat, centre.lon
    );
    Ok(())
}

/// Imports village or township shapes from a GeoJSON FeatureCollection in `crs`. All or
/// nothing: one unknown code or broken feature and nothing is stored.
pub(super) async fn import_boundaries(store: &Store, file: &Path, crs: Crs) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let parsed = parse_division_shapes(&text, crs)
        .with_context(|| format!("{} is not a usable boundary file", file.display()))?;
    let mut shapes = Vec::with_capacity(parsed.len());
    let mut problems = Vec::new();
    for (index, feature) in parsed.iter().enumerate() {
        match store.division(&feature.code).await? {
            Some(d) if d.level == "village" || d.level == "township" => {}
            Some(d) => problems.push(format!(
                "feature {index}: {} is a {}, not a village or township",
                feature.code, d.level
            )),
            None => problems.push(format!(
                "feature {index}: {} is not a known division code",
                feature.code
            )),
        }
        let crate::geo::Boundary::Area(area) = &feature.area else {
            continue;
        };
        shapes.push(DivisionShape {
            code: feature.code.clone(),
            geometry: geometry_json(area),
            vertices: i64::try_from(area.vertex_count()).unwrap_or(i64::MAX),
        });
    }
    if !problems.is_empty() {
        bail!(
            "{} of {} features refused, nothing imported:\n  {}",
            problems.len(),
            parsed.len(),
            problems.join("\n  ")
        );
    }
    store
        .import_division_shapes(&shapes, crs_name(crs), None, clock::now_ms())
        .await?;
    let vertices: i64 = shapes.iter().map(|s| s.vertices).sum();
    println!(
        "imported {} shapes ({vertices} vertices, converted from {} to WGS-84)",
        shapes.len(),
        crs_name(crs)
    );
    Ok(())
}

fn crs_name(crs: Crs) -> &'static str {
    match crs {
        Crs::Wgs84 => "wgs84",
        Crs::Gcj02 => "gcj02",
        Crs::Bd09 => "bd09",
    }
}
