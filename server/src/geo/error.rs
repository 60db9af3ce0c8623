//! What can be wrong with a boundary file, said precisely enough to fix the file.
//!
//! Boundary files come from admins and outside sources, so every mistake is an error value
//! naming the feature and the place inside it; none panics.

/// A boundary file or shape that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    #[error("the boundary file is not JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error(
        "the boundary file is not a GeoJSON FeatureCollection \
         (expected {{\"type\": \"FeatureCollection\", \"features\": [...]}})"
    )]
    NotFeatureCollection,
    #[error("feature {index}: {problem}")]
    Feature {
        /// Position in the `features` array, from 0.
        index: usize,
        problem: FeatureProblem,
    },
    #[error("a shape has no vertices")]
    EmptyShape,
    #[error("a shape has a vertex that is not a finite number")]
    NotFinite,
}

/// What is wrong with one feature of a FeatureCollection.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum FeatureProblem {
    #[error("not a GeoJSON Feature (expected \"type\": \"Feature\")")]
    NotAFeature,
    #[error("property `{0}` is missing or empty")]
    MissingProperty(&'static str),
    #[error("adcode {0} is not a 6-digit division code")]
    BadAdcode(String),
    #[error("code {0} is not a division code (6 to 12 digits)")]
    BadCode(String),
    #[error("adcode {0} occurs in an earlier feature too")]
    DuplicateAdcode(String),
    #[error("geometry is {0}; expected Polygon or MultiPolygon")]
    UnsupportedGeometry(String),
    #[error("{at}: {reason}")]
    BadCoordinates {
        /// Where, e.g. "polygon 0, ring 1, position 7".
        at: String,
        reason: String,
    },
    #[error("{at}: the ring is not closed (its first and last positions differ)")]
    UnclosedRing { at: String },
    #[error("{at}: a ring needs at least 4 positions, this one has {len}")]
    ShortRing { at: String, len: usize },
}
