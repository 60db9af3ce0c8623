//! Geography: where a GPS fix really is, and whether it is believable.
//!
//! A cadre's visit counts only if the phone was at the household, so every fix is judged:
//! inside the village (allowing for the fix's accuracy), near the household, reachable from the
//! device's previous fix, not a copy of another fix, not mocked. Phones report WGS-84, GCJ-02 or
//! BD-09 and the boundary file is GCJ-02, so everything is converted to WGS-84 first
//! ([`convert`]); then distances are measured in metres on the ground ([`boundary`]) and the
//! verdict is assembled ([`judge`](mod@judge)).
//!
//! Pure by design: no IO, no database, no clock. The county file is built in
//! ([`NINGXIA_COUNTIES_GCJ02`]) and the caller supplies the village's shape, the household's
//! location and the previous fix, so every rule is testable with plain values and cheap enough
//! to run inside a push (see `benches/geo.rs`).

pub mod boundary;
pub mod convert;
pub mod counties;
mod edges;
mod error;
pub mod judge;
#[cfg(test)]
mod published;

use fieldsync_protocol::gps::LatLon;
use geo::{Distance, Haversine, Point};

pub use boundary::{Area, Boundary};
pub use convert::to_wgs84;
pub use counties::{
    County, NINGXIA_COUNTIES_GCJ02, county_of, geometry_json, parse_counties,
    parse_division_shapes, parse_geometry,
};
pub use error::{FeatureProblem, GeoError};
pub use judge::{FixContext, GpsLimits, PreviousFix, judge};

/// The mean Earth radius (GRS80 R1) that geo's haversine uses.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;
/// Metres per degree of latitude on that sphere (~111.2 km); per degree of longitude it is this
/// times cos(latitude).
pub const METRES_PER_DEGREE_LAT: f64 = EARTH_RADIUS_M * std::f64::consts::PI / 180.0;

/// Great-circle (haversine) distance in metres between two WGS-84 points. On a sphere, so up to
/// ~0.3 % off the ellipsoidal distance: under a metre across a village, far below GPS accuracy.
pub fn distance_m(a: LatLon, b: LatLon) -> f64 {
    Haversine.distance(Point::new(a.lon, a.lat), Point::new(b.lon, b.lat))
}
