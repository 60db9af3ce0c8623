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

/// A push whose caller was known from an earlier request of the same session
/// (`service::caller::SessionCache`) rather than read for it: the committer reads the session
/// again in the push's own transaction and refuses the push unless the session is still alive
/// and its user has the role it was judged with and the assignments on `day` its villages were
/// read from.
#[derive(Clone, Debug)]
pub struct SessionCheck {
    pub session_id: Uuid,
    /// The `YYYY-MM-DD` day the villages were read for.
    pub day: String,
    /// The division codes the user was assigned to that day, read before the villages.
    pub assigned: BTreeSet<String>,
}
