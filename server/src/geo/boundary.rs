//! Where a village is, and how far outside it a point lies.
//!
//! No public township or village polygons exist for Ningxia, so a village's boundary is either
//! a polygon (its county's, from the county file) or a centre and radius an admin sets. Both
//! answer one question, [`Boundary::distance_outside_m`]: how many metres outside is this point
//! (0 inside)? The judge compares that with the fix's accuracy.
//!
//! Speed: a county has up to ~800 vertices and every fix is judged. An [`Area`] keeps its
//! bounding box (points beyond it skip the containment test), geo's interval tree over the
//! edges' latitude spans (the containment test looks only at the few edges crossing the point's
//! latitude) and its edges in boxed runs for the nearest-edge search (`edges.rs`).
//!
//! Metres, not degrees: at Ningxia's 35–39.5°N a degree of longitude is only ~0.79 of a degree of
//! latitude, so the nearest edge measured in degrees is not always the nearest on the ground.
//! The search measures in a local frame centred on the point, and the distance reported is the
//! haversine distance to the nearest boundary point found.

use std::sync::Arc;

use fieldsync_protocol::gps::LatLon;
use geo::indexed::IntervalTreeMultiPolygon;
use geo::orient::{Direction, Orient};
use geo::{BoundingRect, Contains, LinesIter, MultiPolygon, Rect, coord};

use crate::geo::distance_m;
use crate::geo::edges::Edges;

// Boundaries come from the county file, read in `counties.rs`.
pub use crate::geo::counties::{County, NINGXIA_COUNTIES_GCJ02, parse_counties};
pub use crate::geo::error::{FeatureProblem, GeoError};

/// A village boundary in WGS-84.
#[derive(Clone, Debug)]
pub enum Boundary {
    /// A polygon shape, usually the county's.
    Area(Area),
    /// A centre and radius set by an admin.
    Circle { centre: LatLon, radius_m: f64 },
}

impl Boundary {
    /// 0.0 for a point inside (or on the edge); otherwise the distance in metres from the point
    /// to the nearest point of the boundary.
    pub fn distance_outside_m(&self, p: LatLon) -> f64 {
        match self {
            Boundary::Area(area) => area.distance_outside_m(p),
            Boundary::Circle { centre, radius_m } => (distance_m(*centre, p) - radius_m).max(0.0),
        }
    }
}

/// A WGS-84 multipolygon (x = longitude, y = latitude) with what makes judging against it fast.
#[derive(Clone)]
pub struct Area {
    shape: MultiPolygon<f64>,
    bbox: Rect<f64>,
    /// Built once from `shape`, shared by clones (geo's interval tree cannot be cloned).
    index: Arc<Index>,
}

struct Index {
    containment: IntervalTreeMultiPolygon<f64>,
    edges: Edges,
}

impl std::fmt::Debug for Area {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Area")
            .field("polygons", &self.shape.0.len())
            .field("vertices", &self.vertex_count())
            .field("bbox", &self.bbox)
            .finish()
    }
}

impl Area {
    /// Fails on a shape without vertices or with coordinates that are not finite. Rings may wind
    /// either way (GeoJSON files disagree); they are reoriented, exteriors counter-clockwise
    /// and holes clockwise, as the winding-number containment test needs.
    pub fn new(shape: MultiPolygon<f64>) -> Result<Self, GeoError> {
        let finite = |c: geo::Coord<f64>| c.x.is_finite() && c.y.is_finite();
        if !shape.lines_iter().all(|l| finite(l.start) && finite(l.end)) {
            return Err(GeoError::NotFinite);
        }
        let shape = shape.orient(Direction::Default);
        let bbox = shape.bounding_rect().ok_or(GeoError::EmptyShape)?;
        let index = Arc::new(Index {
            containment: IntervalTreeMultiPolygon::new(&shape),
            edges: Edges::new(&shape),
        });
        Ok(Area { shape, bbox, index })
    }

    pub fn shape(&self) -> &MultiPolygon<f64> {
        &self.shape
    }

    pub fn bbox(&self) -> Rect<f64> {
        self.bbox
    }

    /// Vertices as stored: every ring's closing vertex counts again, as in GeoJSON.
    pub fn vertex_count(&self) -> usize {
        self.shape
            .0
            .iter()
            .map(|p| p.exterior().0.len() + p.interiors().iter().map(|r| r.0.len()).sum::<usize>())
            .sum()
    }

    fn distance_outside_m(&self, p: LatLon) -> f64 {
        let c = coord! { x: p.lon, y: p.lat };
        let (min, max) = (self.bbox.min(), self.bbox.max());
        let in_bbox = (min.x..=max.x).contains(&c.x) && (min.y..=max.y).contains(&c.y);
        if in_bbox && self.index.containment.contains(&c) {
            return 0.0;
        }
        // `new` refused shapes without edges; the fallback only keeps this total.
        self.index
            .edges
            .nearest(p)
            .map_or(f64::INFINITY, |q| distance_m(p, q))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geo::METRES_PER_DEGREE_LAT;
    use geo::{LineString, Polygon};

    fn square(lat: f64, lon: f64, side_deg: f64, hole: bool) -> Area {
        let ring = |lat0: f64, lon0: f64, s: f64| {
            LineString::from(vec![
                (lon0, lat0),
                (lon0 + s, lat0),
                (lon0 + s, lat0 + s),
                (lon0, lat0 + s),
                (lon0, lat0),
            ])
        };
        let interiors = if hole {
            vec![ring(
                lat + side_deg / 4.0,
                lon + side_deg / 4.0,
                side_deg / 2.0,
            )]
        } else {
            vec![]
        };
        let polygon = Polygon::new(ring(lat, lon, side_deg), interiors);
        Area::new(MultiPolygon(vec![polygon])).unwrap()
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
    fn inside_and_on_the_edge_is_zero() {
        let area = Boundary::Area(square(38.0, 106.0, 0.1, false));
        assert_eq!(
            area.distance_outside_m(LatLon {
                lat: 38.05,
                lon: 106.05
            }),
            0.0
        );
        assert!(
            area.distance_outside_m(LatLon {
                lat: 38.05,
                lon: 106.1
            }) < 1e-6
        );
        assert!(
            area.distance_outside_m(LatLon {
                lat: 38.0,
                lon: 106.0
            }) < 1e-6
        );
    }

    #[test]
    fn distances_are_metres_on_the_ground_not_degrees() {
        let area = Boundary::Area(square(38.0, 106.0, 0.1, false));
        let east_edge = LatLon {
            lat: 38.05,
            lon: 106.1,
        };
        let north_edge = LatLon {
            lat: 38.1,
            lon: 106.05,
        };
        for m in [3.0, 50.0, 1_000.0, 20_000.0] {
            let d = area.distance_outside_m(east(east_edge, m));
            assert!((d - m).abs() < m * 1e-3, "{m} m east: {d}");
            let d = area.distance_outside_m(north(north_edge, m));
            assert!((d - m).abs() < m * 1e-3, "{m} m north: {d}");
        }
        // Diagonally off a corner the nearest point is the corner itself.
        let corner = LatLon {
            lat: 38.1,
            lon: 106.1,
        };
        let p = north(east(corner, 300.0), 400.0);
        let d = area.distance_outside_m(p);
        assert!((d - distance_m(p, corner)).abs() < 0.5, "{d}");
        assert!((d - 500.0).abs() < 1.0, "{d}");
    }

    #[test]
    fn a_hole_is_outside_and_measured_to_its_edge() {
        let area = Boundary::Area(square(38.0, 106.0, 0.1, true));
        let hole_centre = LatLon {
            lat: 38.05,
            lon: 106.05,
        };
        let d = area.distance_outside_m(hole_centre);
        // The hole is 0.05° square, so its edges are 0.025° from the centre; the east and west
        // edges are nearer on the ground (0.025° of longitude ≈ 2.19 km, of latitude ≈ 2.78 km).
        let east_west = 0.025 * METRES_PER_DEGREE_LAT * 38.05_f64.to_radians().cos();
        assert!((d - east_west).abs() < 1.0, "{d}");
        assert_eq!(
            area.distance_outside_m(LatLon {
                lat: 38.01,
                lon: 106.01
            }),
            0.0
        );
    }

    #[test]
    fn circle_counts_from_its_rim() {
        let centre = LatLon {
            lat: 36.0,
            lon: 106.2,
        };
        let circle = Boundary::Circle {
            centre,
            radius_m: 300.0,
        };
        assert_eq!(circle.distance_outside_m(centre), 0.0);
        assert_eq!(circle.distance_outside_m(north(centre, 299.0)), 0.0);
        let d = circle.distance_outside_m(east(centre, 500.0));
        assert!((d - 200.0).abs() < 0.5, "{d}");
    }

    #[test]
    fn empty_or_broken_shapes_are_refused() {
        assert!(matches!(
            Area::new(MultiPolygon(vec![])),
            Err(GeoError::EmptyShape)
        ));
        let nan = Polygon::new(
            LineString::from(vec![(f64::NAN, 1.0), (2.0, 2.0), (3.0, 1.0)]),
            vec![],
        );
        assert!(matches!(
            Area::new(MultiPolygon(vec![nan])),
            Err(GeoError::NotFinite)
        ));
    }

    #[test]
    fn area_reports_its_size() {
        let area = square(38.0, 106.0, 0.1, true);
        assert_eq!(area.vertex_count(), 10);
        assert_eq!(area.bbox().min(), coord! { x: 106.0, y: 38.0 });
        assert!(format!("{area:?}").contains("vertices: 10"));
    }
}
