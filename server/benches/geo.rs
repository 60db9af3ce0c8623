//! Geography benchmark: `cargo bench -p fieldsync-server --bench geo`.
//!
//! Every pushed check carries a GPS fix, so judging one must stay far below the cost of the push
//! itself. Measured on one thread:
//! - judgement throughput against the county with the most vertices, for fixes well inside,
//!   outside (within the bounding box grown by a fifth, where neither the box nor a quick
//!   containment answer helps), and within 50 m of the boundary; each reported in GCJ-02, as
//!   most phones do, so the iterative conversion is included, and in WGS-84 for comparison;
//! - parsing and converting the whole built-in county file, as the server does at start-up.

use std::hint::black_box;
use std::time::{Duration, Instant};

use fieldsync_protocol::gps::{Crs, Doubt, GpsFix, LatLon};
use fieldsync_server::geo::convert::from_wgs84;
use fieldsync_server::geo::{
    Area, Boundary, County, FixContext, GpsLimits, METRES_PER_DEGREE_LAT, NINGXIA_COUNTIES_GCJ02,
    PreviousFix, judge, parse_counties,
};
use time::OffsetDateTime;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const FIXES_PER_CASE: usize = 4_096;
const RUN_FOR: Duration = Duration::from_millis(700);
const EDGE_BAND_M: f64 = 50.0;
const ACCURACY_M: f64 = 20.0;

fn main() {
    let counties = parse_counties(NINGXIA_COUNTIES_GCJ02, Crs::Gcj02).expect("built-in file");
    let (county, area) = largest(&counties);
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let cases = [
        ("inside", inside(area, &mut rng)),
        ("outside, near", outside(area, &mut rng)),
        ("edge ±50 m", near_edge(area, &mut rng)),
    ];

    println!();
    println!(
        "Judging fixes against {} ({}): {} vertices in {} polygon(s), one thread",
        county.name,
        county.code,
        area.vertex_count(),
        area.shape().0.len()
    );
    println!();
    println!("| fixes | reported as | fixes/s | ns/fix | doubted outside_village |");
    println!("|---|---|---|---|---|");
    for (name, points) in &cases {
        for crs in [Crs::Gcj02, Crs::Wgs84] {
            let fixes: Vec<GpsFix> = points.iter().map(|&p| fix(p, crs)).collect();
            let (per_s, outside) = throughput(&county.area, &fixes);
            println!(
                "| {name} | {crs:?} | {per_s:.0} | {:.0} | {:.0} % |",
                1e9 / per_s,
                100.0 * outside
            );
        }
    }

    let vertices: usize = counties.iter().map(|c| as_area(c).vertex_count()).sum();
    let (mut runs, start) = (0u32, Instant::now());
    while runs < 5 || start.elapsed() < RUN_FOR {
        black_box(parse_counties(black_box(NINGXIA_COUNTIES_GCJ02), Crs::Gcj02).expect("parses"));
        runs += 1;
    }
    let per_parse = start.elapsed() / runs;
    println!();
    println!("| county file | bytes | counties | vertices | parse + GCJ-02→WGS-84 | vertices/s |");
    println!("|---|---|---|---|---|---|");
    println!(
        "| built in | {} | {} | {vertices} | {:.2} ms | {:.0} |",
        NINGXIA_COUNTIES_GCJ02.len(),
        counties.len(),
        per_parse.as_secs_f64() * 1e3,
        vertices as f64 / per_parse.as_secs_f64()
    );
}

/// Judges `fixes` round and round for `RUN_FOR`; returns fixes per second and the share of
/// fixes found outside the village (to show what each case exercised).
fn throughput(village: &Boundary, fixes: &[GpsFix]) -> (f64, f64) {
    let limits = GpsLimits::default();
    let previous = PreviousFix {
        at: LatLon {
            lat: fixes[0].lat,
            lon: fixes[0].lon,
        },
        fix_at_ms: 0,
    };
    let context = |fix| FixContext {
        fix,
        village: Some(village),
        household: Some(previous.at),
        previous: Some(previous),
        repeated_elsewhere: false,
        limits: &limits,
    };
    let outside = fixes
        .iter()
        .filter(|f| judge(&context(f)).reasons.contains(&Doubt::OutsideVillage))
        .count();
    let (mut judged, start) = (0usize, Instant::now());
    while start.elapsed() < RUN_FOR {
        for f in fixes {
            black_box(judge(black_box(&context(f))));
        }
        judged += fixes.len();
    }
    let per_s = judged as f64 / start.elapsed().as_secs_f64();
    (per_s, outside as f64 / fixes.len() as f64)
}

fn largest(counties: &[County]) -> (&County, &Area) {
    let county = counties
        .iter()
        .max_by_key(|c| as_area(c).vertex_count())
        .expect("counties");
    (county, as_area(county))
}

fn as_area(county: &County) -> &Area {
    match &county.area {
        Boundary::Area(area) => area,
        Boundary::Circle { .. } => panic!("county {} is a circle", county.code),
    }
}

fn inside(area: &Area, rng: &mut XorShift) -> Vec<LatLon> {
    sample(area, 1.0, rng, |d| d == 0.0)
}

fn outside(area: &Area, rng: &mut XorShift) -> Vec<LatLon> {
    sample(area, 1.2, rng, |d| d > 0.0)
}

/// Uniform points in the bounding box scaled by `grow` about its centre, kept when `keep` likes
/// their distance outside the area.
fn sample(area: &Area, grow: f64, rng: &mut XorShift, keep: impl Fn(f64) -> bool) -> Vec<LatLon> {
    let (min, max) = (area.bbox().min(), area.bbox().max());
    let (c_lat, c_lon) = ((min.y + max.y) / 2.0, (min.x + max.x) / 2.0);
    let (h_lat, h_lon) = ((max.y - min.y) * grow / 2.0, (max.x - min.x) * grow / 2.0);
    let boundary = Boundary::Area(area.clone());
    let mut points = Vec::with_capacity(FIXES_PER_CASE);
    while points.len() < FIXES_PER_CASE {
        let p = LatLon {
            lat: c_lat + h_lat * (2.0 * rng.next() - 1.0),
            lon: c_lon + h_lon * (2.0 * rng.next() - 1.0),
        };
        if keep(boundary.distance_outside_m(p)) {
            points.push(p);
        }
    }
    points
}

/// Boundary vertices moved up to `EDGE_BAND_M` in a random direction, inside or outside.
fn near_edge(area: &Area, rng: &mut XorShift) -> Vec<LatLon> {
    let vertices: Vec<LatLon> = area
        .shape()
        .0
        .iter()
        .flat_map(|p| p.exterior().0.iter())
        .map(|c| LatLon { lat: c.y, lon: c.x })
        .collect();
    (0..FIXES_PER_CASE)
        .map(|_| {
            let v = vertices[(rng.next() * vertices.len() as f64) as usize % vertices.len()];
            let (r, angle) = (EDGE_BAND_M * rng.next(), std::f64::consts::TAU * rng.next());
            LatLon {
                lat: v.lat + r * angle.sin() / METRES_PER_DEGREE_LAT,
                lon: v.lon + r * angle.cos() / (METRES_PER_DEGREE_LAT * v.lat.to_radians().cos()),
            }
        })
        .collect()
}

fn fix(wgs: LatLon, crs: Crs) -> GpsFix {
    let reported = from_wgs84(wgs, crs);
    GpsFix {
        lat: reported.lat,
        lon: reported.lon,
        accuracy_m: ACCURACY_M,
        crs,
        fix_at: OffsetDateTime::UNIX_EPOCH + Duration::from_secs(3_600),
        mocked: false,
    }
}

/// A small deterministic generator, so every run judges the same points.
struct XorShift(u64);

impl XorShift {
    /// Uniform in [0, 1).
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}
