//! The field simulator: many phones of several villages working on the same households for
//! days, most of it offline, with wrong clocks and answers lost on the way back; then every
//! phone syncs and the simulator checks the two promises of the protocol:
//! - **convergence**: every phone shows exactly what the server holds for its villages;
//! - **nothing lost**: every edit a phone made is the value the server kept, or was knowingly
//!   replaced (by an edit made on top of it), or is held in a conflict record.
//!
//! Rounds stand for a few hours of field work: in each, every phone makes edits; a phone that
//! is online syncs (all at once, as phones do), one that went offline keeps editing and comes
//! back after hours to days. It is also the load generator for benchmarks.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Instant;

use fieldsync_protocol::push::{MutationResult, Status};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::replica::{Replica, ReplicaError};

/// One simulated phone: whose it is and where it works.
#[derive(Clone, Debug)]
pub struct PhoneSpec {
    pub username: String,
    pub password: String,
    pub village: String,
    /// Reviews conflicts (a first secretary): the simulator reads the village's conflicts
    /// through the first such phone of each village.
    pub reviewer: bool,
}

#[derive(Clone, Debug)]
pub struct SimConfig {
    pub base_url: String,
    pub phones: Vec<PhoneSpec>,
    /// Where the phones keep their stores.
    pub dir: PathBuf,
    pub households_per_village: usize,
    /// Edits over the whole run (at least; rounded up to whole rounds).
    pub edits: usize,
    pub rounds: usize,
    /// Chance that an online phone goes offline in a round, and for how many rounds at most.
    pub offline_chance: f64,
    pub offline_rounds_max: usize,
    /// Chance that a sync's push answer is lost on the way back.
    pub lost_answer_chance: f64,
    /// Phones' clocks are off by up to this much (behind, or a little ahead).
    pub skew_ms_max: i64,
    pub seed: u64,
    /// A JPEG the phones photograph with: each photo is a copy made unique by a comment
    /// segment, attached to a visit record. `None`: no photos.
    pub photo: Option<PathBuf>,
    /// Chance that a phone takes a photo (records a visit with it) in a round.
    pub photo_chance: f64,
}

impl SimConfig {
    /// Field conditions: 30 households a village, 5,000 edits over 20 rounds, one phone in
    /// seven going offline for up to 6 rounds, clocks up to two hours off, one push answer in
    /// ten lost.
    pub fn field(base_url: &str, phones: Vec<PhoneSpec>, dir: PathBuf) -> SimConfig {
        SimConfig {
            base_url: base_url.to_owned(),
            phones,
            dir,
            households_per_village: 30,
            edits: 5_000,
            rounds: 20,
            offline_chance: 0.15,
            offline_rounds_max: 6,
            lost_answer_chance: 0.1,
            skew_ms_max: 2 * 3_600_000,
            seed: 7,
            photo: None,
            photo_chance: 0.25,
        }
    }
}

/// What a run did and found.
#[derive(Clone, Debug, Default)]
pub struct SimSummary {
    pub phones: usize,
    pub villages: usize,
    pub edits: usize,
    pub syncs: usize,
    pub offline_periods: usize,
    pub lost_answers: usize,
    pub conflicts: usize,
    pub rejected: usize,
    pub duplicates: usize,
    /// Photos taken (each on a visit record).
    pub photos: usize,
    pub seconds: f64,
    /// Phones whose state differs from the server's, with the first difference.
    pub diverged: Vec<String>,
    /// Edits neither kept, nor knowingly replaced, nor in a conflict record.
    pub lost: Vec<String>,
    /// Photos the server does not hold complete and processed at the end.
    pub photos_missing: Vec<String>,
}

impl SimSummary {
    pub fn ok(&self) -> bool {
        self.diverged.is_empty()
            && self.lost.is_empty()
            && self.photos_missing.is_empty()
            && self.rejected == 0
    }
}

impl std::fmt::Display for SimSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} phones, {} villages, {} edits, {} syncs in {:.1} s",
            self.phones, self.villages, self.edits, self.syncs, self.seconds
        )?;
        writeln!(
            f,
            "offline periods {}, answers lost {}, conflicts {}, duplicates {}, rejected {}",
            self.offline_periods, self.lost_answers, self.conflicts, self.duplicates, self.rejected
        )?;
        writeln!(
            f,
            "photos {}: {}",
            self.photos,
            if self.photos_missing.is_empty() {
                "all stored and processed".to_owned()
            } else {
                format!(
                    "{} missing: {:?}",
                    self.photos_missing.len(),
                    self.photos_missing
                )
            }
        )?;
        write!(
            f,
            "convergence: {}; nothing lost: {}",
            if self.diverged.is_empty() {
                "every phone equals the server".to_owned()
            } else {
                format!("{} phones differ: {:?}", self.diverged.len(), self.diverged)
            },
            if self.lost.is_empty() {
                "every edit kept, replaced knowingly or in a conflict".to_owned()
            } else {
                format!("{} edits lost: {:?}", self.lost.len(), self.lost)
            }
        )
    }
}

/// A small deterministic generator (SplitMix64): the same seed, the same run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % (n.max(1) as u64)) as usize
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

/// One edit a phone made: which record and field, the value, and the mutation.
#[derive(Clone, Debug)]
struct Edit {
    phone: usize,
    record: Uuid,
    field: &'static str,
    value: Value,
    mutation: Uuid,
    base: u64,
    /// Order of making on its phone.
    order: usize,
}

struct Phone {
    spec: PhoneSpec,
    replica: Replica,
    offline_until: usize,
}

const FIELDS: [&str; 4] = ["phone", "address", "notes", "grid"];

fn value_for(field: &str, phone: usize, n: usize) -> Value {
    match field {
        // Unique per edit, so every value can be traced to the edit that made it.
        "phone" => json!(format!("13{:03}{:06}", phone % 1000, n % 1_000_000)),
        "address" => json!(format!("{}组{}号 (p{phone})", n % 12 + 1, n)),
        "notes" => json!(format!("走访记录 p{phone} #{n}")),
        _ => json!(format!("网格{}-p{phone}-{n}", n % 5 + 1)),
    }
}

pub async fn run(cfg: &SimConfig) -> Result<SimSummary, ReplicaError> {
    let started = Instant::now();
    let mut rng = Rng(cfg.seed);
    let mut summary = SimSummary {
        phones: cfg.phones.len(),
        ..SimSummary::default()
    };
    let mut villages: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut phones = Vec::with_capacity(cfg.phones.len());
    for (i, spec) in cfg.phones.iter().enumerate() {
        let mut replica =
            Replica::open(&cfg.dir.join(format!("phone-{i}.db")), &cfg.base_url).await?;
        replica.login(&spec.username, &spec.password).await?;
        // Behind by up to the maximum, or ahead by up to a tenth of it (the server refuses
        // stamps far ahead of its clock, so real phones that far ahead cannot sync at all).
        let span = cfg.skew_ms_max.max(1);
        let skew = i64::try_from(rng.next() % u64::try_from(span + span / 10).unwrap_or(1))
            .unwrap_or(0)
            - span;
        replica.device.skew_ms = skew;
        villages.entry(spec.village.clone()).or_default().push(i);
        phones.push(Phone {
            spec: spec.clone(),
            replica,
            offline_until: 0,
        });
    }
    summary.villages = villages.len();

    // Each village's households, registered by its first phone.
    let mut households: BTreeMap<String, Vec<Uuid>> = BTreeMap::new();
    for (village, members) in &villages {
        let first = &mut phones[members[0]].replica;
        let mut ids = Vec::new();
        for n in 0..cfg.households_per_village {
            ids.push(
                first
                    .create(
                        "household",
                        json!({"village_code": village, "head_name": format!("户主{n}")}),
                    )
                    .await?,
            );
        }
        first.sync().await?;
        households.insert(village.clone(), ids);
    }
    for p in &mut phones {
        p.replica.sync().await?;
    }

    let per_round = cfg.edits.div_ceil(cfg.rounds.max(1) * phones.len().max(1));
    let mut edits: Vec<Edit> = Vec::new();
    // Each photo with the phone that took it (the one that may see it wherever it is).
    let mut photos: Vec<(usize, String)> = Vec::new();
    let mut made = 0usize;
    for round in 0..cfg.rounds {
        // Work in the field.
        for (i, p) in phones.iter_mut().enumerate() {
            let hs = &households[&p.spec.village];
            for _ in 0..per_round {
                let record = hs[rng.below(hs.len())];
                let field = FIELDS[rng.below(FIELDS.len())];
                let value = value_for(field, i, made);
                let base = p
                    .replica
                    .view(record)
                    .await?
                    .map_or(1, |l| l.version.max(1));
                let mutation = p
                    .replica
                    .update(record, json!({ field: value.clone() }))
                    .await?;
                edits.push(Edit {
                    phone: i,
                    record,
                    field,
                    value,
                    mutation,
                    base,
                    order: made,
                });
                made += 1;
            }
            if let Some(source) = &cfg.photo
                && rng.chance(cfg.photo_chance)
            {
                let household = hs[rng.below(hs.len())];
                let name = take_photo(&p.replica, source, &cfg.dir, i, made).await?;
                let started_at = time::OffsetDateTime::from_unix_timestamp_nanos(
                    i128::from(p.replica.device.now_ms()) * 1_000_000,
                )
                .ok()
                .and_then(|t| {
                    t.format(&time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .unwrap_or_default();
                p.replica
                    .create(
                        "visit",
                        json!({"village_code": p.spec.village, "household_id": household,
                               "started_at": started_at, "purpose": "routine",
                               "photos": [name.clone()]}),
                    )
                    .await?;
                photos.push((i, name));
            }
            if round > 0 && p.offline_until <= round && rng.chance(cfg.offline_chance) {
                p.offline_until = round + 1 + rng.below(cfg.offline_rounds_max.max(1));
                summary.offline_periods += 1;
            }
        }
        // Those with a connection sync, all at once.
        let mut tasks = Vec::new();
        for p in phones.drain(..) {
            let online = p.offline_until <= round;
            let lose = online && rng.chance(cfg.lost_answer_chance);
            tasks.push(tokio::spawn(async move {
                let mut p = p;
                if !online {
                    return (p, None);
                }
                p.replica.faults.lose_next_answer = lose;
                let r = p.replica.sync().await;
                (p, Some((r, lose)))
            }));
        }
        for t in tasks {
            let (p, outcome) = t
                .await
                .map_err(|e| ReplicaError::Invalid(format!("phone task: {e}")))?;
            if let Some((r, lose)) = outcome {
                let r = r?;
                summary.syncs += 1;
                summary.lost_answers += usize::from(lose);
                summary.conflicts += r.conflicts;
                summary.rejected += r.rejected;
                summary.duplicates += r.duplicates;
            }
            phones.push(p);
        }
    }
    summary.edits = made;

    // Everyone comes back: push everything, then pull what the others pushed.
    for _ in 0..2 {
        for p in &mut phones {
            let r = p.replica.sync().await?;
            summary.syncs += 1;
            summary.conflicts += r.conflicts;
            summary.rejected += r.rejected;
            summary.duplicates += r.duplicates;
        }
    }

    summary.photos = photos.len();
    check_convergence(&phones, &mut summary).await?;
    check_nothing_lost(&phones, &villages, &edits, &mut summary).await?;
    check_photos(&phones, &photos, &mut summary).await?;
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// A photo as a phone takes it: the source JPEG made unique by a comment segment (COM, right
/// after the start-of-image marker), written to the phone's folder and kept for upload.
async fn take_photo(
    replica: &Replica,
    source: &std::path::Path,
    dir: &std::path::Path,
    phone: usize,
    n: usize,
) -> Result<String, ReplicaError> {
    let bytes = tokio::fs::read(source)
        .await
        .map_err(|e| ReplicaError::Invalid(format!("{}: {e}", source.display())))?;
    let Some(rest) = bytes.strip_prefix(&[0xFF, 0xD8][..]) else {
        return Err(ReplicaError::Invalid(format!(
            "{} is not a JPEG",
            source.display()
        )));
    };
    let comment = format!("fieldsync-sim phone {phone} photo {n}");
    let len = u16::try_from(comment.len() + 2).unwrap_or(u16::MAX);
    let mut photo = Vec::with_capacity(bytes.len() + comment.len() + 4);
    photo.extend_from_slice(&[0xFF, 0xD8, 0xFF, 0xFE]);
    photo.extend_from_slice(&len.to_be_bytes());
    photo.extend_from_slice(comment.as_bytes());
    photo.extend_from_slice(rest);
    let path = dir.join(format!("photo-{phone}-{n}.jpg"));
    tokio::fs::write(&path, &photo)
        .await
        .map_err(|e| ReplicaError::Invalid(format!("{}: {e}", path.display())))?;
    replica.add_photo(&path).await
}

/// Every photo taken is on the server, complete (its bytes hashed to its name on arrival) and
/// processed. Processing runs in the background, so this waits for it a while.
async fn check_photos(
    phones: &[Phone],
    photos: &[(usize, String)],
    summary: &mut SimSummary,
) -> Result<(), ReplicaError> {
    let deadline = Instant::now() + std::time::Duration::from_secs(120);
    let mut waiting: Vec<&(usize, String)> = photos.iter().collect();
    while !waiting.is_empty() {
        let mut still = Vec::new();
        for taken in waiting {
            let (phone, name) = taken;
            let meta: Result<Value, _> = phones[*phone]
                .replica
                .api
                .get_json(&format!("/v1/blobs/{name}/meta"))
                .await;
            match meta.as_ref().ok().and_then(|m| m["state"].as_str()) {
                Some("ready") => {}
                Some("processing" | "receiving") => still.push(taken),
                other => summary
                    .photos_missing
                    .push(format!("{name}: {}", other.unwrap_or("not on the server"))),
            }
        }
        if !still.is_empty() && Instant::now() > deadline {
            summary.photos_missing.extend(
                still
                    .iter()
                    .map(|(_, n)| format!("{n}: still processing after 120 s")),
            );
            break;
        }
        if !still.is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
        waiting = still;
    }
    Ok(())
}

/// Every phone's records (pending nothing) equal a full pull of its villages.
async fn check_convergence(phones: &[Phone], summary: &mut SimSummary) -> Result<(), ReplicaError> {
    for (i, p) in phones.iter().enumerate() {
        let (depth, _) = p.replica.outbox().await?;
        let (changes, _, _) = p.replica.api.pull_all(None, None).await?;
        let mut server: BTreeMap<Uuid, (u64, bool, serde_json::Map<String, Value>)> =
            BTreeMap::new();
        for c in changes {
            if server.get(&c.id).is_none_or(|(v, _, _)| *v <= c.version) {
                server.insert(c.id, (c.version, c.deleted, c.fields));
            }
        }
        let local = p.replica.all().await?;
        let mine: BTreeMap<Uuid, (u64, bool, serde_json::Map<String, Value>)> = local
            .into_iter()
            .map(|(id, l)| (id, (l.version, l.deleted, l.fields)))
            .collect();
        if depth > 0 {
            summary
                .diverged
                .push(format!("phone {i}: {depth} mutations never sent"));
        } else if mine != server {
            let differs = server
                .iter()
                .find(|(id, s)| mine.get(*id) != Some(*s))
                .map(|(id, _)| id.to_string())
                .unwrap_or_else(|| "a record the server does not have".into());
            summary.diverged.push(format!("phone {i}: {differs}"));
        }
    }
    Ok(())
}

/// Each edit is the value kept, or replaced by an edit made knowing it (on its version or
/// later, or later on the same phone), or held in a conflict record of its record and field.
async fn check_nothing_lost(
    phones: &[Phone],
    villages: &BTreeMap<String, Vec<usize>>,
    edits: &[Edit],
    summary: &mut SimSummary,
) -> Result<(), ReplicaError> {
    // The server's records and conflicts, read by each village's reviewer.
    let mut finals: HashMap<Uuid, serde_json::Map<String, Value>> = HashMap::new();
    let mut conflicted: HashMap<(Uuid, String), Vec<Value>> = HashMap::new();
    for members in villages.values() {
        let Some(reviewer) = members
            .iter()
            .map(|i| &phones[*i])
            .find(|p| p.spec.reviewer)
        else {
            return Err(ReplicaError::Invalid(
                "every village needs a reviewer phone".into(),
            ));
        };
        let (changes, _, _) = reviewer.replica.api.pull_all(None, None).await?;
        for c in changes {
            finals.insert(c.id, c.fields);
        }
        let mut after: Option<String> = None;
        loop {
            let path = match &after {
                Some(a) => format!("/v1/conflicts?status=all&limit=500&after={a}"),
                None => "/v1/conflicts?status=all&limit=500".to_owned(),
            };
            let page: Value = reviewer.replica.api.get_json(&path).await?;
            for c in page["conflicts"].as_array().into_iter().flatten() {
                let (Some(record), Some(field)) = (
                    c["record_id"].as_str().and_then(|s| s.parse().ok()),
                    c["field"].as_str(),
                ) else {
                    continue;
                };
                let values = conflicted.entry((record, field.to_owned())).or_default();
                values.push(c["yours"].clone());
                values.push(c["theirs"].clone());
            }
            match page["next"].as_str() {
                Some(n) => after = Some(n.to_owned()),
                None => break,
            }
        }
    }

    // What the server answered each edit, and the version it made.
    let mut answers: HashMap<Uuid, MutationResult> = HashMap::new();
    for p in phones {
        answers.extend(p.replica.answers().await?);
    }
    // Edits by record and field: each is judged against the others of its field only.
    let mut by_field: HashMap<(Uuid, &str), Vec<&Edit>> = HashMap::new();
    for e in edits {
        by_field.entry((e.record, e.field)).or_default().push(e);
    }
    for e in edits {
        let Some(a) = answers.get(&e.mutation) else {
            summary.lost.push(format!("{}: no answer", e.mutation));
            continue;
        };
        let status = match a.status {
            Status::Duplicate => a.original_status.unwrap_or(Status::Applied),
            s => s,
        };
        if status == Status::Rejected {
            continue; // kept on the phone with its reason; counted in `rejected`
        }
        let made = a.version.unwrap_or(u64::MAX);
        let kept = finals
            .get(&e.record)
            .and_then(|f| f.get(e.field))
            .is_some_and(|v| *v == e.value);
        let replaced_knowingly = by_field[&(e.record, e.field)].iter().any(|f| {
            f.mutation != e.mutation
                && (f.base >= made || (f.phone == e.phone && f.order > e.order))
                && answers.get(&f.mutation).is_some_and(|fa| {
                    !matches!(fa.status, Status::Rejected)
                        && fa.original_status != Some(Status::Rejected)
                })
        });
        let in_conflict = conflicted
            .get(&(e.record, e.field.to_owned()))
            .is_some_and(|vs| vs.contains(&e.value));
        if !(kept || replaced_knowingly || in_conflict) {
            summary.lost.push(format!(
                "{} {}.{} = {} (version {made})",
                e.mutation, e.record, e.field, e.value
            ));
        }
    }
    Ok(())
}
