//! The entity registry: which entities exist, which fields each has, their types and
//! enumerations, and how concurrent edits of each field merge.
//!
//! Definitions are static data, so the server and a phone validate with the same rules and a
//! later issue adds an entity by adding one file here.

pub mod checks;
mod household;
pub mod idcard;
mod member;
mod presence;
mod report;
pub mod schema;
mod survey;
mod validate;
pub mod work;

use crate::push::Op;

pub use checks::{
    CHECK_NAMES, CHECKS, EDUCATION_CHECK, HEALTH_CHECK, HOUSING_CHECK, WATER_CHECK, is_check,
};
pub use household::HOUSEHOLD;
pub use member::{MEMBER, RELATIONS};
pub use presence::{
    ABSENCE_KINDS, AT_HOUSEHOLD, LEAVE_DECISION, LEAVE_REQUEST, PRESENCE, VISIT, VISIT_PURPOSES,
};
pub use report::{CHANNELS, DIFFICULTIES, SELF_REPORT};
pub use survey::SURVEY_SUBMISSION;
pub use validate::validate_fields;
pub use work::{CASE, CASE_STEP, TASK};

/// The JSON value a field takes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FieldType {
    /// A string of at most `max_chars` characters (not bytes: names are Chinese).
    Text {
        max_chars: usize,
    },
    Integer {
        min: i64,
        max: i64,
    },
    /// A JSON number (money in yuan, coordinates) with at most six decimals.
    Decimal {
        min: f64,
        max: f64,
    },
    Bool,
    /// `YYYY-MM-DD`.
    Date,
    /// One of the listed strings.
    Enum(&'static [&'static str]),
    /// A mainland mobile (11 digits, leading 1) or landline (area code + number) number.
    Phone,
    /// A resident ID-card number (GB 11643, with its check digit).
    IdCard,
    /// A 12-digit village code of the statistical division codes.
    VillageCode,
    /// The id (UUID) of a record of the named entity.
    Ref(&'static str),
    /// The id of a member of the household named in the given field (a check of one child).
    MemberOf(&'static str),
    /// The id of a record of one of the named entities, in the same village (a task's
    /// evidence: a visit or a check).
    AnyRef(&'static [&'static str]),
    /// A UUID that is not a record of the synced entities (a user); checked by the server.
    Id,
    /// An RFC 3339 timestamp (`2026-11-28T10:00:00+08:00`).
    DateTime,
    /// A list of distinct values from the enumeration.
    EnumList(&'static [&'static str]),
    /// Photos: a list of distinct SHA-256 hashes (64 lower-case hex digits).
    HashList,
    /// A JSON object, validated by the entity's own rules (survey answers).
    Object,
}

/// How a same-field race between two devices is decided. The losing value is always kept in a
/// conflict record.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MergePolicy {
    /// The edit with the later hybrid-logical-clock stamp wins.
    LastWriterWins,
    /// The value further along the list wins (a status that only moves forward), whatever the
    /// clocks say; equal ranks fall back to the later stamp.
    Ranked(&'static [&'static str]),
}

#[derive(Clone, Copy, Debug)]
pub struct FieldDef {
    pub name: &'static str,
    pub ty: FieldType,
    /// Must be present (and not null) on create.
    pub required: bool,
    /// May only be set on create.
    pub immutable: bool,
    pub merge: MergePolicy,
    /// What kind of personal data the field holds: never logged, and shown to each role only
    /// as far as it needs (see the server's disclosure table).
    pub personal: Personal,
    /// Written by the server only (a check's outcome); a phone that sends it is refused.
    pub server_only: bool,
}

/// Kinds of personal data, from least to most sensitive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Personal {
    /// Not personal (a village code, an enumeration of a situation).
    None,
    /// Names, addresses, birth dates: everyone who may read the record sees them.
    Identity,
    /// Phone numbers.
    Phone,
    /// ID-card numbers: stored encrypted, looked up by keyed hash.
    IdCard,
    /// Illnesses and disabilities.
    Health,
    /// Incomes.
    Income,
}

impl FieldDef {
    /// An optional, mutable, last-writer-wins field that is not personal data.
    pub const fn plain(name: &'static str, ty: FieldType) -> Self {
        FieldDef {
            name,
            ty,
            required: false,
            immutable: false,
            merge: MergePolicy::LastWriterWins,
            personal: Personal::None,
            server_only: false,
        }
    }

    pub const fn required(mut self) -> Self {
        self.required = true;
        self
    }

    pub const fn immutable(mut self) -> Self {
        self.immutable = true;
        self
    }

    pub const fn personal(mut self, kind: Personal) -> Self {
        self.personal = kind;
        self
    }

    pub const fn server_only(mut self) -> Self {
        self.server_only = true;
        self
    }

    pub const fn merge(mut self, merge: MergePolicy) -> Self {
        self.merge = merge;
        self
    }
}

/// Which village a record belongs to: this decides who may see and change it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ScopeRule {
    /// The record names its village in this field (a household's `village_code`).
    OwnField(&'static str),
    /// The record belongs to the village of the record this field refers to (a member's
    /// household).
    Parent { field: &'static str },
}

#[derive(Debug)]
pub struct EntityDef {
    pub name: &'static str,
    pub fields: &'static [FieldDef],
    pub scope: ScopeRule,
    /// Observations (visits, checks, photos, reports) are immutable facts: only `create`.
    pub append_only: bool,
    /// A record is created only with a GPS fix (a check-in proves where the cadre was).
    pub needs_fix: bool,
}

impl EntityDef {
    pub fn field(&self, name: &str) -> Option<&'static FieldDef> {
        self.fields.iter().find(|f| f.name == name)
    }

    pub fn allows(&self, op: Op) -> bool {
        !self.append_only || op == Op::Create
    }

    /// The field a `Parent` scope goes through, with the entity it refers to.
    pub fn parent(&self) -> Option<(&'static str, &'static str)> {
        match self.scope {
            ScopeRule::Parent { field } => match self.field(field).map(|f| f.ty) {
                Some(FieldType::Ref(entity)) => Some((field, entity)),
                _ => None,
            },
            ScopeRule::OwnField(_) => None,
        }
    }
}

/// Every entity the server accepts today. Later issues add theirs here.
pub static ENTITIES: &[&EntityDef] = &join::<_, { CHECKS.len() + 2 }, 9, { CHECKS.len() + 11 }>(
    join::<_, 2, { CHECKS.len() }, { CHECKS.len() + 2 }>([&HOUSEHOLD, &MEMBER], CHECKS),
    [
        &SURVEY_SUBMISSION,
        &VISIT,
        &PRESENCE,
        &LEAVE_REQUEST,
        &LEAVE_DECISION,
        &SELF_REPORT,
        &CASE,
        &CASE_STEP,
        &TASK,
    ],
);

/// `a` followed by `b`, at compile time: lists derived from [`CHECKS`] (the entity list, task
/// sources and evidence) follow it without repeating its names. `N` must be `A + B`, and `A`
/// not zero.
const fn join<T: Copy, const A: usize, const B: usize, const N: usize>(
    a: [T; A],
    b: [T; B],
) -> [T; N] {
    assert!(A > 0 && A + B == N, "join: N must be A + B");
    let mut out = [a[0]; N];
    let mut i = 0;
    while i < A {
        out[i] = a[i];
        i += 1;
    }
    while i < N {
        out[i] = b[i - A];
        i += 1;
    }
    out
}

pub fn entity(name: &str) -> Option<&'static EntityDef> {
    ENTITIES.iter().copied().find(|e| e.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scope_rule_points_at_a_declared_field() {
        for e in ENTITIES {
            match e.scope {
                ScopeRule::OwnField(f) => {
                    let def = e.field(f).expect("scope field declared");
                    assert_eq!(def.ty, FieldType::VillageCode, "{}", e.name);
                    assert!(def.required && def.immutable, "{}", e.name);
                }
                ScopeRule::Parent { field } => {
                    let (_, parent) = e.parent().expect("parent is a Ref field");
                    assert!(entity(parent).is_some(), "{} -> {parent}", e.name);
                    let def = e.field(field).unwrap();
                    assert!(def.required && def.immutable, "{}", e.name);
                }
            }
        }
    }

    #[test]
    fn field_names_are_unique_and_not_reserved() {
        for e in ENTITIES {
            let mut names: Vec<_> = e.fields.iter().map(|f| f.name).collect();
            names.sort_unstable();
            let before = names.len();
            names.dedup();
            assert_eq!(before, names.len(), "{}", e.name);
            assert!(names.iter().all(|n| !n.starts_with('_')), "{}", e.name);
        }
    }

    #[test]
    fn the_design_minimums_hold() {
        let h = entity("household").unwrap();
        let required: Vec<_> = h
            .fields
            .iter()
            .filter(|f| f.required)
            .map(|f| f.name)
            .collect();
        assert_eq!(required, ["village_code", "head_name"]);
        assert!(h.field("phone").is_some() && h.field("address").is_some());
        let m = entity("member").unwrap();
        let required: Vec<_> = m
            .fields
            .iter()
            .filter(|f| f.required)
            .map(|f| f.name)
            .collect();
        assert_eq!(required, ["household_id", "name"]);
    }
}

#[cfg(test)]
mod personal_tests {
    use super::*;

    #[test]
    fn typed_personal_fields_are_marked() {
        for e in ENTITIES {
            for f in e.fields {
                match f.ty {
                    FieldType::IdCard => {
                        assert_eq!(f.personal, Personal::IdCard, "{}.{}", e.name, f.name)
                    }
                    FieldType::Phone => {
                        assert_eq!(f.personal, Personal::Phone, "{}.{}", e.name, f.name)
                    }
                    _ => {}
                }
            }
        }
    }
}
