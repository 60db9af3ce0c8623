//! Accounts, for the office console: who is assigned where, a new account with its first
//! password shown once, disabling and enabling. An admin manages every account; a county
//! officer those assigned inside their county, never an admin or another county officer, and
//! makes none of either. Every change is audited (`audit_log`, entity `user`, the account's
//! division as scope); a disabled account is refused at its very next request on any replica,
//! as `admin disable-user` does. A person's assignments one by one are `assignments`; the
//! staff roster's import, shared with `admin import-users`, is `import`.

pub mod assignments;
pub mod import;

use std::collections::BTreeSet;

use fieldsync_protocol::{ErrorCode, Role};
use uuid::Uuid;

use super::{Caller, ServiceError};
use crate::auth::password;
use crate::clock;
use crate::state::AppState;
use crate::store::{AccountRow, AuditAction, DeviceInfo, NewUser, StoreError, UserRow};

/// An account as the accounts page lists it.
pub type Account = AccountRow;

/// A new account as an office asks for it.
pub struct NewAccount {
    pub username: String,
    pub display_name: Option<String>,
    pub role: Role,
    /// Where the person works: a village, a township or the county.
    pub division: String,
}

/// What the caller may manage: every division (an admin) or those at or below their own.
#[derive(Clone, Debug)]
enum Manages {
    All,
    Below(Vec<String>),
}

impl Manages {
    fn covers(&self, division: &str) -> bool {
        match self {
            Manages::All => true,
            Manages::Below(own) => own.iter().any(|d| division.starts_with(d.as_str())),
        }
    }
}

fn refuse(message: impl Into<String>) -> ServiceError {
    ServiceError::forbidden(ErrorCode::ForbiddenRole, message)
}

async fn manages(state: &AppState, caller: &Caller) -> Result<Manages, ServiceError> {
    match caller.role {
        Role::Admin => Ok(Manages::All),
        Role::CountyOfficer => {
            let today = clock::iso(clock::today());
            let own = state
                .store()
                .user_assignments(caller.user_id, &today)
                .await?;
            Ok(Manages::Below(own))
        }
        r => Err(refuse(format!("a {r} does not manage accounts"))),
    }
}

/// Whether the caller may make or change an account of `role`: an admin any, a county
/// officer none of the roles that manage accounts.
fn may_handle(caller: &Caller, role: &str) -> bool {
    caller.role == Role::Admin || !manager_role(role)
}

fn manager_role(role: &str) -> bool {
    role == Role::Admin.as_str() || role == Role::CountyOfficer.as_str()
}

/// Whose accounts an import may make or change: every account and division (the command line,
/// an admin), or a county officer's (people of divisions under the county, in roles that do
/// not manage accounts).
pub struct Reach {
    manages: Manages,
    any_role: bool,
}

impl Reach {
    /// The command line's: whoever runs it is the server's operator.
    pub fn everything() -> Reach {
        Reach {
            manages: Manages::All,
            any_role: true,
        }
    }

    async fn of(state: &AppState, caller: &Caller) -> Result<Reach, ServiceError> {
        Ok(Reach {
            manages: manages(state, caller).await?,
            any_role: caller.role == Role::Admin,
        })
    }
}

/// The accounts assigned at or below `division` today, disabled ones too.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    division: &str,
) -> Result<Vec<Account>, ServiceError> {
    if !manages(state, caller).await?.covers(division) {
        return Err(ServiceError::forbidden(
            ErrorCode::ForbiddenScope,
            format!("division {division} is not yours to manage"),
        ));
    }
    let today = clock::iso(clock::today());
    Ok(state.store().accounts_under(division, &today).await?)
}

/// Makes an account assigned to its division from today; its id and its first password, which
/// is kept nowhere but in the hash: shown once, to be handed to the person.
pub async fn create(
    state: &AppState,
    caller: &Caller,
    new: NewAccount,
) -> Result<(Uuid, String), ServiceError> {
    let invalid = |m: String| ServiceError::invalid(ErrorCode::InvalidValue, m);
    if !manages(state, caller).await?.covers(&new.division) {
        return Err(ServiceError::forbidden(
            ErrorCode::ForbiddenScope,
            format!("division {} is not yours to manage", new.division),
        ));
    }
    if !may_handle(caller, new.role.as_str()) {
        return Err(refuse(format!(
            "a {} does not make {} accounts",
            caller.role, new.role
        )));
    }
    crate::roster::check_username(&new.username).map_err(invalid)?;
    let store = state.store();
    if store.division(&new.division).await?.is_none() {
        return Err(invalid(format!(
            "{} is not a division code of the division list",
            new.division
        )));
    }
    let (secret, hashed) = first_password().await?;
    let user = NewUser {
        id: Uuid::now_v7(),
        username: new.username.clone(),
        password_hash: hashed,
        role: new.role,
        display_name: new.display_name,
    };
    let now = clock::now_ms();
    match store
        .create_user(
            &user,
            std::slice::from_ref(&new.division),
            &clock::iso(clock::today()),
            now,
        )
        .await
    {
        Err(StoreError::Duplicate(_)) => {
            return Err(ServiceError::conflict(format!(
                "the username {:?} is taken; choose another",
                new.username
            )));
        }
        other => other?,
    }
    audit(
        state,
        caller,
        AuditAction::AccountCreated,
        ("user", user.id),
        &new.division,
        &["role", "division"],
    )
    .await?;
    Ok((user.id, secret))
}

/// The divisions a person works in today or is planned to work in later: whoever manages one
/// of them manages the person (a cadre arriving next month is already the county's to
/// prepare).
async fn current_and_planned(
    store: &crate::store::Store,
    user_id: Uuid,
) -> Result<BTreeSet<String>, ServiceError> {
    let today = clock::iso(clock::today());
    Ok(store
        .assignment_spans(user_id, &today, crate::store::OPEN_END)
        .await?
        .into_iter()
        .map(|a| a.division_code)
        .collect())
}

/// An account the caller may change: the account, and the first of its divisions (today's or
/// planned) that is the caller's. Unknown and not the caller's look the same.
async fn managed(
    state: &AppState,
    caller: &Caller,
    user_id: Uuid,
) -> Result<(UserRow, String), ServiceError> {
    let manages = manages(state, caller).await?;
    let store = state.store();
    let not_found = || ServiceError::not_found("no such account among yours");
    let target = store.user_by_id(user_id).await?.ok_or_else(not_found)?;
    let divisions = current_and_planned(store, user_id).await?;
    let Some(division) = divisions.iter().find(|d| manages.covers(d)).cloned() else {
        return Err(not_found());
    };
    if !may_handle(caller, &target.role) {
        return Err(refuse(format!(
            "a {} does not change {} accounts",
            caller.role, target.role
        )));
    }
    Ok((target, division))
}

/// Disables an account (its sessions end, its devices are refused from their next request)
/// or enables it again.
pub async fn set_disabled(
    state: &AppState,
    caller: &Caller,
    user_id: Uuid,
    disabled: bool,
) -> Result<(), ServiceError> {
    let (target, division) = managed(state, caller, user_id).await?;
    if user_id == caller.user_id {
        return Err(ServiceError::conflict(
            "you cannot disable your own account",
        ));
    }
    state
        .store()
        .set_user_disabled(&target.username, disabled, clock::now_ms())
        .await?
        .ok_or_else(|| ServiceError::not_found("no such account among yours"))?;
    let action = if disabled {
        AuditAction::AccountDisabled
    } else {
        AuditAction::AccountEnabled
    };
    audit(
        state,
        caller,
        action,
        ("user", user_id),
        &division,
        &["disabled"],
    )
    .await
}

/// A new first password for an account whose person lost theirs: shown once, every session of
/// the account ended (its phones sign in again with it). The account's username and the
/// password.
pub async fn reset_password(
    state: &AppState,
    caller: &Caller,
    user_id: Uuid,
) -> Result<(String, String), ServiceError> {
    let (target, division) = managed(state, caller, user_id).await?;
    let (secret, hashed) = first_password().await?;
    // No session is kept: the nil id is none of the account's.
    state
        .store()
        .change_password(user_id, &hashed, Uuid::nil(), clock::now_ms())
        .await?;
    audit(
        state,
        caller,
        AuditAction::PasswordReset,
        ("user", user_id),
        &division,
        &["password"],
    )
    .await?;
    Ok((target.username, secret))
}

/// A person's devices (phones, Collect keys, console sign-ins, imports), most recently seen
/// first.
pub async fn devices(
    state: &AppState,
    caller: &Caller,
    user_id: Uuid,
) -> Result<(UserRow, Vec<DeviceInfo>), ServiceError> {
    let (target, _) = managed(state, caller, user_id).await?;
    let devices = state.store().devices(Some(user_id)).await?;
    Ok((target, devices))
}

/// Revokes one of a person's devices (a lost or handed-on phone): its next request is refused
/// and it cannot sign in again.
pub async fn revoke_device(
    state: &AppState,
    caller: &Caller,
    user_id: Uuid,
    device_id: Uuid,
) -> Result<(), ServiceError> {
    let (_, division) = managed(state, caller, user_id).await?;
    let store = state.store();
    let theirs = store
        .devices(Some(user_id))
        .await?
        .iter()
        .any(|d| d.id == device_id);
    if !theirs {
        return Err(ServiceError::not_found("no such device of this person"));
    }
    if device_id == caller.device_id {
        return Err(ServiceError::conflict(
            "this is the sign-in you are using; sign out instead",
        ));
    }
    store
        .set_device_revoked(device_id, true, clock::now_ms())
        .await?;
    audit(
        state,
        caller,
        AuditAction::DeviceRevoked,
        ("device", device_id),
        &division,
        &["revoked_at"],
    )
    .await
}

/// A village handed from one cadre to another on a day (the two-year rotation of first
/// secretaries and work teams): the old cadre works there until the day before, the new one
/// from that day.
pub struct Handover {
    pub village: String,
    pub from: Uuid,
    pub to: Uuid,
    pub day: time::Date,
}

pub async fn hand_over(state: &AppState, caller: &Caller, h: Handover) -> Result<(), ServiceError> {
    let invalid = |m: &str| ServiceError::invalid(ErrorCode::InvalidValue, m.to_owned());
    if h.village.len() != 12 || !manages(state, caller).await?.covers(&h.village) {
        return Err(ServiceError::forbidden(
            ErrorCode::ForbiddenScope,
            format!("{} is not a village of yours", h.village),
        ));
    }
    if h.day < clock::today() {
        return Err(invalid(
            "a handover is from today or a later day, not a past one",
        ));
    }
    if h.from == h.to {
        return Err(invalid("the new cadre is the one leaving"));
    }
    let (old, _) = managed(state, caller, h.from).await?;
    let (new, _) = managed(state, caller, h.to).await?;
    if old.role != new.role {
        return Err(invalid(&format!(
            "a {} hands over to a {}: the new cadre takes the same post",
            old.role, new.role
        )));
    }
    if new.disabled_at.is_some() {
        return Err(invalid("the new cadre's account is disabled"));
    }
    let day = clock::iso(h.day);
    let handed = state
        .store()
        .hand_over(
            &h.village,
            h.from,
            h.to,
            &day,
            &clock::iso(clock::yesterday_of(h.day)),
        )
        .await?;
    if !handed {
        return Err(invalid(&format!(
            "{} is not assigned to {} before {day}",
            old.username, h.village
        )));
    }
    for (user, field) in [(h.from, "ends_on"), (h.to, "starts_on")] {
        audit(
            state,
            caller,
            AuditAction::Handover,
            ("user", user),
            &h.village,
            &[field],
        )
        .await?;
    }
    Ok(())
}

/// A generated first password and its hash (hashing is slow on purpose: off the executor).
async fn first_password() -> Result<(String, String), ServiceError> {
    let secret = password::generate();
    let hashed = {
        let secret = secret.clone();
        tokio::task::spawn_blocking(move || password::hash(&secret))
            .await
            .map_err(ServiceError::internal)?
            .map_err(ServiceError::internal)?
    };
    Ok((secret, hashed))
}

/// Audits a change to an account (entity `user`) or to one of its devices (`device`).
async fn audit(
    state: &AppState,
    caller: &Caller,
    action: AuditAction,
    record: (&'static str, Uuid),
    division: &str,
    fields: &[&str],
) -> Result<(), ServiceError> {
    super::audit::change(state, caller, action, record, Some(division), fields).await
}
