//! Making mutations as a phone does.

use fieldsync_protocol::gps::GpsFix;
use fieldsync_protocol::hlc::HlcClock;
use fieldsync_protocol::push::{Mutation, Op};
use serde_json::{Map, Value};
use uuid::Uuid;

/// A phone's identity and clock. Every mutation it makes gets a fresh UUID v7 and the next
/// stamp of its hybrid logical clock, whose node is the device id.
#[derive(Clone, Debug)]
pub struct Device {
    pub id: Uuid,
    clock: HlcClock,
    /// Added to the real clock: a phone whose clock is wrong.
    pub skew_ms: i64,
}

impl Device {
    pub fn new() -> Self {
        let id = Uuid::now_v7();
        Device {
            id,
            clock: HlcClock::new(id),
            skew_ms: 0,
        }
    }

    /// A device that already has an id (a phone's store reopened).
    pub fn with_id(id: Uuid) -> Self {
        Device {
            id,
            clock: HlcClock::new(id),
            skew_ms: 0,
        }
    }

    /// Moves the clock past a stamp it has seen (its own last one, kept across restarts, or
    /// another device's): the next stamp orders after it.
    pub fn observe(&mut self, seen: &fieldsync_protocol::Hlc) {
        let now = self.now_ms();
        self.clock.observe(seen, now);
    }

    /// The phone's clock (with its skew), milliseconds since the epoch.
    pub fn now_ms(&self) -> u64 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        u64::try_from(now + self.skew_ms).unwrap_or(0)
    }

    fn stamp(&mut self) -> fieldsync_protocol::Hlc {
        let now = self.now_ms();
        self.clock.tick(now)
    }

    /// A new record id (UUID v7, made offline).
    pub fn new_id(&self) -> Uuid {
        Uuid::now_v7()
    }

    pub fn create(&mut self, entity: &str, id: Uuid, fields: Value) -> Mutation {
        self.mutation(Op::Create, entity, id, None, fields)
    }

    pub fn update(&mut self, entity: &str, id: Uuid, base_version: u64, fields: Value) -> Mutation {
        self.mutation(Op::Update, entity, id, Some(base_version), fields)
    }

    pub fn delete(&mut self, entity: &str, id: Uuid, base_version: u64) -> Mutation {
        self.mutation(
            Op::Delete,
            entity,
            id,
            Some(base_version),
            Value::Object(Map::new()),
        )
    }

    pub fn with_gps(mut m: Mutation, gps: GpsFix) -> Mutation {
        m.gps = Some(gps);
        m
    }

    fn mutation(
        &mut self,
        op: Op,
        entity: &str,
        id: Uuid,
        base_version: Option<u64>,
        fields: Value,
    ) -> Mutation {
        Mutation {
            mutation_id: Uuid::now_v7(),
            entity: entity.to_owned(),
            id,
            op,
            base_version,
            fields: match fields {
                Value::Object(m) => m,
                _ => Map::new(),
            },
            hlc: self.stamp(),
            gps: None,
        }
    }
}

impl Default for Device {
    fn default() -> Self {
        Self::new()
    }
}
