//! Who asks: the one `Caller` every operation takes, made from a live session whichever front
//! end it came through (the API's bearer token, the console's cookie), and what follows from
//! it: the villages the caller may touch today.

use std::collections::BTreeSet;

use fieldsync_protocol::Role;
use fieldsync_protocol::error::{ErrorCode, ErrorDetail};
use uuid::Uuid;

use super::ServiceError;
use crate::clock;
use crate::state::AppState;
use crate::store::{SessionAuth, Store};
use crate::sync::Actor;

/// The caller of an operation: a user on a device, in a session. Made only from a session
/// checked against the database on every request, so an ended session, a revoked device or a
/// disabled account stops at once, and a role change takes effect immediately.
#[derive(Clone, Debug)]
pub struct Caller {
    pub user_id: Uuid,
    pub device_id: Uuid,
    pub session_id: Uuid,
    pub role: Role,
}

impl Caller {
    /// The caller of session `session_id`, if the session is alive: not ended, its device not
    /// revoked nor handed to someone else, its user not disabled. `pair` is the pair of tokens
    /// the presented access token came in (`Claims::pair`; `None` for a console cookie).
    pub async fn of_session(
        store: &Store,
        session_id: Uuid,
        pair: Option<Uuid>,
    ) -> Result<Caller, ServiceError> {
        let session = store
            .session_auth(session_id)
            .await?
            .ok_or_else(session_ended)?;
        note_pair_used(store, session_id, &session, pair).await?;
        Caller::alive(session_id, session)
    }

    /// [`Caller::of_session`] with the caller's [`Actor`], in one read of the database: for a
    /// push, which needs both on every request. `user_id` is the user the token names.
    pub async fn actor_of_session(
        store: &Store,
        session_id: Uuid,
        user_id: Uuid,
        pair: Option<Uuid>,
    ) -> Result<(Caller, Actor), ServiceError> {
        let (session, villages) = store
            .session_with_villages(session_id, user_id, &clock::iso(clock::today()))
            .await?
            .ok_or_else(session_ended)?;
        note_pair_used(store, session_id, &session, pair).await?;
        let caller = Caller::alive(session_id, session)?;
        let actor = caller.with_villages(villages.into_iter().collect());
        Ok((caller, actor))
    }

    /// The caller of a session read from the database, if it is alive.
    fn alive(session_id: Uuid, session: SessionAuth) -> Result<Caller, ServiceError> {
        if session.user_disabled_at.is_some() {
            return Err(ServiceError::Unauthenticated(ErrorDetail::new(
                ErrorCode::Unauthorized,
                "the account is disabled",
            )));
        }
        if !session.is_alive() {
            return Err(session_ended());
        }
        Ok(Caller {
            user_id: session.user_id,
            device_id: session.device_id,
            session_id,
            role: session.role.parse().map_err(ServiceError::internal)?,
        })
    }

    fn with_villages(&self, villages: BTreeSet<String>) -> Actor {
        Actor {
            user_id: self.user_id,
            device_id: self.device_id,
            role: self.role,
            villages,
        }
    }

    /// The caller with the villages they may touch today (an assignment change takes effect
    /// on the next request).
    pub async fn actor(&self, state: &AppState) -> Result<Actor, ServiceError> {
        let villages: BTreeSet<String> = state
            .store()
            .user_villages(self.user_id, &clock::iso(clock::today()))
            .await?
            .into_iter()
            .collect();
        Ok(self.with_villages(villages))
    }

    /// The caller's villages, or the one of them a list asks for (`village`); another village
    /// is `forbidden_scope`.
    pub async fn villages_asked(
        &self,
        state: &AppState,
        village: Option<&str>,
    ) -> Result<BTreeSet<String>, ServiceError> {
        let mine = self.actor(state).await?.villages;
        match village {
            None => Ok(mine),
            Some(v) if mine.contains(v) => Ok([v.to_owned()].into_iter().collect()),
            Some(v) => Err(ServiceError::forbidden(
                ErrorCode::ForbiddenScope,
                format!("{v} is not one of your villages"),
            )
            .at("village")),
        }
    }
}

/// The first request with a pair of tokens a refresh issued: the refresh token spent for it is
/// now spent for good (a copy presented later ends the session; see
/// `Store::rotate_refresh_token`). Once per refresh; later requests find the pair noted.
async fn note_pair_used(
    store: &Store,
    session_id: Uuid,
    session: &SessionAuth,
    pair: Option<Uuid>,
) -> Result<(), ServiceError> {
    match pair {
        Some(p) if session.unused_pair == Some(p) && session.is_alive() => {
            Ok(store.pair_used(session_id, p).await?)
        }
        _ => Ok(()),
    }
}

/// The session is over (logged out, ended for theft or guessing, or its device revoked):
/// sign in again.
pub fn session_ended() -> ServiceError {
    ServiceError::Unauthenticated(ErrorDetail::new(
        ErrorCode::DeviceRevoked,
        "this session has ended; log in again",
    ))
}
