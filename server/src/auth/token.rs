//! Access tokens (JWT, HS256, short-lived) and refresh tokens (random, stored hashed, spent on
//! use).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fieldsync_protocol::Role;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user.
    pub sub: Uuid,
    /// The device the token was issued to.
    pub dev: Uuid,
    /// The session (one login on one device); ending it ends the token.
    pub sid: Uuid,
    pub role: Role,
    pub iat: u64,
    pub exp: u64,
    /// The pair of tokens this one was issued in by a refresh (`pair_of` its refresh token);
    /// absent for the pair a login issues. Its first use is noted on the session (see
    /// `Store::rotate_refresh_token`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pair: Option<Uuid>,
}

impl Claims {
    /// The claims of an access token for `user` on `device` in `session`, issued at `now_s`
    /// for `ttl_s` seconds; not part of a refreshed pair (set `pair` for that).
    pub fn new(
        user: Uuid,
        device: Uuid,
        session: Uuid,
        role: Role,
        now_s: u64,
        ttl_s: u64,
    ) -> Self {
        Claims {
            sub: user,
            dev: device,
            sid: session,
            role,
            iat: now_s,
            exp: now_s + ttl_s,
            pair: None,
        }
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the access token has expired")]
    Expired,
    #[error("the access token is not valid")]
    Invalid,
}

/// Longest life of an access token (`auth.access_ttl_s` is at most this).
pub const MAX_ACCESS_TTL_S: u64 = 900;

/// The signing key, loaded once from the database (shared by all replicas), and after a
/// rotation the key before it, for the tokens it signed that are still running.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    previous: Option<Previous>,
}

/// A key rotated out: it verifies tokens only as long as one it signed before the rotation can
/// run, so a leaked key is worthless [`MAX_ACCESS_TTL_S`] after it was replaced.
#[derive(Clone)]
struct Previous {
    decoding: DecodingKey,
    /// When the current key replaced it, seconds since the epoch.
    rotated_at_s: u64,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKeys(..)")
    }
}

impl TokenKeys {
    pub fn from_secret(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub"]);
        TokenKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            previous: None,
        }
    }

    /// Also accepts tokens of the key that `rotated_at_s` replaced, while they can run.
    pub fn with_previous(mut self, secret: &[u8], rotated_at_s: u64) -> Self {
        self.previous = Some(Previous {
            decoding: DecodingKey::from_secret(secret),
            rotated_at_s,
        });
        self
    }

    /// A signed access token carrying `claims`.
    pub fn issue(&self, claims: &Claims) -> String {
        // Encoding HS256 claims of plain types cannot fail; an empty token would simply not
        // verify.
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .unwrap_or_default()
    }

    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let decode = |key: &DecodingKey| {
            jsonwebtoken::decode::<Claims>(token, key, &self.validation)
                .map(|d| d.claims)
                .map_err(|e| match e.kind() {
                    ErrorKind::ExpiredSignature => TokenError::Expired,
                    _ => TokenError::Invalid,
                })
        };
        match (decode(&self.decoding), &self.previous) {
            (Err(TokenError::Invalid), Some(p)) => {
                let claims = decode(&p.decoding)?;
                // Whatever it says, a token of the old key ends when the last one it could
                // have signed honestly ends.
                if claims.exp <= p.rotated_at_s + MAX_ACCESS_TTL_S {
                    Ok(claims)
                } else {
                    Err(TokenError::Invalid)
                }
            }
            (result, _) => result,
        }
    }
}

/// A new refresh token and the hash to store (the token itself is never stored).
pub fn new_refresh_token() -> (String, Vec<u8>) {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_refresh_token(&token);
    (token, hash)
}

pub fn hash_refresh_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// The id of the pair of tokens a refresh issues, named by its refresh token's hash: the access
/// token carries it (`Claims::pair`) and the session remembers it until it is first used.
pub fn pair_of(refresh_hash: &[u8]) -> Uuid {
    let mut id = [0u8; 16];
    for (to, from) in id.iter_mut().zip(refresh_hash) {
        *to = *from;
    }
    Uuid::from_bytes(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_and_verify() {
        let keys = TokenKeys::from_secret(b"0123456789abcdef0123456789abcdef");
        let (user, dev, sid) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let now = jsonwebtoken::get_current_timestamp();
        let t = keys.issue(&Claims::new(user, dev, sid, Role::GridWorker, now, 900));
        let c = keys.verify(&t).unwrap();
        assert_eq!(
            (c.sub, c.dev, c.sid, c.role),
            (user, dev, sid, Role::GridWorker)
        );

        let old = keys.issue(&Claims::new(
            user,
            dev,
            sid,
            Role::GridWorker,
            now - 10_000,
            900,
        ));
        assert_eq!(keys.verify(&old).unwrap_err(), TokenError::Expired);

        let other = TokenKeys::from_secret(b"another secret of thirty-two by.");
        assert_eq!(other.verify(&t).unwrap_err(), TokenError::Invalid);
        assert_eq!(keys.verify("garbage").unwrap_err(), TokenError::Invalid);
    }

    #[test]
    fn a_rotated_key_verifies_only_what_it_could_have_signed_before_the_rotation() {
        let old = TokenKeys::from_secret(b"0123456789abcdef0123456789abcdef");
        let now = jsonwebtoken::get_current_timestamp();
        let (user, dev, sid) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let running = old.issue(&Claims::new(
            user,
            dev,
            sid,
            Role::GridWorker,
            now - 60,
            900,
        ));
        let rotated = TokenKeys::from_secret(b"a new secret, thirty-two bytes!!")
            .with_previous(b"0123456789abcdef0123456789abcdef", now - 30);
        assert_eq!(rotated.verify(&running).unwrap().sub, user);
        // Minted with the old key after the rotation, to run for a day: refused.
        let forged = old.issue(&Claims::new(user, dev, sid, Role::Admin, now, 86_400));
        assert_eq!(rotated.verify(&forged).unwrap_err(), TokenError::Invalid);
        // The new key's own tokens.
        let fresh = rotated.issue(&Claims::new(user, dev, sid, Role::GridWorker, now, 900));
        assert_eq!(rotated.verify(&fresh).unwrap().sid, sid);
        // Without the previous key, the running token is refused.
        let strict = TokenKeys::from_secret(b"a new secret, thirty-two bytes!!");
        assert_eq!(strict.verify(&running).unwrap_err(), TokenError::Invalid);
    }

    #[test]
    fn refresh_tokens_are_random_and_hashed() {
        let (a, ha) = new_refresh_token();
        let (b, _) = new_refresh_token();
        assert_ne!(a, b);
        assert_eq!(hash_refresh_token(&a), ha);
        assert_eq!(ha.len(), 32);
    }
}
