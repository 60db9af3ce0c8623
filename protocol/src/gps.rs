//! A GPS fix as a phone reports it.
//!
//! Chinese map SDKs report GCJ-02 or BD-09 coordinates while raw GNSS is WGS-84, so every fix
//! names its coordinate system; the server converts to WGS-84 before judging it.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::{ErrorCode, ErrorDetail};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Crs {
    Wgs84,
    Gcj02,
    Bd09,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GpsFix {
    pub lat: f64,
    pub lon: f64,
    /// Horizontal accuracy radius in metres, as the phone's location API reports it.
    pub accuracy_m: f64,
    pub crs: Crs,
    /// When the fix was taken (not when it was sent).
    #[serde(with = "time::serde::rfc3339")]
    pub fix_at: OffsetDateTime,
    /// The phone's "mock location" flag (Android `isMock`).
    #[serde(default)]
    pub mocked: bool,
}

/// Accuracy radii beyond this are not a position at all (cell-tower guesses are ~1–5 km).
pub const MAX_ACCURACY_M: f64 = 100_000.0;

impl GpsFix {
    /// Checks that the numbers describe a point on Earth; plausibility (inside the village,
    /// travel speed …) is judged later by the server.
    pub fn validate(&self) -> Result<(), ErrorDetail> {
        let bad = |field: &str, message: String| {
            Err(ErrorDetail::new(ErrorCode::InvalidGps, message).at(field))
        };
        if !self.lat.is_finite() || !(-90.0..=90.0).contains(&self.lat) {
            return bad(
                "lat",
                format!("latitude {} is not within -90..90", self.lat),
            );
        }
        if !self.lon.is_finite() || !(-180.0..=180.0).contains(&self.lon) {
            return bad(
                "lon",
                format!("longitude {} is not within -180..180", self.lon),
            );
        }
        if !self.accuracy_m.is_finite() || !(0.0..=MAX_ACCURACY_M).contains(&self.accuracy_m) {
            return bad(
                "accuracy_m",
                format!(
                    "accuracy {} m is not within 0..{MAX_ACCURACY_M} m",
                    self.accuracy_m
                ),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fix() -> GpsFix {
        serde_json::from_value(serde_json::json!({
            "lat": 36.0, "lon": 106.2, "accuracy_m": 8.0, "crs": "wgs84",
            "fix_at": "2026-11-28T10:00:00Z", "mocked": false
        }))
        .unwrap()
    }

    #[test]
    fn parses_the_design_example() {
        let f = fix();
        assert_eq!(f.crs, Crs::Wgs84);
        assert!(f.validate().is_ok());
    }

    #[test]
    fn rejects_points_off_the_planet() {
        let mut f = fix();
        f.lat = 91.0;
        assert_eq!(f.validate().unwrap_err().field.as_deref(), Some("lat"));
        let mut f = fix();
        f.accuracy_m = -1.0;
        assert_eq!(
            f.validate().unwrap_err().field.as_deref(),
            Some("accuracy_m")
        );
        let mut f = fix();
        f.lon = f64::NAN;
        assert_eq!(f.validate().unwrap_err().code, ErrorCode::InvalidGps);
    }

    #[test]
    fn unknown_crs_is_a_parse_error() {
        let v = serde_json::json!({
            "lat": 36.0, "lon": 106.2, "accuracy_m": 8.0, "crs": "utm",
            "fix_at": "2026-11-28T10:00:00Z"
        });
        assert!(serde_json::from_value::<GpsFix>(v).is_err());
    }
}

/// Why the server doubts a fix.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Doubt {
    /// Outside the village's boundary by more than the fix's accuracy.
    OutsideVillage,
    /// Far from the household's registered location.
    FarFromHousehold,
    /// Further from the same device's previous fix than anyone can travel in the time between.
    ImpossibleTravel,
    /// Exactly the same coordinates as a fix at another household.
    RepeatedCoordinates,
    /// The phone reported a mock (simulated) location.
    MockLocation,
    /// The accuracy radius is too large to place the fix in a village.
    LowAccuracy,
    /// The phone's clock and its fix's time disagree by more than the server allows: fix times
    /// come from the satellites, so a phone clock set to another day shows here.
    ClockMismatch,
}

/// A point in WGS-84.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LatLon {
    pub lat: f64,
    pub lon: f64,
}

/// The server's judgement of a record's GPS fix, written by the server and sent on pull.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GpsVerdict {
    /// No doubts.
    pub ok: bool,
    pub reasons: Vec<Doubt>,
    /// The fix converted to WGS-84.
    pub wgs84: LatLon,
    /// What the fix was held against as the village's area; absent when nothing was known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub against: Option<VillageArea>,
    /// How far outside that area the fix lies, in whole metres (0 inside or on the edge).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outside_by_m: Option<f64>,
    /// How far the fix is from the household's registered location, in whole metres.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_household_m: Option<f64>,
}

impl GpsVerdict {
    /// Adds or removes one doubt, keeping `reasons` sorted and `ok` true only without any;
    /// true when the verdict changed (a late fix revised an earlier judgement).
    pub fn set_doubt(&mut self, doubt: Doubt, doubted: bool) -> bool {
        let had = self.reasons.contains(&doubt);
        if had == doubted {
            return false;
        }
        if doubted {
            self.reasons.push(doubt);
            self.reasons.sort_unstable();
        } else {
            self.reasons.retain(|d| *d != doubt);
        }
        self.ok = self.reasons.is_empty();
        true
    }
}

/// The shape a fix is held against: the village's own when an administrator imported or set
/// one, else its county's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VillageArea {
    VillageShape,
    VillageCircle,
    TownshipShape,
    CountyShape,
}
