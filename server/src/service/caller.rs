//! Who asks: the one `Caller` every operation takes, made from a live session whichever front
//! end it came through (the API's bearer token, the console's cookie), and what follows from
//! it: the villages the caller may touch today.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, PoisonError};

use fieldsync_protocol::Role;
use fieldsync_protocol::error::{ErrorCode, ErrorDetail};
use uuid::Uuid;

use super::ServiceError;
use crate::clock;
use crate::state::AppState;
use crate::store::{Refusal, SessionAuth, Store};
use crate::sync::Actor;
use crate::sync::SessionCheck;

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
        let day = clock::iso(clock::today());
        let (caller, actor, _) = Caller::read_actor(store, session_id, user_id, pair, &day).await?;
        Ok((caller, actor))
    }

    /// [`Caller::actor_of_session`] for a push, which is checked again in its own transaction:
    /// a session that pushed before (`cache`) is not read here, and the push carries a
    /// [`SessionCheck`] instead, so that the committer reads every session of a group in one
    /// statement of the group's transaction (`crate::sync::push`); the first push of a session
    /// (or of a day, or with a new pair of tokens, whose first use must be noted) reads it here
    /// as any other request does.
    pub async fn actor_for_push(
        store: &Store,
        cache: &SessionCache,
        session_id: Uuid,
        user_id: Uuid,
        pair: Option<Uuid>,
    ) -> Result<(Caller, Actor, Option<SessionCheck>), ServiceError> {
        let day = clock::iso(clock::today());
        if let Some((caller, actor, assigned)) = cache.known(session_id, &day, pair) {
            let check = SessionCheck {
                session_id,
                day,
                assigned,
            };
            return Ok((caller, actor, Some(check)));
        }
        let (caller, actor, assigned) =
            Caller::read_actor(store, session_id, user_id, pair, &day).await?;
        cache.remember(&caller, &actor, &day, pair, assigned);
        Ok((caller, actor, None))
    }

    /// The session read with its user's villages and assignments on `day` (one read), the
    /// pair of tokens the request came with noted as used.
    async fn read_actor(
        store: &Store,
        session_id: Uuid,
        user_id: Uuid,
        pair: Option<Uuid>,
        day: &str,
    ) -> Result<(Caller, Actor, BTreeSet<String>), ServiceError> {
        let read = store
            .session_with_villages(session_id, user_id, day)
            .await?
            .ok_or_else(session_ended)?;
        note_pair_used(store, session_id, &read.auth, pair).await?;
        let caller = Caller::alive(session_id, read.auth)?;
        let actor = caller.with_villages(read.villages.into_iter().collect());
        Ok((caller, actor, read.assigned))
    }

    /// The caller of a session read from the database, if it is alive.
    fn alive(session_id: Uuid, session: SessionAuth) -> Result<Caller, ServiceError> {
        if let Some(r) = session.refusal() {
            return Err(refused(r));
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

/// The callers of sessions that pushed before, for [`Caller::actor_for_push`]: what their last
/// read said, by session. Never trusted alone: a push of a known caller is checked again in
/// its transaction, and refused there (and forgotten here) if the session ended or the
/// caller's role or assignments changed. Each replica keeps its own.
#[derive(Default)]
pub struct SessionCache {
    known: Mutex<HashMap<Uuid, Known>>,
}

struct Known {
    caller: Caller,
    actor: Actor,
    /// The day the villages were read for.
    day: String,
    /// The pair of tokens the read came with, noted as used then. A request with another pair
    /// (the phone refreshed) is read as a new session is: the first use of a pair must be noted
    /// (`note_pair_used`).
    pair: Option<Uuid>,
    /// The divisions the user was assigned to that day, read before the villages: the push's
    /// transaction compares them with the assignments then (`SessionCheck`).
    assigned: BTreeSet<String>,
}

impl SessionCache {
    /// Sessions remembered at most; past that the cache starts again (each session is read
    /// once more on its next push).
    const MOST: usize = 20_000;

    fn known(
        &self,
        session_id: Uuid,
        day: &str,
        pair: Option<Uuid>,
    ) -> Option<(Caller, Actor, BTreeSet<String>)> {
        let known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        known
            .get(&session_id)
            .filter(|k| k.day == day && k.pair == pair)
            .map(|k| (k.caller.clone(), k.actor.clone(), k.assigned.clone()))
    }

    fn remember(
        &self,
        caller: &Caller,
        actor: &Actor,
        day: &str,
        pair: Option<Uuid>,
        assigned: BTreeSet<String>,
    ) {
        let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        if known.len() >= Self::MOST {
            known.clear();
        }
        known.insert(
            caller.session_id,
            Known {
                caller: caller.clone(),
                actor: actor.clone(),
                day: day.to_owned(),
                pair,
                assigned,
            },
        );
    }

    /// Drops what is known of a session: its next push reads it.
    pub fn forget(&self, session_id: Uuid) {
        self.known
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&session_id);
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

/// The answer to a refused session: the same for a request's read and a push's check.
pub fn refused(r: Refusal) -> ServiceError {
    match r {
        Refusal::Disabled => ServiceError::Unauthenticated(ErrorDetail::new(
            ErrorCode::Unauthorized,
            "the account is disabled",
        )),
        Refusal::Ended => session_ended(),
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
