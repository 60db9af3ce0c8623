//! The verdict on one GPS fix: the rules of DESIGN.md "Geography", each a [`Doubt`].
//!
//! Every rule gives the phone the benefit of its stated accuracy: a fix is outside the village
//! only when it is further out than its accuracy radius, far from the household only beyond the
//! allowed radius plus the accuracy, and travel is measured after taking both fixes' accuracy
//! off the distance (the previous fix's is not stored; it is taken to equal this one's). Doubts
//! are evidence for a reviewer, not rejections, so they should fire only when the phone's own
//! numbers cannot explain them. (An inaccurate fix gets its own doubt, `low_accuracy`, so a 5 km
//! radius cannot launder a fix from elsewhere.)
//!
//! The judge expects a fix that passed [`GpsFix::validate`]; the caller looks up the village,
//! household and previous fix, which keeps this pure and cheap (see `benches/geo.rs`).

use fieldsync_protocol::gps::{Doubt, GpsFix, GpsVerdict, LatLon};

use crate::geo::{Boundary, distance_m, to_wgs84};

/// Thresholds of the rules; the defaults suit village work on foot, by motorbike or by car.
/// Settings section `[gps]`.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GpsLimits {
    /// A fix less accurate than this is doubted (`low_accuracy`). Default 100 m.
    pub max_accuracy_m: f64,
    /// Faster than this between two fixes of one device is `impossible_travel`. Default 150 km/h.
    pub max_speed_kmh: f64,
    /// How far from the household's known location a visit may be taken. Default 300 m.
    pub household_radius_m: f64,
    /// How far the phone's clock (its edit stamp) may be from its fix's time, in seconds, before
    /// `clock_mismatch`. Default 3 hours: edit stamps may run up to an hour ahead of a phone's own
    /// clock (they follow the fastest clock they have seen).
    pub max_clock_skew_s: i64,
}

impl Default for GpsLimits {
    fn default() -> Self {
        GpsLimits {
            max_accuracy_m: 100.0,
            max_speed_kmh: 150.0,
            household_radius_m: 300.0,
            max_clock_skew_s: 10_800,
        }
    }
}

/// A fix the same device took earlier (usually its latest before this one), stored in WGS-84.
///
/// Its accuracy is not stored, so the judge assumes it was as good as the fix being judged.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PreviousFix {
    /// WGS-84.
    pub at: LatLon,
    /// When it was taken, Unix milliseconds.
    pub fix_at_ms: i64,
}

/// Everything the judge needs about one fix.
#[derive(Clone, Copy, Debug)]
pub struct FixContext<'a> {
    pub fix: &'a GpsFix,
    /// The village's boundary, when one is known.
    pub village: Option<&'a Boundary>,
    /// The household's registered location (WGS-84), when one is known.
    pub household: Option<LatLon>,
    pub previous: Option<PreviousFix>,
    /// Exactly these coordinates were recorded at another household.
    pub repeated_elsewhere: bool,
    pub limits: &'a GpsLimits,
}

pub fn judge(ctx: &FixContext) -> GpsVerdict {
    let fix = ctx.fix;
    let limits = ctx.limits;
    let here = to_wgs84(fix.lat, fix.lon, fix.crs);
    let accuracy = fix.accuracy_m;
    let mut reasons = Vec::new();

    let outside_by_m = ctx.village.map(|v| v.distance_outside_m(here));
    if outside_by_m.is_some_and(|d| d > accuracy) {
        reasons.push(Doubt::OutsideVillage);
    }
    let from_household_m = ctx.household.map(|h| distance_m(here, h));
    if from_household_m.is_some_and(|d| d > limits.household_radius_m + accuracy) {
        reasons.push(Doubt::FarFromHousehold);
    }
    if ctx
        .previous
        .is_some_and(|prev| impossible_travel(fix, &prev, limits))
    {
        reasons.push(Doubt::ImpossibleTravel);
    }
    if ctx.repeated_elsewhere {
        reasons.push(Doubt::RepeatedCoordinates);
    }
    if fix.mocked {
        reasons.push(Doubt::MockLocation);
    }
    if accuracy > limits.max_accuracy_m {
        reasons.push(Doubt::LowAccuracy);
    }
    reasons.sort_unstable();
    GpsVerdict {
        ok: reasons.is_empty(),
        reasons,
        wgs84: here,
        // The caller knows which area it passed.
        against: None,
        outside_by_m: outside_by_m.map(f64::round),
        from_household_m: from_household_m.map(f64::round),
    }
}

/// Whether covering the distance between `fix` and the device's fix before it, less both
/// accuracy radii, in the time between them needs more than `max_speed_kmh`. The earlier fix's
/// radius is not stored and is taken to be this fix's; at the same instant any distance beyond
/// the radii is impossible.
///
/// A fix is only ever held against the one just before it in time, whatever order they
/// arrived in: when a late fix lands between two stored ones, the later of those is judged
/// again against it (`sync::travel`), so the doubted set is the same in any order of sync.
pub fn impossible_travel(fix: &GpsFix, prev: &PreviousFix, limits: &GpsLimits) -> bool {
    let here = to_wgs84(fix.lat, fix.lon, fix.crs);
    let moved_m = (distance_m(prev.at, here) - 2.0 * fix.accuracy_m).max(0.0);
    let elapsed_ms = unix_ms(fix).abs_diff(prev.fix_at_ms) as f64;
    // km/h = m / ms × 3600, compared without dividing so that 0 ms needs no special case.
    moved_m * 3_600.0 > limits.max_speed_kmh * elapsed_ms
}

/// The fix's time in Unix milliseconds.
pub fn unix_ms(fix: &GpsFix) -> i64 {
    let ms = fix.fix_at.unix_timestamp_nanos().div_euclid(1_000_000);
    // `OffsetDateTime` spans ±9999 years, ~3e14 ms: this always fits.
    i64::try_from(ms).unwrap_or(if ms < 0 { i64::MIN } else { i64::MAX })
}

#[cfg(test)]
#[path = "judge_tests.rs"]
mod tests;
