//! Encryption at rest at the storage boundary: values of encrypted fields (ID-card numbers) are
//! sealed on their way into any table and opened on their way out, and each record's ID-card
//! numbers are indexed by keyed hash. Callers of the store only ever see plain values.

use std::borrow::Cow;

use fieldsync_protocol::registry::{self, FieldType};
use serde_json::{Map, Value};
use sqlx::{QueryBuilder, Sqlite};
use uuid::Uuid;

use super::{Engine, Result, Store, StoreError, Tx, WriteBatch, fetch_scalar};
use crate::privacy::DataKey;

/// The batch with every encrypted field sealed: a copy when it holds any, the batch itself when
/// it holds none (most pushes: surveys and checks carry no ID-card number), so that a large
/// push is not copied for nothing.
pub(super) fn seal_batch<'b>(key: &DataKey, batch: &'b WriteBatch) -> Cow<'b, WriteBatch> {
    let holds = |entity: &str, fields: &Map<String, Value>| {
        registry::entity(entity).is_some_and(|def| {
            def.fields
                .iter()
                .any(|f| f.ty == FieldType::IdCard && fields.contains_key(f.name))
        })
    };
    let needed = batch
        .records
        .iter()
        .any(|r| holds(r.entity, &r.state.fields))
        || batch.conflicts.iter().any(|x| {
            registry::entity(x.entity)
                .and_then(|def| def.field(&x.field))
                .is_some_and(|f| f.ty == FieldType::IdCard)
        });
    if !needed {
        return Cow::Borrowed(batch);
    }
    let mut sealed = batch.clone();
    for r in &mut sealed.records {
        if let Some(def) = registry::entity(r.entity) {
            key.seal_fields(def, &mut r.state.fields);
        }
    }
    for x in &mut sealed.conflicts {
        if let Some(def) = registry::entity(x.entity) {
            x.yours = key.seal_value(def, &x.field, &x.yours);
            x.theirs = key.seal_value(def, &x.field, &x.theirs);
            x.kept = key.seal_value(def, &x.field, &x.kept);
        }
    }
    Cow::Owned(sealed)
}

/// Opens the encrypted fields of a stored record of `entity`.
pub(super) fn open_fields(
    key: &DataKey,
    entity: &str,
    fields: &mut Map<String, Value>,
) -> Result<()> {
    match registry::entity(entity) {
        Some(def) => key
            .open_fields(def, fields)
            .map_err(|e| StoreError::Corrupt(e.to_string())),
        None => Ok(()),
    }
}

pub(super) fn open_value(key: &DataKey, entity: &str, field: &str, value: Value) -> Result<Value> {
    match registry::entity(entity) {
        Some(def) => key
            .open_value(def, field, value)
            .map_err(|e| StoreError::Corrupt(e.to_string())),
        None => Ok(value),
    }
}

/// One ID-card number of a record: `(record, field, keyed hash)`.
type IndexEntry = (Uuid, &'static str, Vec<u8>);

/// The records of the batch whose ID-card entries are replaced (those that hold ID-card fields
/// and were stored before), and every number the batch's records now hold.
fn index_entries(key: &DataKey, batch: &WriteBatch) -> (Vec<Uuid>, Vec<IndexEntry>) {
    let mut touched = Vec::new();
    let mut entries = Vec::new();
    for r in &batch.records {
        let Some(def) = registry::entity(r.entity) else {
            continue;
        };
        let id_fields: Vec<&'static str> = def
            .fields
            .iter()
            .filter(|f| f.ty == FieldType::IdCard)
            .map(|f| f.name)
            .collect();
        if id_fields.is_empty() {
            continue;
        }
        // A record new in this batch has no entries to replace: no delete for it (a statement,
        // on SQLite a crossing to its thread, saved on every new household).
        if !r.created {
            touched.push(r.id);
        }
        if r.state.deleted {
            continue;
        }
        for name in id_fields {
            if let Some(Value::String(number)) = r.state.fields.get(name) {
                entries.push((r.id, name, key.blind(number)));
            }
        }
    }
    (touched, entries)
}

impl Tx {
    /// Replaces the ID-card index entries of the batch's records.
    pub(super) async fn index_id_cards(&mut self, batch: &WriteBatch) -> Result<()> {
        let (touched, entries) = index_entries(self.key(), batch);
        if touched.is_empty() && entries.is_empty() {
            return Ok(());
        }
        match self.conn() {
            Engine::Sqlite(c) => {
                if !touched.is_empty() {
                    super::sync::sqlite_in_ids(
                        "DELETE FROM id_card_index WHERE record_id",
                        &touched,
                        "",
                    )
                    .build()
                    .execute(&mut *c)
                    .await
                    .map_err(StoreError::from_db)?;
                }
                if !entries.is_empty() {
                    let mut ins = QueryBuilder::<Sqlite>::new(
                        "INSERT INTO id_card_index (record_id, field, blind) ",
                    );
                    ins.push_values(&entries, |mut row, (id, field, blind)| {
                        row.push_bind(*id)
                            .push_bind(*field)
                            .push_bind(blind.clone());
                    });
                    ins.build()
                        .execute(&mut *c)
                        .await
                        .map_err(StoreError::from_db)?;
                }
            }
            Engine::Postgres(c) => {
                if !touched.is_empty() {
                    sqlx::query("DELETE FROM id_card_index WHERE record_id = ANY($1)")
                        .bind(&touched)
                        .execute(&mut *c)
                        .await
                        .map_err(StoreError::from_db)?;
                }
                if !entries.is_empty() {
                    sqlx::query(
                        "INSERT INTO id_card_index (record_id, field, blind)
                         SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::bytea[])",
                    )
                    .bind(entries.iter().map(|e| e.0).collect::<Vec<_>>())
                    .bind(entries.iter().map(|e| e.1).collect::<Vec<_>>())
                    .bind(entries.iter().map(|e| e.2.clone()).collect::<Vec<_>>())
                    .execute(&mut *c)
                    .await
                    .map_err(StoreError::from_db)?;
                }
            }
        }
        Ok(())
    }
}

impl Store {
    /// Records holding this ID-card number (any field), found by keyed hash: who else in the
    /// villages is registered with the same number.
    pub async fn records_with_id_card(&self, id_card: &str) -> Result<Vec<Uuid>> {
        let blind = self.key().blind(id_card);
        Ok(fetch_scalar!(
            self.reader(),
            fetch_all,
            Uuid,
            "SELECT record_id FROM id_card_index WHERE blind = $1 ORDER BY record_id",
            blind,
        )?)
    }
}
