//! A read submission ([`Submission`]) → the mutations a phone of the native app would push for
//! the same work, so a Collect submission goes through exactly the same push pipeline
//! (validation, scope, merge, checks' outcomes, GPS verdicts, receipts) and nothing about a
//! record tells which app made it. Pure: no database, no HTTP, no clock; the caller passes the
//! device, the time of arrival and a look-up of the photos that have arrived.
//!
//! What each form becomes:
//!
//! | form | mutations |
//! |---|---|
//! | the four checks, `visit`, `presence` | one `create` of the entity, id `ids::record(form, instance)` |
//! | `household_register`, `member_register` | one `create` per entity block, id `ids::entity(dataset, block id)` |
//! | `household_update`, `member_update` | one `update` per entity block with changed fields (none when nothing changed) |
//! | `survey-<key>` | one `create` of a `survey_submission` |
//!
//! A mutation's id is `ids::mutation(form, instance)` (the block at `/data/meta/entity` too),
//! so a resent submission is a duplicate for the push; further entity blocks (repeats) take
//! `ids::derived` over the block's path. The HLC is the capture time (never the server's
//! clock, so a late upload does not win races it did not win in the field), the mutation's
//! place as counter, the Collect device's fieldsync id as node.
//!
//! Choices made where the native app has no counterpart:
//! - A geopoint without an accuracy, or with 0 (typed or placed by hand: Android never
//!   reports 0 for a real fix), gets [`UNKNOWN_ACCURACY_M`]: the push takes it, and the GPS
//!   judge doubts it (`low_accuracy`) instead of trusting a point nobody measured.
//! - The time of capture is the instance's start, else its end, else the arrival: the phone's
//!   start is when the cadre opened the form at the household. A visit's `ended_at` is the
//!   instance's end, left out when it has none.
//! - An edit of a sent form (`deprecatedID`) is a correction that supersedes the first
//!   record where the entity has `supersedes`; a check-in has none, and a registration's
//!   entity already exists: both are refused as [`Kind::Unsupported`] (the cadre submits a new
//!   check-in or uses the update form). An edited update form is simply another update made on
//!   the same base.
//! - An entity block with both `create` and `update` is an update when it names a base
//!   version, else a create.
//! - A fix's time is the hidden `gps_at` the form sets when the point is taken, else the
//!   instance's end (the fix came before it), else its start, else the arrival; `mocked` is
//!   false, as Collect does not send Android's flag.
//! - An update whose values all equal the originals maps to no mutation (the push refuses an
//!   empty update, and there is nothing to write).
//! - A member created in the same submission as a new household, naming no household of its
//!   own, belongs to that household (a hand-made form with members in a repeat).
//! - An update's id is the block's id as sent (the list names records by their server id); a
//!   create's goes through `ids::entity`.

use fieldsync_protocol::forms::{FieldKind, FormDef, FormField};
use fieldsync_protocol::gps::{Crs, GpsFix, MAX_ACCURACY_M};
use fieldsync_protocol::hlc::Hlc;
use fieldsync_protocol::push::{Mutation, Op};
use fieldsync_protocol::registry::{
    EntityDef, FieldDef, FieldType, HOUSEHOLD, MEMBER, SURVEY_SUBMISSION,
};
use serde_json::{Map, Number, Value};
use time::OffsetDateTime;
use time::macros::format_description;
use uuid::Uuid;

use super::ids;
use super::instance::{self, Answer, EntityAction, Field, Submission};
use super::problem::{Kind, Problem};
use super::xform::build::ROOT;
use super::xform::registry::{self, Purpose, RegistryForm, column, geopoint_pair};
use super::xform::survey;
use super::xml::without_indexes;

/// The form a submission was filled on, as the server served it.
#[derive(Clone, Copy, Debug)]
pub enum Source<'a> {
    Registry(&'static RegistryForm),
    Survey(&'a FormDef),
}

/// What the mapping needs from outside the instance.
pub struct Context<'a> {
    /// The Collect device's fieldsync device id: the HLC node, as the push requires.
    pub device_id: Uuid,
    /// When the server got the submission: the capture time of an instance without one.
    pub received: OffsetDateTime,
    /// An attachment's file name → the stored photo's hash (lowercase hex SHA-256), `None`
    /// while it has not arrived.
    pub photo: &'a dyn Fn(&str) -> Option<String>,
}

/// The mutations of one submission.
#[derive(Clone, Debug, PartialEq)]
pub struct Mapped {
    /// In the order they must be pushed (a household before its members).
    pub mutations: Vec<Mutation>,
    /// Attachments the instance names that have not arrived: left out of the record, so the
    /// caller can wait for the rest of a split upload (or accept the record without them).
    pub missing_photos: Vec<String>,
}

/// The accuracy given to a fix that reports none: the largest the push accepts.
pub const UNKNOWN_ACCURACY_M: f64 = MAX_ACCURACY_M;

/// Maps one submission, refusing it when its values do not read as their types, it has no
/// instanceID, or it was read against another form.
pub fn mutations(
    sub: &Submission,
    source: Source<'_>,
    ctx: &Context<'_>,
) -> Result<Mapped, Problem> {
    let expected = match source {
        Source::Registry(form) => form.form_id.to_owned(),
        Source::Survey(def) => survey::form_id(&def.key),
    };
    let instance_id = ready(sub, &expected)?;
    let mut run = Run {
        sub,
        ctx,
        instance_id,
        captured: sub.captured().unwrap_or(ctx.received),
        missing: Vec::new(),
        out: Vec::new(),
    };
    let root = format!("/{ROOT}");
    match source {
        Source::Registry(form) => match form.purpose {
            Purpose::Check(_) | Purpose::Visit | Purpose::Presence => {
                run.observation(form, &root)?;
            }
            Purpose::Register(_) | Purpose::Update(_) => run.entities(form, &root)?,
        },
        Source::Survey(def) => run.survey(def, &root)?,
    }
    Ok(Mapped {
        mutations: run.out,
        missing_photos: run.missing,
    })
}

fn invalid(zh: impl Into<String>, en: impl Into<String>, path: &str) -> Problem {
    Problem::new(Kind::Invalid, zh, en).at(path)
}

/// The checks before anything is mapped; the instanceID, trimmed.
fn ready<'s>(sub: &'s Submission, expected: &str) -> Result<&'s str, Problem> {
    if let Some(first) = sub.problems.first() {
        // The first problem names its path; the count tells the cadre there is more to fix.
        let more = sub.problems.len() - 1;
        let mut p = first.clone();
        if more > 0 {
            p.zh = format!("{}（另有{more}处错误）", p.zh);
            p.en = format!("{} (and {more} more)", p.en);
        }
        return Err(p);
    }
    if sub.form_id != expected {
        return Err(Problem::new(
            Kind::UnknownForm,
            format!("提交的表单（{}）与所选表单（{expected}）不符", sub.form_id),
            format!("the instance names form {}, not {expected}", sub.form_id),
        ));
    }
    sub.instance_id
        .as_deref()
        .map(str::trim)
        .filter(|id| !id.is_empty() && !ids::normalize_instance_id(id).is_empty())
        .ok_or_else(|| {
            invalid(
                "提交的数据缺少实例编号（instanceID）",
                "the instance has no instanceID",
                &format!("/{ROOT}/meta/instanceID"),
            )
        })
}

fn ms(t: OffsetDateTime) -> u64 {
    u64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

/// Registry decimals take at most six decimals; a geopoint has more (and they are noise
/// below 0.1 m).
fn six_decimals(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

fn number(x: f64) -> Option<Value> {
    Number::from_f64(x).map(Value::Number)
}

/// The fields below `container` whose path there, without indexes, is `rel`: `photos/photo`
/// finds every photo of the repeat, `name` never a `person[2]/name` of a nested repeat.
fn at<'a>(sub: &'a Submission, container: &str, rel: &str) -> Vec<&'a Field> {
    let prefix = format!("{container}/");
    sub.fields
        .iter()
        .filter(|f| {
            f.path
                .strip_prefix(&prefix)
                .is_some_and(|rest| without_indexes(rest) == rel)
        })
        .collect()
}

fn first<'a>(sub: &'a Submission, container: &str, rel: &str) -> Option<&'a Field> {
    at(sub, container, rel).into_iter().next()
}

/// `lat lon …` of a value that is not typed as a geopoint (an original kept as text).
fn lat_lon(raw: &str) -> Option<(f64, f64)> {
    let mut n = raw.split_whitespace().map(|s| s.parse::<f64>().ok());
    let lat = n.next()??;
    let lon = n.next()??;
    (lat.is_finite() && lon.is_finite()).then_some((lat, lon))
}

/// A value of the registry's type from its text as Collect sent it. `None` for the types no
/// form asks as a plain value (they are filled from the metadata or not at all).
fn typed(f: &FieldDef, raw: &str, path: &str) -> Result<Option<Value>, Problem> {
    let bad = |zh: &str, en: &str| invalid(zh, en, path);
    Ok(Some(match f.ty {
        FieldType::Text { .. } | FieldType::Phone | FieldType::IdCard | FieldType::VillageCode => {
            Value::String(raw.to_owned())
        }
        FieldType::Enum(_) => Value::String(raw.to_owned()),
        FieldType::Integer { .. } => scalar(Scalar::Integer, raw, path)?,
        FieldType::Decimal { .. } => scalar(Scalar::Number, raw, path)?,
        FieldType::Bool => scalar(Scalar::Bool, raw, path)?,
        FieldType::Date => scalar(Scalar::Date, raw, path)?,
        FieldType::EnumList(_) => Value::Array(distinct(raw.split_whitespace())),
        FieldType::Ref(_) | FieldType::MemberOf(_) => {
            let id = Uuid::parse_str(raw)
                .map_err(|_| bad("不是所选记录的编号", "not the id of a listed record"))?;
            // A household or member Collect created offline is named by the v4 id the phone
            // gave it; the server keeps it under the id derived from that one.
            let dataset = match f.ty {
                FieldType::MemberOf(_) => "members",
                _ => "households",
            };
            Value::String(ids::entity(dataset, id).to_string())
        }
        FieldType::AnyRef(_)
        | FieldType::Id
        | FieldType::DateTime
        | FieldType::HashList
        | FieldType::Object => return Ok(None),
    }))
}

/// The distinct items, in their order, as JSON strings (a list field takes each value once).
fn distinct<'a>(items: impl Iterator<Item = &'a str>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for s in items {
        let v = Value::String(s.to_owned());
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

/// Two values of one field alike for "did the cadre change it": lists as sets (the order of
/// a select's choices is not an edit), numbers as numbers (`3` and `3.0`).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().all(|i| y.contains(i)),
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn dataset_def(dataset: &str) -> Option<&'static EntityDef> {
    [&HOUSEHOLD, &MEMBER]
        .into_iter()
        .find(|d| registry::dataset(d) == Some(dataset))
}

/// Where an entity block's values are: the group holding its `meta`.
fn container(action: &EntityAction) -> &str {
    action
        .path
        .strip_suffix("/meta/entity")
        .unwrap_or(&action.path)
}

/// Pushed before: households, then members, then the rest; outer blocks before nested ones;
/// else document order.
fn push_rank(action: &EntityAction) -> (usize, usize) {
    let set = match action.dataset.as_str() {
        "households" => 0,
        "members" => 1,
        _ => 2,
    };
    (set, action.path.matches('/').count())
}

/// What one mutation does to its record.
enum Change {
    Create(Map<String, Value>),
    /// On the server version the edit was made on.
    Update(u64, Map<String, Value>),
}

struct Run<'s, 'c> {
    sub: &'s Submission,
    ctx: &'c Context<'c>,
    instance_id: &'s str,
    captured: OffsetDateTime,
    missing: Vec<String>,
    out: Vec<Mutation>,
}

impl Run<'_, '_> {
    fn form_id(&self) -> &str {
        &self.sub.form_id
    }

    fn push(
        &mut self,
        mutation_id: Uuid,
        def: &EntityDef,
        id: Uuid,
        change: Change,
        gps: Option<GpsFix>,
    ) {
        let (op, base_version, fields) = match change {
            Change::Create(fields) => (Op::Create, None, fields),
            Change::Update(base, fields) => (Op::Update, Some(base), fields),
        };
        let counter = u32::try_from(self.out.len()).unwrap_or(u32::MAX);
        self.out.push(Mutation {
            mutation_id,
            entity: def.name.to_owned(),
            id,
            op,
            base_version,
            fields,
            hlc: Hlc {
                wall_ms: ms(self.captured),
                counter,
                node: self.ctx.device_id,
            },
            gps,
        });
    }

    /// The fix of `<container>/gps`, timed by the hidden `gps_at` the form sets when the
    /// point is taken, else by the end of the instance (the fix was taken before it).
    fn gps(&self, container: &str) -> Option<GpsFix> {
        let point = match &first(self.sub, container, "gps")?.answer {
            Answer::Point(p) => *p,
            _ => return None,
        };
        let fix_at = match first(self.sub, container, "gps_at").map(|f| &f.answer) {
            Some(Answer::DateTime(t)) => *t,
            _ => self
                .sub
                .ended
                .or(self.sub.started)
                .unwrap_or(self.ctx.received),
        };
        Some(GpsFix {
            lat: point.lat,
            lon: point.lon,
            accuracy_m: point
                .accuracy
                .filter(|a| *a > 0.0)
                .map_or(UNKNOWN_ACCURACY_M, |a| a.min(MAX_ACCURACY_M)),
            // Android's location API, which Collect records, is WGS-84.
            crs: Crs::Wgs84,
            fix_at,
            // Collect does not send Android's mock flag.
            mocked: false,
        })
    }

    /// Hashes of the photos of `<container>/<rel>`, each once; names not arrived are noted.
    fn photos(&mut self, container: &str, rel: &str) -> Option<Value> {
        let mut hashes: Vec<Value> = Vec::new();
        for f in at(self.sub, container, rel) {
            let Answer::File(name) = &f.answer else {
                continue;
            };
            match (self.ctx.photo)(name) {
                Some(h) => {
                    let h = Value::String(h);
                    if !hashes.contains(&h) {
                        hashes.push(h);
                    }
                }
                None => {
                    if !self.missing.contains(name) {
                        self.missing.push(name.clone());
                    }
                }
            }
        }
        (!hashes.is_empty()).then_some(Value::Array(hashes))
    }

    /// A plain field's value below `container`: its element, the two halves of a geopoint
    /// pair, or (for an entity) the property a form saved it to under another name.
    fn plain(
        &self,
        def: &EntityDef,
        f: &FieldDef,
        container: &str,
        action: Option<&EntityAction>,
    ) -> Result<Option<Value>, Problem> {
        if let Some(stem) = geopoint_pair(def)
            && let Some(half) = f.name.strip_prefix(stem)
            && (half == "_lat" || half == "_lon")
        {
            return Ok(match first(self.sub, container, stem).map(|f| &f.answer) {
                Some(Answer::Point(p)) => {
                    number(six_decimals(if half == "_lat" { p.lat } else { p.lon }))
                }
                _ => None,
            });
        }
        let path = format!("{container}/{}", f.name);
        if let Some(field) = first(self.sub, container, f.name) {
            return typed(f, &field.raw, &path);
        }
        let saved = action.and_then(|a| {
            a.properties
                .iter()
                .find(|(p, v)| p == column(f.name) && !v.trim().is_empty())
        });
        match saved {
            Some((_, v)) => typed(f, v.trim(), &path),
            None => Ok(None),
        }
    }

    /// A check, a visit or a check-in: one append-only record.
    fn observation(&mut self, form: &RegistryForm, root: &str) -> Result<(), Problem> {
        let def = form.entity();
        let supersedes = match (&self.sub.deprecated_id, def.field("supersedes")) {
            (None, _) => None,
            (Some(old), Some(_)) => Some(ids::record(self.form_id(), old)),
            (Some(_), None) => {
                return Err(Problem::new(
                    Kind::Unsupported,
                    "已提交的签到不能修改，请重新签到",
                    format!("a sent {} cannot be corrected; submit a new one", def.name),
                )
                .at(format!("{root}/meta/deprecatedID")));
            }
        };
        let mut fields = Map::new();
        for f in def.fields.iter().filter(|f| !f.server_only) {
            let value = match (f.name, f.ty) {
                ("supersedes", _) => supersedes.map(|id| Value::String(id.to_string())),
                ("captured_at" | "started_at", FieldType::DateTime) => {
                    Some(Value::String(instance::rfc3339(self.captured)))
                }
                ("ended_at", FieldType::DateTime) => {
                    self.sub.ended.map(|t| Value::String(instance::rfc3339(t)))
                }
                (_, FieldType::HashList) => self.photos(root, &format!("{}/photo", f.name)),
                _ => self.plain(def, f, root, None)?,
            };
            if let Some(v) = value {
                fields.insert(f.name.to_owned(), v);
            }
        }
        let gps = self.gps(root);
        self.create_of_instance(def, fields, gps);
        Ok(())
    }

    /// The one record an instance makes (a check, a visit, a survey, an entity form without
    /// entities): mutation and record named by the instance.
    fn create_of_instance(
        &mut self,
        def: &'static EntityDef,
        fields: Map<String, Value>,
        gps: Option<GpsFix>,
    ) {
        let form_id = self.form_id().to_owned();
        self.push(
            ids::mutation(&form_id, self.instance_id),
            def,
            ids::record(&form_id, self.instance_id),
            Change::Create(fields),
            gps,
        );
    }

    /// A registration or an update: one mutation per entity block.
    fn entities(&mut self, form: &RegistryForm, root: &str) -> Result<(), Problem> {
        let mut blocks: Vec<&EntityAction> = self.sub.entities.iter().collect();
        blocks.sort_by_key(|a| push_rank(a));
        let gps = self.gps(root);
        let form_id = self.form_id().to_owned();
        if blocks.is_empty() {
            return match form.purpose {
                // A Collect without entities still sends the form: the record takes an id
                // of the instance, as a check does.
                Purpose::Register(def) => {
                    self.not_an_edit(def, root)?;
                    let fields = self.create_fields(def, root, None, None)?;
                    self.create_of_instance(def, fields, gps);
                    Ok(())
                }
                _ => Err(invalid(
                    "提交的数据缺少实体信息（meta/entity），无法知道修改的是哪条记录",
                    "the instance has no entity block, so the record it changes is unknown",
                    &format!("{root}/meta/entity"),
                )),
            };
        }
        // A member registered beside its household in one form belongs to it.
        let new_household = blocks
            .iter()
            .find(|a| a.dataset == "households" && a.create && a.base_version.is_none())
            .map(|a| ids::entity(&a.dataset, a.id));
        for action in blocks {
            let def = dataset_def(&action.dataset).ok_or_else(|| {
                invalid(
                    format!("不认识的实体列表 {}", action.dataset),
                    format!("unknown entity list {}", action.dataset),
                    &format!("{}/@dataset", action.path),
                )
            })?;
            let mutation_id = if action.path == format!("{root}/meta/entity") {
                ids::mutation(&form_id, self.instance_id)
            } else {
                ids::derived(
                    "entity-mutation",
                    &[
                        &form_id,
                        &ids::normalize_instance_id(self.instance_id),
                        &action.path,
                    ],
                )
            };
            let here = container(action);
            let update = action.update
                && (!action.create
                    || action.base_version.is_some()
                    || action.trunk_version.is_some());
            if update {
                let base = action
                    .trunk_version
                    .or(action.base_version)
                    .ok_or_else(|| {
                        invalid(
                            "修改缺少记录版本（baseVersion），请更新表单附件后重填",
                            "the update names no base version; update the form's lists and fill it again",
                            &format!("{}/@baseVersion", action.path),
                        )
                    })?;
                let fields = self.changed_fields(def, here, action)?;
                // Nothing changed: nothing to write (the push refuses an empty update).
                if !fields.is_empty() {
                    self.push(
                        mutation_id,
                        def,
                        ids::entity(&action.dataset, action.id),
                        Change::Update(base, fields),
                        gps.clone(),
                    );
                }
            } else if action.create {
                self.not_an_edit(def, root)?;
                let household = (def.name == MEMBER.name).then_some(new_household).flatten();
                let fields = self.create_fields(def, here, Some(action), household)?;
                self.push(
                    mutation_id,
                    def,
                    ids::entity(&action.dataset, action.id),
                    Change::Create(fields),
                    gps.clone(),
                );
            }
        }
        Ok(())
    }

    /// A registration sent again after an edit in Collect would create its entity twice.
    fn not_an_edit(&self, def: &EntityDef, root: &str) -> Result<(), Problem> {
        match self.sub.deprecated_id {
            None => Ok(()),
            Some(_) => Err(Problem::new(
                Kind::Unsupported,
                "已提交的登记不能在 Collect 中修改，请用“修改”表单",
                format!(
                    "a sent {} registration cannot be edited in Collect; use the update form",
                    def.name
                ),
            )
            .at(format!("{root}/meta/deprecatedID"))),
        }
    }

    fn create_fields(
        &mut self,
        def: &EntityDef,
        here: &str,
        action: Option<&EntityAction>,
        household: Option<Uuid>,
    ) -> Result<Map<String, Value>, Problem> {
        let mut fields = Map::new();
        for f in def.fields.iter().filter(|f| !f.server_only) {
            let mut value = self.plain(def, f, here, action)?;
            // The entity's label is its name (a member's `name`, a household's head).
            let label_field = if def.name == HOUSEHOLD.name {
                "head_name"
            } else {
                "name"
            };
            if value.is_none() && f.name == label_field {
                value = action
                    .and_then(|a| a.label.as_deref())
                    .map(|l| Value::String(l.to_owned()));
            }
            if value.is_none() && f.name == "household_id" {
                value = household.map(|h| Value::String(h.to_string()));
            }
            if let Some(v) = value {
                fields.insert(f.name.to_owned(), v);
            }
        }
        Ok(fields)
    }

    /// The fields whose value differs from `<container>/orig/<name>`, the value the form was
    /// prefilled with: only what the cadre changed is written, so a masked value the role was
    /// sent (an ID-card number as 6401**********1234) and left alone never overwrites the real
    /// one. A value emptied by the cadre is cleared (`null`).
    fn changed_fields(
        &mut self,
        def: &EntityDef,
        here: &str,
        action: &EntityAction,
    ) -> Result<Map<String, Value>, Problem> {
        let mut fields = Map::new();
        let pair = geopoint_pair(def);
        let orig = format!("{here}/orig");
        for f in def.fields.iter().filter(|f| !f.server_only && !f.immutable) {
            if let Some(stem) = pair
                && let Some(half) = f.name.strip_prefix(stem)
                && (half == "_lat" || half == "_lon")
            {
                if half == "_lat" {
                    self.changed_pair(stem, here, &orig, &mut fields);
                }
                continue;
            }
            let now = self.plain(def, f, here, Some(action))?;
            let was = first(self.sub, &orig, f.name).map(|o| {
                // An original that does not read as its type differs from any value.
                typed(f, &o.raw, &o.path)
                    .ok()
                    .flatten()
                    .unwrap_or_else(|| Value::String(o.raw.clone()))
            });
            let unchanged = match (&now, &was) {
                (Some(a), Some(b)) => same(a, b),
                (None, None) => true,
                _ => false,
            };
            if !unchanged {
                fields.insert(f.name.to_owned(), now.unwrap_or(Value::Null));
            }
        }
        Ok(fields)
    }

    /// The house's position, asked as one geopoint: both halves are written when the point
    /// moved (to six decimals, what the registry keeps), both cleared when it was emptied.
    fn changed_pair(&self, stem: &str, here: &str, orig: &str, fields: &mut Map<String, Value>) {
        let now = match first(self.sub, here, stem).map(|f| &f.answer) {
            Some(Answer::Point(p)) => Some((six_decimals(p.lat), six_decimals(p.lon))),
            _ => None,
        };
        let was = first(self.sub, orig, stem)
            .and_then(|o| lat_lon(&o.raw))
            .map(|(lat, lon)| (six_decimals(lat), six_decimals(lon)));
        if now == was {
            return;
        }
        let (lat, lon) = match now {
            Some((lat, lon)) => (
                number(lat).unwrap_or(Value::Null),
                number(lon).unwrap_or(Value::Null),
            ),
            None => (Value::Null, Value::Null),
        };
        fields.insert(format!("{stem}_lat"), lat);
        fields.insert(format!("{stem}_lon"), lon);
    }

    /// A survey as the native app submits it: the household (and member) it is about, the
    /// form's key and version, the answers keyed by the definition's field names, the capture
    /// time, photos, and a correction's `supersedes`.
    fn survey(&mut self, def: &FormDef, root: &str) -> Result<(), Problem> {
        if let Some(v) = self.sub.version.as_deref()
            && survey::version_of(v) != Some(def.version)
        {
            return Err(Problem::new(
                Kind::UnknownForm,
                format!("提交的表单版本（{v}）与所选版本（{}）不符", def.version),
                format!(
                    "the instance was filled on version {v}, not {}",
                    def.version
                ),
            ));
        }
        let entity = &SURVEY_SUBMISSION;
        let form_id = self.form_id().to_owned();
        let mut fields = Map::new();
        for name in ["household_id", "member_id"] {
            if let Some(f) = entity.field(name)
                && let Some(v) = self.plain(entity, f, root, None)?
            {
                fields.insert(name.to_owned(), v);
            }
        }
        fields.insert("form_key".into(), Value::String(def.key.clone()));
        fields.insert("form_version".into(), Value::from(def.version));
        let answers_at = format!("{root}/answers");
        let mut answers = Map::new();
        for f in &def.fields {
            if let Some(field) = first(self.sub, &answers_at, &f.name) {
                answers.insert(f.name.clone(), answer(f, &field.raw, &field.path)?);
            }
        }
        fields.insert("answers".into(), Value::Object(answers));
        fields.insert(
            "captured_at".into(),
            Value::String(instance::rfc3339(self.captured)),
        );
        if let Some(old) = &self.sub.deprecated_id {
            fields.insert(
                "supersedes".into(),
                Value::String(ids::record(&form_id, old).to_string()),
            );
        }
        if let Some(photos) = self.photos(root, "photos/photo") {
            fields.insert("photos".into(), photos);
        }
        let gps = self.gps(root);
        self.push(
            ids::mutation(&form_id, self.instance_id),
            entity,
            ids::record(&form_id, self.instance_id),
            Change::Create(fields),
            gps,
        );
        Ok(())
    }
}

/// The plain kinds registry fields and survey answers share, read alike from their text.
#[derive(Clone, Copy)]
enum Scalar {
    Integer,
    Number,
    Bool,
    Date,
}

fn scalar(kind: Scalar, raw: &str, path: &str) -> Result<Value, Problem> {
    let bad = |zh: &str, en: &str| invalid(zh, en, path);
    Ok(match kind {
        Scalar::Integer => Value::from(
            raw.parse::<i64>()
                .map_err(|_| bad("不是整数", "not a whole number"))?,
        ),
        Scalar::Number => raw
            .parse::<f64>()
            .ok()
            .and_then(number)
            .ok_or_else(|| bad("不是数字", "not a number"))?,
        Scalar::Bool => Value::Bool(match raw {
            "true" | "1" => true,
            "false" | "0" => false,
            _ => return Err(bad("不是“是/否”", "not true or false")),
        }),
        Scalar::Date => {
            time::Date::parse(raw, &format_description!("[year]-[month]-[day]"))
                .map_err(|_| bad("不是日期（年-月-日）", "not a date YYYY-MM-DD"))?;
            Value::String(raw.to_owned())
        }
    })
}

/// One survey answer from its text, by the definition's kind; a choice's value (the option
/// itself, or its number when an option holds a space: `survey::option_values`) back to the
/// option.
fn answer(f: &FormField, raw: &str, path: &str) -> Result<Value, Problem> {
    let bad = |zh: &str, en: &str| invalid(zh, en, path);
    let values = survey::option_values(f);
    let option = |v: &str| {
        values
            .iter()
            .position(|x| x == v)
            .and_then(|i| f.options.get(i))
            .map(|o| Value::String(o.clone()))
            .ok_or_else(|| bad("不是表单中的选项", "not one of the form's options"))
    };
    Ok(match f.kind {
        FieldKind::Text => Value::String(raw.to_owned()),
        FieldKind::Integer => scalar(Scalar::Integer, raw, path)?,
        FieldKind::Number => scalar(Scalar::Number, raw, path)?,
        FieldKind::Bool => scalar(Scalar::Bool, raw, path)?,
        FieldKind::Date => scalar(Scalar::Date, raw, path)?,
        FieldKind::Choice => option(raw)?,
        FieldKind::MultiChoice => {
            let mut picked: Vec<Value> = Vec::new();
            for v in raw.split_whitespace() {
                let o = option(v)?;
                if !picked.contains(&o) {
                    picked.push(o);
                }
            }
            Value::Array(picked)
        }
    })
}

#[cfg(test)]
mod tests;
