//! A boundary's edges, arranged so that the nearest one to a point is found without looking at
//! most of them.
//!
//! The distance from a point outside a village to its boundary is asked for every such fix. A
//! plain scan of a county's ~800 edges costs ~12 µs; scanning a 10,000-vertex shape would cost
//! ten times that. The edges are therefore kept in ring order (neighbours are close on the
//! ground) and grouped into runs of [`RUN`], each with its bounding box. A query first scans the
//! run whose box is nearest, which gives a good upper bound, then every run whose box is nearer
//! than the best distance so far: a handful of runs out of fifty for a county.
//!
//! Distances are measured in a local equirectangular frame centred on the query point: metres
//! east and north, exact in scale at the point's latitude and well under 0.1 % off within tens
//! of kilometres. Box distances in that frame are true lower bounds of edge distances in it, so
//! skipping runs never changes the answer.

use fieldsync_protocol::gps::LatLon;
use geo::{Coord, LinesIter, MultiPolygon};

use crate::geo::METRES_PER_DEGREE_LAT;

/// Edges per run. Small runs have tight boxes; many runs make the box pass longer.
const RUN: usize = 16;

#[derive(Debug)]
pub(crate) struct Edges {
    /// (start, end) in degrees, x = longitude, y = latitude, ring after ring.
    segments: Vec<(Coord<f64>, Coord<f64>)>,
    /// The bounding box (min, max) of `segments[i * RUN..(i + 1) * RUN]`.
    runs: Vec<(Coord<f64>, Coord<f64>)>,
}

/// The point's frame: metres per degree and the point itself.
struct Frame {
    origin: LatLon,
    k_lon: f64,
    k_lat: f64,
}

impl Frame {
    fn around(origin: LatLon) -> Self {
        Frame {
            origin,
            k_lon: METRES_PER_DEGREE_LAT * origin.lat.to_radians().cos(),
            k_lat: METRES_PER_DEGREE_LAT,
        }
    }

    /// Squared distance in metres² from the origin to the box, 0 inside it.
    fn box_distance2(&self, (min, max): (Coord<f64>, Coord<f64>)) -> f64 {
        let (x, y) = (self.origin.lon, self.origin.lat);
        let dx = (min.x - x).max(x - max.x).max(0.0) * self.k_lon;
        let dy = (min.y - y).max(y - max.y).max(0.0) * self.k_lat;
        dx * dx + dy * dy
    }

    /// The nearest point of the segment to the origin: (squared distance, metres east, north).
    fn nearest_on(&self, (a, b): (Coord<f64>, Coord<f64>)) -> (f64, f64, f64) {
        let (ax, ay) = (
            (a.x - self.origin.lon) * self.k_lon,
            (a.y - self.origin.lat) * self.k_lat,
        );
        let (dx, dy) = ((b.x - a.x) * self.k_lon, (b.y - a.y) * self.k_lat);
        let len2 = dx * dx + dy * dy;
        let t = if len2 > 0.0 {
            (-(ax * dx + ay * dy) / len2).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let (qx, qy) = (ax + t * dx, ay + t * dy);
        (qx * qx + qy * qy, qx, qy)
    }
}

impl Edges {
    pub(crate) fn new(shape: &MultiPolygon<f64>) -> Self {
        let segments: Vec<_> = shape.lines_iter().map(|l| (l.start, l.end)).collect();
        let runs = segments
            .chunks(RUN)
            .map(|run| {
                run.iter().fold(
                    (run[0].0, run[0].0),
                    |(lo, hi): (Coord<f64>, Coord<f64>), &(a, b)| {
                        let min = Coord {
                            x: lo.x.min(a.x).min(b.x),
                            y: lo.y.min(a.y).min(b.y),
                        };
                        let max = Coord {
                            x: hi.x.max(a.x).max(b.x),
                            y: hi.y.max(a.y).max(b.y),
                        };
                        (min, max)
                    },
                )
            })
            .collect();
        Edges { segments, runs }
    }

    /// The point of any edge nearest to `p` (None without edges).
    pub(crate) fn nearest(&self, p: LatLon) -> Option<LatLon> {
        let frame = Frame::around(p);
        let first = (0..self.runs.len()).min_by(|&i, &j| {
            let (di, dj) = (
                frame.box_distance2(self.runs[i]),
                frame.box_distance2(self.runs[j]),
            );
            di.total_cmp(&dj)
        })?;
        let mut best = (f64::INFINITY, 0.0, 0.0);
        let scan = |run: usize, best: &mut (f64, f64, f64)| {
            let end = ((run + 1) * RUN).min(self.segments.len());
            for &segment in &self.segments[run * RUN..end] {
                let candidate = frame.nearest_on(segment);
                if candidate.0 < best.0 {
                    *best = candidate;
                }
            }
        };
        scan(first, &mut best);
        for (run, &bounds) in self.runs.iter().enumerate() {
            if run != first && frame.box_distance2(bounds) < best.0 {
                scan(run, &mut best);
            }
        }
        Some(LatLon {
            lat: p.lat + best.2 / frame.k_lat,
            lon: p.lon + best.1 / frame.k_lon,
        })
    }
}

#[cfg(test)]
mod tests {
    use geo::{ClosestPoint, Point};

    use super::*;
    use crate::geo::counties::built_in;
    use crate::geo::{Area, Boundary, distance_m};

    /// For every county, a grid over its bounding box grown by half.
    fn grid() -> impl Iterator<Item = (&'static str, &'static Area, LatLon)> {
        built_in().iter().flat_map(|county| {
            let Boundary::Area(area) = &county.area else {
                panic!("{} is not a polygon", county.code)
            };
            let (min, max) = (area.bbox().min(), area.bbox().max());
            let (w, h) = (max.x - min.x, max.y - min.y);
            (0..=16).flat_map(move |i| {
                (0..=16).map(move |j| {
                    let p = LatLon {
                        lat: min.y - h / 4.0 + h * 1.5 * f64::from(i) / 16.0,
                        lon: min.x - w / 4.0 + w * 1.5 * f64::from(j) / 16.0,
                    };
                    (county.name.as_str(), area, p)
                })
            })
        })
    }

    #[test]
    fn runs_find_what_a_full_scan_finds() {
        for (name, area, p) in grid() {
            let edges = Edges::new(area.shape());
            let frame = Frame::around(p);
            let full = edges
                .segments
                .iter()
                .map(|&s| frame.nearest_on(s).0)
                .fold(f64::INFINITY, f64::min)
                .sqrt();
            let found = edges.nearest(p).unwrap();
            let east = (found.lon - p.lon) * frame.k_lon;
            let north = (found.lat - p.lat) * frame.k_lat;
            let d = east.hypot(north);
            assert!(
                (d - full).abs() <= 1e-9 * d.max(1.0),
                "{name} {p:?}: {d} vs {full}"
            );
        }
    }

    /// The shortcut of finding the nearest point in degrees (geo's `ClosestPoint`) and measuring
    /// it in metres afterwards picks the wrong edge at this latitude; measuring in metres never
    /// does worse. (geo's haversine closest point is no reference either: it bends edges into
    /// great-circle arcs, ~2 m off the straight lon/lat lines GeoJSON means on long edges.)
    #[test]
    fn metres_never_lose_to_degrees() {
        let mut worst_degrees = 0.0_f64;
        for (name, area, p) in grid() {
            let ours = distance_m(p, Edges::new(area.shape()).nearest(p).unwrap());
            let point = Point::new(p.lon, p.lat);
            let in_degrees = area
                .shape()
                .0
                .iter()
                .flat_map(|poly| std::iter::once(poly.exterior()).chain(poly.interiors()))
                .filter_map(|ring| match ring.closest_point(&point) {
                    geo::Closest::SinglePoint(q) | geo::Closest::Intersection(q) => {
                        Some(distance_m(
                            p,
                            LatLon {
                                lat: q.y(),
                                lon: q.x(),
                            },
                        ))
                    }
                    geo::Closest::Indeterminate => None,
                })
                .fold(f64::INFINITY, f64::min);
            assert!(
                ours <= in_degrees * (1.0 + 1e-4) + 1e-3,
                "{name} {p:?}: {ours} vs {in_degrees}"
            );
            worst_degrees = worst_degrees.max(in_degrees / ours.max(1.0));
        }
        assert!(
            worst_degrees > 1.1,
            "degrees were at most {worst_degrees}× too far"
        );
    }

    #[test]
    fn no_edges_no_nearest_point() {
        let edges = Edges::new(&MultiPolygon(vec![]));
        assert!(
            edges
                .nearest(LatLon {
                    lat: 38.0,
                    lon: 106.0
                })
                .is_none()
        );
    }
}
