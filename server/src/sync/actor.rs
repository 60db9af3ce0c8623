//! Who is syncing: the caller every push, pull and resolution is judged for.

use std::collections::BTreeSet;

use uuid::Uuid;

/// Who is syncing: the authenticated user and device, and the villages they may touch today.
#[derive(Clone, Debug)]
pub struct Actor {
    pub user_id: Uuid,
    pub device_id: Uuid,
    pub role: fieldsync_protocol::Role,
    pub villages: BTreeSet<String>,
}

impl Actor {
    /// The author of the rows this actor's pushes write.
    pub fn author(&self) -> crate::store::Author {
        crate::store::Author {
            device_id: self.device_id,
            user_id: self.user_id,
        }
    }
}
