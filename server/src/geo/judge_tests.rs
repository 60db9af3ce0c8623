//! The judge on real county shapes and published points.

use fieldsync_protocol::gps::Crs;
use time::OffsetDateTime;

use super::*;
use crate::geo::convert::from_wgs84;
use crate::geo::counties::built_in;
use crate::geo::published::{ALXA, GCOORD_CITIES, PINGLIANG, XINGQING_CENTRE, YINCHUAN};
use crate::geo::{Area, METRES_PER_DEGREE_LAT};

const LIMITS: GpsLimits = GpsLimits {
    max_accuracy_m: 100.0,
    max_speed_kmh: 150.0,
    household_radius_m: 300.0,
    max_clock_skew_s: 10_800,
};
/// 2026-11-28T10:00:00Z
const T0_MS: i64 = 1_795_860_000_000;
const MINUTE_MS: i64 = 60_000;

fn fix(p: LatLon, accuracy_m: f64, at_ms: i64) -> GpsFix {
    GpsFix {
        lat: p.lat,
        lon: p.lon,
        accuracy_m,
        crs: Crs::Wgs84,
        fix_at: OffsetDateTime::from_unix_timestamp_nanos(i128::from(at_ms) * 1_000_000).unwrap(),
        mocked: false,
    }
}

fn bare(fix: &GpsFix) -> FixContext<'_> {
    FixContext {
        fix,
        village: None,
        household: None,
        previous: None,
        repeated_elsewhere: false,
        limits: &LIMITS,
    }
}

fn in_village<'a>(fix: &'a GpsFix, village: &'a Boundary) -> Vec<Doubt> {
    judge(&FixContext {
        village: Some(village),
        ..bare(fix)
    })
    .reasons
}

fn county(code: &str) -> &'static Boundary {
    &built_in().iter().find(|c| c.code == code).unwrap().area
}

fn area(code: &str) -> &'static Area {
    let Boundary::Area(area) = county(code) else {
        panic!("{code} is not a polygon")
    };
    area
}

fn east(p: LatLon, m: f64) -> LatLon {
    LatLon {
        lat: p.lat,
        lon: p.lon + m / (METRES_PER_DEGREE_LAT * p.lat.to_radians().cos()),
    }
}

fn north(p: LatLon, m: f64) -> LatLon {
    LatLon {
        lat: p.lat + m / METRES_PER_DEGREE_LAT,
        lon: p.lon,
    }
}

#[test]
fn defaults_are_as_documented() {
    assert_eq!(GpsLimits::default(), LIMITS);
}

#[test]
fn the_centre_of_xingqing_is_inside_xingqing_in_every_system() {
    let xingqing = county("640104");
    for crs in [Crs::Wgs84, Crs::Gcj02, Crs::Bd09] {
        let reported = from_wgs84(XINGQING_CENTRE, crs);
        let f = GpsFix {
            lat: reported.lat,
            lon: reported.lon,
            crs,
            ..fix(XINGQING_CENTRE, 10.0, T0_MS)
        };
        let v = judge(&FixContext {
            village: Some(xingqing),
            ..bare(&f)
        });
        assert!(v.ok, "{crs:?}: {:?}", v.reasons);
        assert!(
            distance_m(v.wgs84, XINGQING_CENTRE) < 0.01,
            "{crs:?}: {:?}",
            v.wgs84
        );
    }
    // Clearly inside: 2 km in every direction is still inside.
    for p in [
        north(XINGQING_CENTRE, 2e3),
        north(XINGQING_CENTRE, -2e3),
        east(XINGQING_CENTRE, 2e3),
        east(XINGQING_CENTRE, -2e3),
    ] {
        assert_eq!(xingqing.distance_outside_m(p), 0.0, "{p:?}");
    }
}

#[test]
fn a_fix_in_the_neighbouring_district_is_outside_the_village() {
    // gcoord's Yinchuan point lies in Jinfeng (640106), west of Xingqing.
    let yinchuan = GCOORD_CITIES[YINCHUAN].wgs;
    assert!(in_village(&fix(yinchuan, 10.0, T0_MS), county("640106")).is_empty());
    let d = county("640104").distance_outside_m(yinchuan);
    assert!(d > 1_000.0, "{d}");
    let reasons = in_village(&fix(yinchuan, 50.0, T0_MS), county("640104"));
    assert_eq!(reasons, [Doubt::OutsideVillage]);
}

#[test]
fn fixes_in_inner_mongolia_and_gansu_are_outside_every_county() {
    for (place, p) in [("Alxa", GCOORD_CITIES[ALXA].wgs), ("Pingliang", PINGLIANG)] {
        let nearest = built_in()
            .iter()
            .map(|c| c.area.distance_outside_m(p))
            .fold(f64::INFINITY, f64::min);
        assert!(nearest > 5_000.0, "{place} is {nearest} m from Ningxia");
        for c in built_in() {
            assert_eq!(
                in_village(&fix(p, 100.0, T0_MS), &c.area),
                [Doubt::OutsideVillage],
                "{place} {}",
                c.name
            );
        }
    }
}

#[test]
fn an_edge_fix_is_inside_when_its_accuracy_covers_the_gap() {
    // Xingqing's easternmost vertex: every point due east of it is outside, and the vertex is
    // the nearest boundary point.
    let ring = &area("640104").shape().0[0].exterior().0;
    let vertex = ring.iter().max_by(|a, b| a.x.total_cmp(&b.x)).unwrap();
    let outside = east(
        LatLon {
            lat: vertex.y,
            lon: vertex.x,
        },
        20.0,
    );
    let d = county("640104").distance_outside_m(outside);
    assert!((d - 20.0).abs() < 0.1, "{d}");
    for crs in [Crs::Wgs84, Crs::Gcj02] {
        let reported = from_wgs84(outside, crs);
        let at = |accuracy_m| GpsFix {
            lat: reported.lat,
            lon: reported.lon,
            crs,
            ..fix(outside, accuracy_m, T0_MS)
        };
        assert!(
            in_village(&at(25.0), county("640104")).is_empty(),
            "{crs:?}"
        );
        assert_eq!(
            in_village(&at(15.0), county("640104")),
            [Doubt::OutsideVillage],
            "{crs:?}"
        );
    }
}

#[test]
fn a_circle_village_allows_for_accuracy_too() {
    let circle = Boundary::Circle {
        centre: XINGQING_CENTRE,
        radius_m: 500.0,
    };
    // 560 m from the centre is 60 m outside the rim.
    let p = north(XINGQING_CENTRE, 560.0);
    assert_eq!(
        in_village(&fix(p, 50.0, T0_MS), &circle),
        [Doubt::OutsideVillage]
    );
    assert!(in_village(&fix(p, 70.0, T0_MS), &circle).is_empty());
    assert!(in_village(&fix(north(XINGQING_CENTRE, 450.0), 5.0, T0_MS), &circle).is_empty());
}

#[test]
fn far_from_household_means_beyond_radius_plus_accuracy() {
    let at_home = |accuracy_m| {
        let f = fix(east(XINGQING_CENTRE, 350.0), accuracy_m, T0_MS);
        judge(&FixContext {
            household: Some(XINGQING_CENTRE),
            ..bare(&f)
        })
        .reasons
    };
    assert_eq!(at_home(10.0), [Doubt::FarFromHousehold]);
    assert!(at_home(60.0).is_empty());
}

fn travel(from: LatLon, to: LatLon, gap_ms: i64, accuracy_m: f64) -> Vec<Doubt> {
    let f = fix(to, accuracy_m, T0_MS);
    let previous = PreviousFix {
        at: from,
        fix_at_ms: T0_MS - gap_ms,
    };
    judge(&FixContext {
        previous: Some(previous),
        ..bare(&f)
    })
    .reasons
}

#[test]
fn fifty_km_in_five_minutes_is_impossible_five_km_in_ten_is_not() {
    let start = XINGQING_CENTRE;
    assert_eq!(
        travel(start, north(start, 50_000.0), 5 * MINUTE_MS, 10.0),
        [Doubt::ImpossibleTravel]
    );
    assert!(travel(start, north(start, 5_000.0), 10 * MINUTE_MS, 10.0).is_empty());
    // 150 km/h is allowed, a little more is not: 2.5 km per minute.
    assert!(travel(start, east(start, 2_490.0), MINUTE_MS, 0.0).is_empty());
    assert_eq!(
        travel(start, east(start, 2_510.0), MINUTE_MS, 0.0),
        [Doubt::ImpossibleTravel]
    );
}

#[test]
fn reversed_times_use_the_gap_between_the_fixes() {
    let start = XINGQING_CENTRE;
    assert_eq!(
        travel(start, north(start, 50_000.0), -5 * MINUTE_MS, 10.0),
        [Doubt::ImpossibleTravel]
    );
    assert!(travel(start, north(start, 5_000.0), -10 * MINUTE_MS, 10.0).is_empty());
}

#[test]
fn at_the_same_instant_only_a_real_move_is_impossible() {
    let start = XINGQING_CENTRE;
    assert!(travel(start, start, 0, 0.0).is_empty());
    // 15 m apart with 10 m accuracy (each fix): could be the same place.
    assert!(travel(start, east(start, 15.0), 0, 10.0).is_empty());
    assert_eq!(
        travel(start, east(start, 30.0), 0, 10.0),
        [Doubt::ImpossibleTravel]
    );
}

#[test]
fn both_accuracies_come_off_the_travelled_distance() {
    let start = XINGQING_CENTRE;
    // 1 km in 10 s is 360 km/h; with 450 m accuracy at both ends only 100 m are certain (36 km/h).
    assert_eq!(
        travel(start, east(start, 1_000.0), 10_000, 10.0),
        [Doubt::ImpossibleTravel]
    );
    assert!(travel(start, east(start, 1_000.0), 10_000, 450.0).contains(&Doubt::LowAccuracy));
    assert!(!travel(start, east(start, 1_000.0), 10_000, 450.0).contains(&Doubt::ImpossibleTravel));
}

#[test]
fn repeated_mocked_and_vague_fixes_are_doubted() {
    let f = fix(XINGQING_CENTRE, 10.0, T0_MS);
    assert!(judge(&bare(&f)).ok);
    let v = judge(&FixContext {
        repeated_elsewhere: true,
        ..bare(&f)
    });
    assert_eq!((v.ok, v.reasons), (false, vec![Doubt::RepeatedCoordinates]));
    let mocked = GpsFix {
        mocked: true,
        ..f.clone()
    };
    assert_eq!(judge(&bare(&mocked)).reasons, [Doubt::MockLocation]);
    assert_eq!(
        judge(&bare(&fix(XINGQING_CENTRE, 100.5, T0_MS))).reasons,
        [Doubt::LowAccuracy]
    );
    assert!(judge(&bare(&fix(XINGQING_CENTRE, 100.0, T0_MS))).ok);
}

#[test]
fn every_doubt_at_once_comes_sorted() {
    let f = GpsFix {
        mocked: true,
        ..fix(PINGLIANG, 150.0, T0_MS)
    };
    let previous = PreviousFix {
        at: XINGQING_CENTRE,
        fix_at_ms: T0_MS - MINUTE_MS,
    };
    let v = judge(&FixContext {
        village: Some(county("640104")),
        household: Some(XINGQING_CENTRE),
        previous: Some(previous),
        repeated_elsewhere: true,
        ..bare(&f)
    });
    let all = vec![
        Doubt::OutsideVillage,
        Doubt::FarFromHousehold,
        Doubt::ImpossibleTravel,
        Doubt::RepeatedCoordinates,
        Doubt::MockLocation,
        Doubt::LowAccuracy,
    ];
    assert_eq!((v.ok, v.reasons), (false, all));
}
