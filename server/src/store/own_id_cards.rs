//! An account's own ID-card number (a farmer's, so that the account reports only about its own
//! household). Sealed and hashed like the numbers in records (`sealing.rs`): the database holds
//! it only sealed, and the households it belongs to are found by its keyed hash in
//! `id_card_index`, never by comparing numbers in clear.

use uuid::Uuid;

use super::{Result, Store, Tx, execute, fetch_scalar};

/// The associated data the number is sealed with: the same field name as in records.
const FIELD: &str = "id_card";

/// The keyed hash on file for a user (a row with `NULL` when the user has no number on file).
const BLIND: &str = "SELECT id_card_blind FROM users WHERE id = $1";

/// The live households whose head or a member holds the number with this keyed hash.
const HOUSEHOLDS: &str = "SELECT DISTINCT r.household_id FROM id_card_index i
     JOIN records r ON r.id = i.record_id
     WHERE i.blind = $1 AND NOT r.deleted AND r.entity IN ('household', 'member')
       AND r.household_id IS NOT NULL
     ORDER BY r.household_id";

/// An account's own ID-card number, as the checks of its reports need it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnIdCard {
    /// The keyed hash of the number.
    pub blind: Vec<u8>,
    /// The households whose head or a member holds the number (usually one; none while the
    /// village has not registered the household).
    pub households: Vec<Uuid>,
}

impl Store {
    /// Puts a user's own ID-card number on file (sealed, with its keyed hash), or removes it
    /// with `None`. `false` if there is no such user. The number is expected valid
    /// (`registry::idcard::validate`).
    pub async fn set_user_id_card(&self, user_id: Uuid, number: Option<&str>) -> Result<bool> {
        let normal = number.map(fieldsync_protocol::registry::idcard::normalize);
        let sealed = normal.as_deref().map(|n| self.key().seal(FIELD, n));
        let blind = normal.as_deref().map(|n| self.key().blind(n));
        let changed = execute!(
            self.writer(),
            "UPDATE users SET id_card = $2, id_card_blind = $3 WHERE id = $1",
            user_id,
            sealed,
            blind,
        )?;
        Ok(changed > 0)
    }

    /// The user's own number with its households; `None` if none is on file.
    pub async fn own_id_card(&self, user_id: Uuid) -> Result<Option<OwnIdCard>> {
        let blind: Option<Option<Vec<u8>>> = fetch_scalar!(
            self.reader(),
            fetch_optional,
            Option<Vec<u8>>,
            BLIND,
            user_id
        )?;
        let Some(blind) = blind.flatten() else {
            return Ok(None);
        };
        let households: Vec<Uuid> =
            fetch_scalar!(self.reader(), fetch_all, Uuid, HOUSEHOLDS, blind.as_slice())?;
        Ok(Some(OwnIdCard { blind, households }))
    }
}

impl Tx {
    /// [`Store::own_id_card`] inside a push.
    pub async fn own_id_card(&mut self, user_id: Uuid) -> Result<Option<OwnIdCard>> {
        let blind: Option<Option<Vec<u8>>> =
            fetch_scalar!(self.conn(), fetch_optional, Option<Vec<u8>>, BLIND, user_id)?;
        let Some(blind) = blind.flatten() else {
            return Ok(None);
        };
        let households: Vec<Uuid> =
            fetch_scalar!(self.conn(), fetch_all, Uuid, HOUSEHOLDS, blind.as_slice())?;
        Ok(Some(OwnIdCard { blind, households }))
    }

    /// The keyed hash of an ID-card number, to compare with [`OwnIdCard::blind`].
    pub fn blind_id_card(&self, number: &str) -> Vec<u8> {
        self.key().blind(number)
    }
}
