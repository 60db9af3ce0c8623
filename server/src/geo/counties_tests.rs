//! The built-in county file, and malformed files.

use super::*;
use crate::geo::convert::gcj02_to_wgs84;
use crate::geo::distance_m;
use crate::geo::published::{GCOORD_CITIES, XINGQING_CENTRE, YINCHUAN, ZHONGWEI};

fn area(c: &County) -> &Area {
    let Boundary::Area(area) = &c.area else {
        panic!("{} is not a polygon", c.code)
    };
    area
}

#[test]
fn the_built_in_file_holds_the_22_counties_of_the_division_list() {
    let counties = built_in();
    assert_eq!(counties.len(), 22);
    let listed: Vec<(&str, &str)> = crate::divisions::NINGXIA_CSV
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f.get(2) == Some(&"county")).then(|| (f[0], f[1]))
        })
        .collect();
    for c in counties {
        assert!(
            listed.contains(&(c.code.as_str(), c.name.as_str())),
            "{} {}",
            c.code,
            c.name
        );
    }
    let vertices: usize = counties.iter().map(|c| area(c).vertex_count()).sum();
    assert!((8_000..8_500).contains(&vertices), "{vertices}");
}

#[test]
fn vertices_are_moved_from_gcj02_to_wgs84() {
    let raw = parse_counties(NINGXIA_COUNTIES_GCJ02, Crs::Wgs84).unwrap();
    for (read_raw, converted) in raw.iter().zip(built_in()) {
        let first = |c: &County| {
            let v = area(c).shape().0[0].exterior().0[0];
            LatLon { lat: v.y, lon: v.x }
        };
        let (gcj, wgs) = (first(read_raw), first(converted));
        assert!(
            distance_m(gcj02_to_wgs84(gcj), wgs) < 1e-6,
            "{}",
            converted.name
        );
        let shift = distance_m(gcj, wgs);
        assert!(
            (300.0..700.0).contains(&shift),
            "{}: {shift} m",
            converted.name
        );
    }
}

#[test]
fn published_points_lie_in_their_own_county_and_no_other() {
    let cases = [
        (XINGQING_CENTRE, "640104"),
        (GCOORD_CITIES[YINCHUAN].wgs, "640106"),
        (GCOORD_CITIES[ZHONGWEI].wgs, "640502"),
    ];
    for (p, code) in cases {
        let inside: Vec<&str> = built_in()
            .iter()
            .filter(|c| c.area.distance_outside_m(p) == 0.0)
            .map(|c| c.code.as_str())
            .collect();
        assert_eq!(inside, [code], "{p:?}");
    }
}

const SQUARE: &str = "[[106.0,38.0],[106.1,38.0],[106.1,38.1],[106.0,38.1],[106.0,38.0]]";

fn collection(features: &str) -> String {
    format!(r#"{{"type":"FeatureCollection","features":[{features}]}}"#)
}

fn feature(properties: &str, geometry: &str) -> String {
    format!(r#"{{"type":"Feature","properties":{properties},"geometry":{geometry}}}"#)
}

fn polygon(rings: &str) -> String {
    format!(r#"{{"type":"Polygon","coordinates":[{rings}]}}"#)
}

const PROPS: &str = r#"{"adcode":640104,"name":"兴庆区"}"#;

fn problem(geojson: &str) -> (usize, FeatureProblem) {
    match parse_counties(geojson, Crs::Wgs84) {
        Err(GeoError::Feature { index, problem }) => (index, problem),
        other => panic!("expected a feature problem, got {other:?}"),
    }
}

#[test]
fn a_small_valid_file_parses_with_holes_strings_and_altitudes() {
    let hole = "[[106.02,38.02,1100],[106.04,38.02,1100],[106.04,38.04,1100],[106.02,38.02,1100]]";
    let doc = collection(&feature(
        r#"{"adcode":" 640105 ","name":"西夏区","extra":1}"#,
        &polygon(&format!("{SQUARE},{hole}")),
    ));
    let counties = parse_counties(&doc, Crs::Wgs84).unwrap();
    assert_eq!(
        (counties[0].code.as_str(), counties[0].name.as_str()),
        ("640105", "西夏区")
    );
    assert_eq!(area(&counties[0]).vertex_count(), 9);
    assert!(
        counties[0].area.distance_outside_m(LatLon {
            lat: 38.03,
            lon: 106.035
        }) > 0.0
    );
}

#[test]
fn what_is_not_a_feature_collection_is_refused() {
    for doc in [
        "",
        "{",
        "[]",
        "null",
        r#"{"type":"Feature"}"#,
        r#"{"type":"FeatureCollection"}"#,
        r#"{"type":"FeatureCollection","features":{}}"#,
    ] {
        let err = parse_counties(doc, Crs::Gcj02).unwrap_err();
        assert!(
            matches!(err, GeoError::Json(_) | GeoError::NotFeatureCollection),
            "{doc}: {err}"
        );
    }
    assert_eq!(problem(&collection("[]")), (0, FeatureProblem::NotAFeature));
}

#[test]
fn missing_or_wrong_properties_are_named() {
    let square = polygon(SQUARE);
    let cases = [
        ("{}", FeatureProblem::MissingProperty("adcode")),
        ("null", FeatureProblem::MissingProperty("adcode")),
        (
            r#"{"adcode":640104}"#,
            FeatureProblem::MissingProperty("name"),
        ),
        (
            r#"{"adcode":640104,"name":" "}"#,
            FeatureProblem::MissingProperty("name"),
        ),
        (
            r#"{"adcode":64010,"name":"x"}"#,
            FeatureProblem::BadAdcode("64010".into()),
        ),
        (
            r#"{"adcode":"6401041","name":"x"}"#,
            FeatureProblem::BadAdcode("6401041".into()),
        ),
        (
            r#"{"adcode":640104.5,"name":"x"}"#,
            FeatureProblem::BadAdcode("640104.5".into()),
        ),
        (
            r#"{"adcode":"64-104","name":"x"}"#,
            FeatureProblem::BadAdcode("64-104".into()),
        ),
    ];
    for (properties, want) in cases {
        assert_eq!(
            problem(&collection(&feature(properties, &square))),
            (0, want),
            "{properties}"
        );
    }
    let twice = collection(&[feature(PROPS, &square), feature(PROPS, &square)].join(","));
    assert_eq!(
        problem(&twice),
        (1, FeatureProblem::DuplicateAdcode("640104".into()))
    );
}

#[test]
fn unsupported_geometries_are_named() {
    let cases = [
        ("null", "missing"),
        (r#"{"type":"Point","coordinates":[106.0,38.0]}"#, "Point"),
        (r#"{"coordinates":[]}"#, "missing"),
    ];
    for (geometry, kind) in cases {
        let want = FeatureProblem::UnsupportedGeometry(kind.into());
        assert_eq!(
            problem(&collection(&feature(PROPS, geometry))),
            (0, want),
            "{geometry}"
        );
    }
}

#[test]
fn bad_coordinates_say_where() {
    let cases = [
        (r#"{"type":"Polygon"}"#, "Polygon"),
        (r#"{"type":"Polygon","coordinates":7}"#, "polygon 0"),
        (r#"{"type":"Polygon","coordinates":[]}"#, "polygon 0"),
        (r#"{"type":"MultiPolygon","coordinates":[[]]}"#, "polygon 0"),
        (
            r#"{"type":"MultiPolygon","coordinates":[[[1,2,3,4]]]}"#,
            "polygon 0, ring 0, position 0",
        ),
        (
            r#"{"type":"MultiPolygon","coordinates":"x"}"#,
            "the coordinates",
        ),
    ];
    for (geometry, at) in cases {
        let (_, got) = problem(&collection(&feature(PROPS, geometry)));
        assert!(
            matches!(&got, FeatureProblem::BadCoordinates { at: a, .. } if a == at),
            "{geometry}: {got}"
        );
    }
    let ring = |third: &str| {
        collection(&feature(
            PROPS,
            &polygon(&format!("[[106,38],[106.1,38],{third},[106,38]]")),
        ))
    };
    for third in [
        "[\"106\",38.1]",
        "[106.1]",
        "[200,38.1]",
        "[106.1,95]",
        "{}",
    ] {
        let (_, got) = problem(&ring(third));
        let at = "polygon 0, ring 0, position 2";
        assert!(
            matches!(&got, FeatureProblem::BadCoordinates { at: a, .. } if a == at),
            "{third}: {got}"
        );
    }
}

#[test]
fn rings_must_be_closed_and_long_enough() {
    let open = polygon("[[106,38],[106.1,38],[106.1,38.1],[106,38.1]]");
    let want = FeatureProblem::UnclosedRing {
        at: "polygon 0, ring 0".into(),
    };
    assert_eq!(problem(&collection(&feature(PROPS, &open))), (0, want));
    let short = polygon("[[106,38],[106.1,38],[106,38]]");
    let want = FeatureProblem::ShortRing {
        at: "polygon 0, ring 0".into(),
        len: 3,
    };
    assert_eq!(problem(&collection(&feature(PROPS, &short))), (0, want));
    let open_hole = "[[1,1],[2,2],[3,3],[1,2]]";
    let multi =
        format!(r#"{{"type":"MultiPolygon","coordinates":[[{SQUARE}],[{SQUARE},{open_hole}]]}}"#);
    let want = FeatureProblem::UnclosedRing {
        at: "polygon 1, ring 1".into(),
    };
    assert_eq!(problem(&collection(&feature(PROPS, &multi))), (0, want));
}

#[test]
fn errors_read_well() {
    let doc = collection(&feature(
        PROPS,
        &polygon("[[106,38],[106.1,38],[1,2,3],[\"x\",1],[106,38]]"),
    ));
    let message = parse_counties(&doc, Crs::Gcj02).unwrap_err().to_string();
    assert_eq!(
        message,
        "feature 0: polygon 0, ring 0, position 3: longitude and latitude must be numbers"
    );
}

#[test]
fn truncated_files_are_errors_not_panics() {
    let doc = collection(&feature(PROPS, &polygon(SQUARE)));
    for end in (0..doc.len()).filter(|&e| doc.is_char_boundary(e)) {
        assert!(
            parse_counties(&doc[..end], Crs::Gcj02).is_err(),
            "{}",
            &doc[..end]
        );
    }
    let real = NINGXIA_COUNTIES_GCJ02;
    for end in (0..4_000).filter(|&e| real.is_char_boundary(e)) {
        assert!(parse_counties(&real[..end], Crs::Gcj02).is_err());
    }
}

#[test]
fn village_shapes_take_long_codes_no_name_and_round_trip_through_storage() {
    let doc = collection(&feature(r#"{"code":"640104001002"}"#, &polygon(SQUARE)));
    let shapes = parse_division_shapes(&doc, Crs::Gcj02).unwrap();
    assert_eq!(
        (shapes[0].code.as_str(), shapes[0].name.as_str()),
        ("640104001002", "")
    );
    // GCJ-02 in, WGS-84 out: the square moved by hundreds of metres.
    let stored = geometry_json(area(&shapes[0]));
    let first = &stored["coordinates"][0][0][0];
    let original = area(&parse_division_shapes(&doc, Crs::Wgs84).unwrap()[0])
        .shape()
        .0[0]
        .exterior()
        .0[0];
    assert!(
        (first[0].as_f64().unwrap() - original.x).abs() > 0.002,
        "{stored}"
    );
    // Stored WGS-84 reads back as the same shape.
    let back = parse_geometry(&stored, Crs::Wgs84).unwrap();
    assert_eq!(back.shape(), area(&shapes[0]).shape());

    for (props, problem) in [
        (r#"{"name":"x"}"#, FeatureProblem::MissingProperty("code")),
        (r#"{"code":"6401"}"#, FeatureProblem::BadCode("6401".into())),
        (
            r#"{"code":"64010400100a"}"#,
            FeatureProblem::BadCode("64010400100a".into()),
        ),
    ] {
        let doc = collection(&feature(props, &polygon(SQUARE)));
        match parse_division_shapes(&doc, Crs::Wgs84) {
            Err(GeoError::Feature {
                index: 0,
                problem: p,
            }) => assert_eq!(p, problem, "{props}"),
            other => panic!("{props}: {other:?}"),
        }
    }
    // The county file's rules are unchanged: a village code is not an adcode.
    let doc = collection(&feature(
        r#"{"adcode":"640104001002","name":"x"}"#,
        &polygon(SQUARE),
    ));
    assert!(parse_counties(&doc, Crs::Wgs84).is_err());
}
