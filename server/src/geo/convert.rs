//! The coordinate systems phones report in, converted to WGS-84.
//!
//! Chinese map SDKs (AMap, Tencent, Baidu) hand out GCJ-02, the state-mandated obfuscation of
//! WGS-84, or Baidu's BD-09, a further offset on top of GCJ-02; raw GNSS is WGS-84. In Ningxia
//! the GCJ-02 offset is 230–490 m, as wide as a village, so every fix and every boundary is
//! converted to WGS-84 before anything is measured.
//!
//! The forward transforms (WGS-84 → GCJ-02 → BD-09) are the published formulas. Their inverses
//! have no closed form, and the common one-step inverse (subtract the offset computed at the
//! GCJ-02 point) is off by up to ~2.6 m in Ningxia. [`gcj02_to_wgs84`] and [`bd09_to_gcj02`]
//! therefore solve the forward transform by fixed-point iteration: the offset changes by well
//! under 1 % of any step taken, so every round shrinks the error more than a hundredfold and a
//! few rounds reach 1e-11° (~1 µm). Round trips come back within a millimetre, and the tests
//! check published reference pairs.
//!
//! Outside mainland China the three systems coincide. "Outside" is the conventional rectangle
//! every implementation uses (72.004–137.8347°E, 0.8293–55.8271°N), so that converted
//! coordinates agree with the map SDKs.
//!
//! [`LatLon`] is the protocol's WGS-84 point; here it also carries GCJ-02 and BD-09 pairs, and
//! each function's name says which system goes in and which comes out.

use std::f64::consts::PI;

use fieldsync_protocol::gps::{Crs, LatLon};

/// Semi-major axis and eccentricity² of the Krasovsky 1940 ellipsoid, on which GCJ-02 is defined.
const KRASOVSKY_A: f64 = 6_378_245.0;
const KRASOVSKY_EE: f64 = 0.006_693_421_622_965_943;
/// BD-09's angular scale: π · 3000 / 180.
const BD_X_PI: f64 = PI * 3000.0 / 180.0;
/// Iteration stops when a step moves less than this (1e-11° ≈ 1 µm) …
const CONVERGED_DEG: f64 = 1e-11;
/// … or after this many steps (five at most over Ningxia).
const MAX_STEPS: usize = 12;

/// Whether GCJ-02 and BD-09 leave this point alone.
pub fn outside_china(p: LatLon) -> bool {
    !((72.004..=137.8347).contains(&p.lon) && (0.8293..=55.8271).contains(&p.lat))
}

/// The GCJ-02 offset at `p` in degrees (lat, lon).
fn gcj02_offset(p: LatLon) -> (f64, f64) {
    let x = p.lon - 105.0;
    let y = p.lat - 35.0;
    let shared = (20.0 * (6.0 * PI * x).sin() + 20.0 * (2.0 * PI * x).sin()) * 2.0 / 3.0;
    let d_lat = -100.0
        + 2.0 * x
        + 3.0 * y
        + 0.2 * y * y
        + 0.1 * x * y
        + 0.2 * x.abs().sqrt()
        + shared
        + (20.0 * (PI * y).sin() + 40.0 * (PI * y / 3.0).sin()) * 2.0 / 3.0
        + (160.0 * (PI * y / 12.0).sin() + 320.0 * (PI * y / 30.0).sin()) * 2.0 / 3.0;
    let d_lon = 300.0
        + x
        + 2.0 * y
        + 0.1 * x * x
        + 0.1 * x * y
        + 0.1 * x.abs().sqrt()
        + shared
        + (20.0 * (PI * x).sin() + 40.0 * (PI * x / 3.0).sin()) * 2.0 / 3.0
        + (150.0 * (PI * x / 12.0).sin() + 300.0 * (PI * x / 30.0).sin()) * 2.0 / 3.0;
    // The offsets above are metres-like on the ellipsoid; turn them into degrees at this latitude.
    let lat = p.lat.to_radians();
    let w = 1.0 - KRASOVSKY_EE * lat.sin() * lat.sin();
    let meridian_radius = KRASOVSKY_A * (1.0 - KRASOVSKY_EE) / (w * w.sqrt());
    let parallel_radius = KRASOVSKY_A / w.sqrt() * lat.cos();
    (
        (d_lat / meridian_radius).to_degrees(),
        (d_lon / parallel_radius).to_degrees(),
    )
}

pub fn wgs84_to_gcj02(wgs: LatLon) -> LatLon {
    if outside_china(wgs) {
        return wgs;
    }
    let (d_lat, d_lon) = gcj02_offset(wgs);
    LatLon {
        lat: wgs.lat + d_lat,
        lon: wgs.lon + d_lon,
    }
}

/// The WGS-84 point whose GCJ-02 image is `gcj`, to ~1 µm (see the module documentation).
pub fn gcj02_to_wgs84(gcj: LatLon) -> LatLon {
    if outside_china(gcj) {
        return gcj;
    }
    invert(gcj, gcj, wgs84_to_gcj02)
}

pub fn gcj02_to_bd09(gcj: LatLon) -> LatLon {
    if outside_china(gcj) {
        return gcj;
    }
    let (x, y) = (gcj.lon, gcj.lat);
    let z = x.hypot(y) + 0.00002 * (y * BD_X_PI).sin();
    let theta = y.atan2(x) + 0.000003 * (x * BD_X_PI).cos();
    LatLon {
        lat: z * theta.sin() + 0.006,
        lon: z * theta.cos() + 0.0065,
    }
}

/// The GCJ-02 point whose BD-09 image is `bd`. Baidu's published reverse formula is itself an
/// approximation (off by up to ~0.1 m); it serves as the starting guess of the iteration.
pub fn bd09_to_gcj02(bd: LatLon) -> LatLon {
    if outside_china(bd) {
        return bd;
    }
    let (x, y) = (bd.lon - 0.0065, bd.lat - 0.006);
    let z = x.hypot(y) - 0.00002 * (y * BD_X_PI).sin();
    let theta = y.atan2(x) - 0.000003 * (x * BD_X_PI).cos();
    let guess = LatLon {
        lat: z * theta.sin(),
        lon: z * theta.cos(),
    };
    invert(bd, guess, gcj02_to_bd09)
}

pub fn bd09_to_wgs84(bd: LatLon) -> LatLon {
    gcj02_to_wgs84(bd09_to_gcj02(bd))
}

pub fn wgs84_to_bd09(wgs: LatLon) -> LatLon {
    gcj02_to_bd09(wgs84_to_gcj02(wgs))
}

/// A point reported in `crs`, in WGS-84.
pub fn to_wgs84(lat: f64, lon: f64, crs: Crs) -> LatLon {
    let p = LatLon { lat, lon };
    match crs {
        Crs::Wgs84 => p,
        Crs::Gcj02 => gcj02_to_wgs84(p),
        Crs::Bd09 => bd09_to_wgs84(p),
    }
}

/// A WGS-84 point as a phone using `crs` would report it.
pub fn from_wgs84(wgs: LatLon, crs: Crs) -> LatLon {
    match crs {
        Crs::Wgs84 => wgs,
        Crs::Gcj02 => wgs84_to_gcj02(wgs),
        Crs::Bd09 => wgs84_to_bd09(wgs),
    }
}

/// Solves `forward(x) = target` by moving `x` by the remaining difference until it stops moving.
/// Converges because `forward` is the identity plus an offset that varies slowly.
fn invert(target: LatLon, guess: LatLon, forward: fn(LatLon) -> LatLon) -> LatLon {
    let mut x = guess;
    for _ in 0..MAX_STEPS {
        let image = forward(x);
        let (d_lat, d_lon) = (target.lat - image.lat, target.lon - image.lon);
        x.lat += d_lat;
        x.lon += d_lon;
        if d_lat.abs() < CONVERGED_DEG && d_lon.abs() < CONVERGED_DEG {
            break;
        }
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geo::distance_m;
    use crate::geo::published::{EVILTRANSFORM, GCOORD_123_45, GCOORD_CITIES};

    /// Reference pairs are published to 7–17 digits; all conversions must land within this.
    const WITHIN_M: f64 = 1.0;

    fn assert_near(got: LatLon, want: LatLon, what: &str) {
        let d = distance_m(got, want);
        assert!(d < WITHIN_M, "{what}: {got:?} is {d:.3} m from {want:?}");
    }

    #[test]
    fn eviltransform_pairs_convert_both_ways() {
        for (name, wgs, gcj) in EVILTRANSFORM {
            assert_near(wgs84_to_gcj02(wgs), gcj, &format!("{name} wgs84→gcj02"));
            assert_near(gcj02_to_wgs84(gcj), wgs, &format!("{name} gcj02→wgs84"));
        }
    }

    #[test]
    fn gcoord_city_triples_convert_every_way() {
        for c in GCOORD_CITIES {
            let name = c.name;
            assert_near(wgs84_to_gcj02(c.wgs), c.gcj, &format!("{name} wgs84→gcj02"));
            assert_near(gcj02_to_wgs84(c.gcj), c.wgs, &format!("{name} gcj02→wgs84"));
            assert_near(gcj02_to_bd09(c.gcj), c.bd, &format!("{name} gcj02→bd09"));
            assert_near(bd09_to_gcj02(c.bd), c.gcj, &format!("{name} bd09→gcj02"));
            assert_near(wgs84_to_bd09(c.wgs), c.bd, &format!("{name} wgs84→bd09"));
            assert_near(bd09_to_wgs84(c.bd), c.wgs, &format!("{name} bd09→wgs84"));
            assert_near(to_wgs84(c.bd.lat, c.bd.lon, Crs::Bd09), c.wgs, name);
            assert_near(to_wgs84(c.gcj.lat, c.gcj.lon, Crs::Gcj02), c.wgs, name);
        }
    }

    #[test]
    fn gcoord_single_point_specs_hold() {
        let g = GCOORD_123_45;
        assert_near(wgs84_to_gcj02(g.input), g.wgs_to_gcj, "wgs84→gcj02");
        assert_near(wgs84_to_bd09(g.input), g.wgs_to_bd, "wgs84→bd09");
        assert_near(gcj02_to_wgs84(g.input), g.gcj_to_wgs, "gcj02→wgs84");
        assert_near(gcj02_to_bd09(g.input), g.gcj_to_bd, "gcj02→bd09");
        assert_near(bd09_to_gcj02(g.input), g.bd_to_gcj, "bd09→gcj02");
        assert_near(bd09_to_wgs84(g.input), g.bd_to_wgs, "bd09→wgs84");
    }

    /// A grid over Ningxia and its neighbours (35–39.5°N, 104–107.5°E).
    fn ningxia_grid() -> impl Iterator<Item = LatLon> {
        (0..=45).flat_map(|i| {
            (0..=35).map(move |j| LatLon {
                lat: 35.0 + f64::from(i) * 0.1,
                lon: 104.0 + f64::from(j) * 0.1,
            })
        })
    }

    #[test]
    fn round_trips_come_back_within_a_millimetre() {
        for p in ningxia_grid() {
            for crs in [Crs::Wgs84, Crs::Gcj02, Crs::Bd09] {
                let there = from_wgs84(p, crs);
                let back = to_wgs84(there.lat, there.lon, crs);
                assert!(distance_m(p, back) < 0.001, "{crs:?} {p:?} → {back:?}");
            }
            let gcj_back = bd09_to_gcj02(gcj02_to_bd09(p));
            assert!(distance_m(p, gcj_back) < 0.001, "bd09 {p:?} → {gcj_back:?}");
        }
    }

    #[test]
    fn the_one_step_inverse_would_be_metres_off() {
        let worst = ningxia_grid()
            .map(|gcj| {
                let (d_lat, d_lon) = gcj02_offset(gcj);
                let one_step = LatLon {
                    lat: gcj.lat - d_lat,
                    lon: gcj.lon - d_lon,
                };
                distance_m(one_step, gcj02_to_wgs84(gcj))
            })
            .fold(0.0, f64::max);
        assert!(worst > 2.0, "one-step inverse is at most {worst} m off");
    }

    #[test]
    fn the_offset_in_ningxia_is_hundreds_of_metres() {
        for p in ningxia_grid() {
            let d = distance_m(p, wgs84_to_gcj02(p));
            assert!((200.0..800.0).contains(&d), "{p:?}: {d} m");
        }
    }

    #[test]
    fn outside_china_nothing_moves() {
        // gcoord's WGS84.spec.ts: [183, 45] stays put; also Madrid and the Antarctic.
        for p in [
            LatLon {
                lat: 45.0,
                lon: 183.0,
            },
            LatLon {
                lat: 40.446972,
                lon: -3.724753,
            },
            LatLon {
                lat: -75.0,
                lon: 110.0,
            },
        ] {
            for crs in [Crs::Wgs84, Crs::Gcj02, Crs::Bd09] {
                assert_eq!(to_wgs84(p.lat, p.lon, crs), p);
                assert_eq!(from_wgs84(p, crs), p);
            }
        }
    }
}
