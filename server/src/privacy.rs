//! Personal data at rest and on the way out.
//!
//! At rest, ID-card numbers are encrypted (XChaCha20-Poly1305, random nonce, the field name
//! as associated data) wherever they are stored: records, the mutation log, conflict records.
//! A keyed hash (HMAC-SHA256) of each number sits in `id_card_index` for lookups and duplicate
//! detection, so a database dump alone reveals neither. The key comes from the settings
//! (`data_key`) or, for a single server, from `data_dir/data.key` made on first start; a check
//! value in the database stops a server that was given a different key.
//!
//! On the way out, [`disclose`] masks or removes what the caller's role does not need
//! (`crate::access::disclosure`).

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use fieldsync_protocol::Role;
use fieldsync_protocol::registry::{EntityDef, FieldType, Personal};
use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;

use crate::access::{Disclosure, disclosure};

const SEALED_PREFIX: &str = "enc:v1:";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("data_key must be 32 bytes in base64 ({0})")]
    Malformed(String),
    #[error("reading or writing {path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "this database's personal data was encrypted with a different data key; every server of \
         one database must be given the same data_key"
    )]
    Mismatch,
}

#[derive(Debug, thiserror::Error)]
#[error("a stored personal value could not be decrypted (wrong key or corrupt data)")]
pub struct OpenError;

/// The key that protects personal data, with its derived subkeys.
#[derive(Clone)]
pub struct DataKey {
    cipher: XChaCha20Poly1305,
    /// HMAC keyed with the index subkey, its padded key blocks already hashed: each keyed hash
    /// clones it instead of hashing the key again (an import takes millions of them).
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

fn keyed(key: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length.
    <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"))
}

fn hmac(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = keyed(key);
    mac.update(message);
    mac.finalize().into_bytes().into()
}

impl DataKey {
    /// Derives separate keys for encryption and hashing from one 32-byte secret.
    pub fn from_secret(secret: &[u8; 32]) -> DataKey {
        let enc = hmac(secret, b"fieldsync personal data encryption v1");
        DataKey {
            cipher: XChaCha20Poly1305::new(&enc.into()),
            mac: keyed(&hmac(secret, b"fieldsync personal data index v1")),
        }
    }

    pub fn from_base64(text: &str) -> Result<DataKey, KeyError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|e| KeyError::Malformed(e.to_string()))?;
        let secret: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| KeyError::Malformed(format!("{} bytes", b.len())))?;
        Ok(DataKey::from_secret(&secret))
    }

    /// Reads `path`, or creates it with a random key (mode 0600) when it does not exist.
    pub fn load_or_create(path: &Path) -> Result<DataKey, KeyError> {
        let file_err = |source| KeyError::File {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => DataKey::from_base64(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let secret: [u8; 32] = XChaCha20Poly1305::generate_key(&mut OsRng).into();
                write_private(path, &STANDARD.encode(secret)).map_err(file_err)?;
                Ok(DataKey::from_secret(&secret))
            }
            Err(e) => Err(file_err(e)),
        }
    }

    /// The keyed hash of the parts one after the other.
    fn mac_of(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = self.mac.clone();
        for p in parts {
            mac.update(p);
        }
        mac.finalize().into_bytes().into()
    }

    /// A keyed hash of `data` for one `purpose` (kept apart from the ID-card index by the
    /// purpose and a separator no purpose contains): lets the server recognise a value it saw
    /// before without keeping it, and no one without the key can test guesses against it.
    pub fn tag(&self, purpose: &str, data: &[u8]) -> [u8; 32] {
        self.mac_of(&[purpose.as_bytes(), &[0], data])
    }

    /// A value to store next to the data, to recognise the key later without revealing it.
    pub fn check_value(&self) -> Vec<u8> {
        self.mac_of(&[b"fieldsync data key check"]).to_vec()
    }

    /// Encrypts one value of the named field.
    pub fn seal(&self, field: &str, plain: &str) -> String {
        let out = self.seal_bytes(field, plain.as_bytes());
        format!("{SEALED_PREFIX}{}", URL_SAFE_NO_PAD.encode(out))
    }

    pub fn open(&self, field: &str, sealed: &str) -> Result<String, OpenError> {
        let body = sealed.strip_prefix(SEALED_PREFIX).ok_or(OpenError)?;
        let bytes = URL_SAFE_NO_PAD.decode(body).map_err(|_| OpenError)?;
        String::from_utf8(self.open_bytes(field, &bytes)?).map_err(|_| OpenError)
    }

    /// Encrypts bytes bound to `purpose` (a field's name, or what the bytes are): the nonce,
    /// then the ciphertext with its tag.
    pub fn seal_bytes(&self, purpose: &str, plain: &[u8]) -> Vec<u8> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let payload = Payload {
            msg: plain,
            aad: purpose.as_bytes(),
        };
        // Encryption in memory with a fresh nonce does not fail.
        let sealed = self.cipher.encrypt(&nonce, payload).unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend(sealed);
        out
    }

    pub fn open_bytes(&self, purpose: &str, sealed: &[u8]) -> Result<Vec<u8>, OpenError> {
        if sealed.len() < 24 {
            return Err(OpenError);
        }
        let (nonce, ciphertext) = sealed.split_at(24);
        let nonce: [u8; 24] = nonce.try_into().map_err(|_| OpenError)?;
        self.cipher
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: purpose.as_bytes(),
                },
            )
            .map_err(|_| OpenError)
    }

    /// The keyed hash of an ID-card number, for lookups.
    pub fn blind(&self, id_card: &str) -> Vec<u8> {
        let normal = fieldsync_protocol::registry::idcard::normalize(id_card);
        self.mac_of(&[normal.as_bytes()]).to_vec()
    }

    /// Encrypts, in place, every field of `def` that is stored encrypted.
    pub fn seal_fields(&self, def: &EntityDef, fields: &mut Map<String, Value>) {
        for f in def.fields.iter().filter(|f| f.ty == FieldType::IdCard) {
            if let Some(Value::String(s)) = fields.get_mut(f.name) {
                *s = self.seal(f.name, s);
            }
        }
    }

    /// Decrypts, in place, what [`DataKey::seal_fields`] encrypted.
    pub fn open_fields(
        &self,
        def: &EntityDef,
        fields: &mut Map<String, Value>,
    ) -> Result<(), OpenError> {
        for f in def.fields.iter().filter(|f| f.ty == FieldType::IdCard) {
            if let Some(Value::String(s)) = fields.get_mut(f.name) {
                *s = self.open(f.name, s)?;
            }
        }
        Ok(())
    }

    /// Encrypts one value of a field if that field is stored encrypted (conflict values).
    pub fn seal_value(&self, def: &EntityDef, field: &str, value: &Value) -> Value {
        match (def.field(field).map(|f| f.ty), value) {
            (Some(FieldType::IdCard), Value::String(s)) => Value::String(self.seal(field, s)),
            _ => value.clone(),
        }
    }

    pub fn open_value(
        &self,
        def: &EntityDef,
        field: &str,
        value: Value,
    ) -> Result<Value, OpenError> {
        match (def.field(field).map(|f| f.ty), value) {
            (Some(FieldType::IdCard), Value::String(s)) => Ok(Value::String(self.open(field, &s)?)),
            (_, v) => Ok(v),
        }
    }
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

/// Masks or removes, in place, the personal fields `role` may not see in full.
pub fn disclose(role: Role, def: &EntityDef, fields: &mut Map<String, Value>) {
    for f in def.fields.iter().filter(|f| f.personal != Personal::None) {
        match disclosure(role, f.personal) {
            Disclosure::Full => {}
            Disclosure::Masked => {
                if let Some(v) = fields.get_mut(f.name) {
                    *v = mask(v);
                }
            }
            Disclosure::Hidden => {
                fields.remove(f.name);
            }
        }
    }
}

/// The masked form of one value of a field, for conflict views.
pub fn disclose_value(role: Role, def: &EntityDef, field: &str, value: Value) -> Value {
    match def.field(field).map(|f| disclosure(role, f.personal)) {
        Some(Disclosure::Masked) => mask(&value),
        Some(Disclosure::Hidden) => Value::Null,
        _ => value,
    }
}

/// Keeps the first four and last four characters of long values (an ID card becomes
/// `6401**********1234`) and the first three and last four of shorter ones (a mobile becomes
/// `139****1234`).
pub fn mask(value: &Value) -> Value {
    let Value::String(s) = value else {
        return Value::Null;
    };
    let chars: Vec<char> = s.chars().collect();
    let (head, tail) = if chars.len() >= 15 {
        (4, 4)
    } else if chars.len() >= 8 {
        (3, 4)
    } else {
        (0, 0)
    };
    let hidden = chars.len() - head - tail;
    let masked: String = chars[..head]
        .iter()
        .chain(std::iter::repeat_n(&'*', hidden))
        .chain(&chars[chars.len() - tail..])
        .collect();
    Value::String(masked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fieldsync_protocol::registry::{HOUSEHOLD, MEMBER};
    use serde_json::json;

    fn key() -> DataKey {
        DataKey::from_secret(&[7u8; 32])
    }

    #[test]
    fn sealing_hides_and_round_trips() {
        let k = key();
        let a = k.seal("id_card", "11010519491231002X");
        let b = k.seal("id_card", "11010519491231002X");
        assert_ne!(
            a, b,
            "random nonces: equal numbers do not look equal at rest"
        );
        assert!(!a.contains("1101051949"));
        assert_eq!(k.open("id_card", &a).unwrap(), "11010519491231002X");
        assert!(k.open("head_id_card", &a).is_err(), "bound to its field");
        assert!(
            DataKey::from_secret(&[8u8; 32])
                .open("id_card", &a)
                .is_err(),
            "another key cannot read it"
        );
        assert!(k.open("id_card", "11010519491231002X").is_err());
    }

    #[test]
    fn blind_index_ignores_case_and_depends_on_the_key() {
        let k = key();
        assert_eq!(k.blind("11010519491231002x"), k.blind("11010519491231002X"));
        assert_ne!(
            k.blind("11010519491231002X"),
            DataKey::from_secret(&[8u8; 32]).blind("11010519491231002X")
        );
        assert_ne!(
            k.check_value(),
            DataKey::from_secret(&[8u8; 32]).check_value()
        );
    }

    #[test]
    fn keyed_hashes_are_plain_hmac_of_the_index_subkey() {
        // Stored indexes and the key check depend on these bytes: the pre-keyed HMAC must give
        // exactly what HMAC over the whole message with the subkey gives.
        let secret = [7u8; 32];
        let subkey = hmac(&secret, b"fieldsync personal data index v1");
        let k = DataKey::from_secret(&secret);
        assert_eq!(k.tag("roster/name", b"x"), hmac(&subkey, b"roster/name\0x"));
        assert_eq!(
            k.blind("11010519491231002x"),
            hmac(&subkey, b"11010519491231002X").to_vec()
        );
        assert_eq!(
            k.check_value(),
            hmac(&subkey, b"fieldsync data key check").to_vec()
        );
    }

    #[test]
    fn fields_are_sealed_and_opened_by_type() {
        let k = key();
        let mut f = json!({"name": "马", "id_card": "11010519491231002X", "phone": "13900000000"})
            .as_object()
            .unwrap()
            .clone();
        k.seal_fields(&MEMBER, &mut f);
        assert!(f["id_card"].as_str().unwrap().starts_with(SEALED_PREFIX));
        assert_eq!(
            f["phone"], "13900000000",
            "phones are masked on output, not encrypted"
        );
        k.open_fields(&MEMBER, &mut f).unwrap();
        assert_eq!(f["id_card"], "11010519491231002X");
    }

    #[test]
    fn masks() {
        assert_eq!(
            mask(&json!("640104198506120316")),
            json!("6401**********0316")
        );
        assert_eq!(mask(&json!("13912345678")), json!("139****5678"));
        assert_eq!(mask(&json!("0954-1234567")), json!("095*****4567"));
        assert_eq!(mask(&json!("12345")), json!("*****"));
    }

    #[test]
    fn disclosure_follows_the_role() {
        let all = json!({"village_code": "640104001002", "head_name": "马", "phone": "13912345678",
                         "head_id_card": "11010519491231002X", "per_capita_income": 5000.0});
        let mut f = all.as_object().unwrap().clone();
        disclose(Role::FirstSecretary, &HOUSEHOLD, &mut f);
        assert_eq!(&f, all.as_object().unwrap());
        let mut f = all.as_object().unwrap().clone();
        disclose(Role::Admin, &HOUSEHOLD, &mut f);
        assert_eq!(f["head_id_card"], "1101**********002X");
        assert_eq!(f["phone"], "139****5678");
        assert!(!f.contains_key("per_capita_income"));
        assert_eq!(f["head_name"], "马");
    }

    #[test]
    fn key_files_are_made_once_and_private() {
        let dir = std::env::temp_dir().join(format!("fieldsync-key-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("data.key");
        let a = DataKey::load_or_create(&path).unwrap();
        let b = DataKey::load_or_create(&path).unwrap();
        assert_eq!(a.check_value(), b.check_value());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        std::fs::write(&path, "too short").unwrap();
        assert!(DataKey::load_or_create(&path).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
