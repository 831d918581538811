//! Secrets sealed in the connection itself: AES-256-GCM under a key the
//! host supplies, with key ids so keys can be rotated and old ones retired.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use aes_gcm::aead::{Aead, Generate, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key};
use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use directory_core::SecretString;
use secrecy::zeroize::Zeroizing;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::secrets::{SecretError, SecretErrorKind, SecretRef, SecretResolver};

/// The AES-GCM nonce length.
const NONCE_LEN: usize = 12;
/// The AES-GCM tag length: the shortest ciphertext.
const TAG_LEN: usize = 16;
/// Binds a ciphertext to what it is, with its connection and purpose.
const AAD_PREFIX: &[u8] = b"sync-runner sealed secret v1";

/// A 256-bit key the host supplies, with the id sealed secrets name it by.
/// `Debug` shows the id only; the key is zeroed on drop.
#[derive(Clone)]
pub struct SealingKey {
    id: String,
    cipher: Aes256Gcm,
}

impl fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealingKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl SealingKey {
    /// The key `bytes`, known as `id` (e.g. `"2026-01"`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidKey`] when `id` is empty.
    pub fn new(id: impl Into<String>, bytes: [u8; 32]) -> Result<SealingKey> {
        let bytes = Zeroizing::new(bytes);
        let id = id.into();
        if id.trim().is_empty() {
            return Err(Error::InvalidKey {
                key_id: id,
                problem: "the key id is empty: name each key, e.g. by the month it was made".into(),
            });
        }
        let cipher = Aes256Gcm::new(&Key::<Aes256Gcm>::from(*bytes));
        Ok(SealingKey { id, cipher })
    }

    /// The key as base64 of 32 random bytes (`openssl rand -base64 32`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidKey`] naming `id` when the text is not base64 of 32 bytes.
    pub fn from_base64(id: impl Into<String>, key: &SecretString) -> Result<SealingKey> {
        let id = id.into();
        let invalid = |problem: &str| Error::InvalidKey {
            key_id: id.clone(),
            problem: format!(
                "{problem}: supply 32 random bytes as base64 (openssl rand -base64 32)"
            ),
        };
        let decoded = Zeroizing::new(
            BASE64
                .decode(key.expose_secret().trim())
                .map_err(|_| invalid("is not base64"))?,
        );
        let bytes: [u8; 32] = decoded
            .as_slice()
            .try_into()
            .map_err(|_| invalid(&format!("is {} bytes, not 32", decoded.len())))?;
        SealingKey::new(id, bytes)
    }

    /// The key's id.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// A secret encrypted under a [`SealingKey`], bound to one connection and
/// one purpose: a copy moved to another connection or purpose does not
/// open. Stored as `{"key_id": "…", "nonce": "<base64>", "ciphertext":
/// "<base64>"}`; `Debug` shows the key id and lengths only.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealedSecret {
    key_id: String,
    #[serde(with = "b64_nonce")]
    nonce: [u8; NONCE_LEN],
    #[serde(with = "b64_ciphertext")]
    ciphertext: Vec<u8>,
}

impl fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedSecret")
            .field("key_id", &self.key_id)
            .field("ciphertext_bytes", &self.ciphertext.len())
            .finish()
    }
}

impl SealedSecret {
    /// The id of the key it was sealed under.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }
}

/// The associated data: the format, the connection id and the purpose,
/// each length-prefixed so no two pairs encode alike.
fn aad(connection_id: &str, purpose: &str) -> Vec<u8> {
    let mut out = AAD_PREFIX.to_vec();
    for part in [connection_id, purpose] {
        out.extend_from_slice(&(part.len() as u64).to_be_bytes());
        out.extend_from_slice(part.as_bytes());
    }
    out
}

/// Seals and opens secrets kept in connections, under the host's keys: it
/// seals with the current key and opens with any key it holds, so a new key
/// can be introduced, every connection [rotated](EncryptedSecrets::rotate),
/// and the old key retired. Secrets a connection names instead go to an
/// optional inner resolver ([`EncryptedSecrets::with_resolver`]).
///
/// ```
/// use std::collections::BTreeMap;
/// use directory_core::SecretString;
/// use sync_runner::{EncryptedSecrets, SealingKey, SecretRef, SecretResolver};
/// # let mut connection = sync_runner::testing::connection("acme", "acme-org");
///
/// let secrets = EncryptedSecrets::new(SealingKey::new("2026-01", [7; 32])?);
/// secrets.seal_into(&mut connection, "client_secret", &SecretString::new("s3cr3t"))?;
/// assert!(!serde_json::to_string(&connection)?.contains("s3cr3t"));
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let opened = connection.secret("client_secret", &secrets).await?;
/// assert_eq!(opened.expose_secret(), "s3cr3t");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
///
/// // A new key: seal with it, still open with the old one, then rotate.
/// let rotated = EncryptedSecrets::new(SealingKey::new("2026-07", [9; 32])?)
///     .with_old_key(SealingKey::new("2026-01", [7; 32])?)?;
/// assert_eq!(rotated.rotate(&mut connection)?, 1);
/// let SecretRef::Sealed(sealed) = &connection.provider.secrets["client_secret"] else { unreachable!() };
/// assert_eq!(sealed.key_id(), "2026-07");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct EncryptedSecrets {
    current: String,
    keys: BTreeMap<String, SealingKey>,
    named: Option<Arc<dyn SecretResolver>>,
}

impl fmt::Debug for EncryptedSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptedSecrets")
            .field("current", &self.current)
            .field("keys", &self.keys.keys().collect::<Vec<_>>())
            .field("named", &self.named.is_some())
            .finish()
    }
}

impl EncryptedSecrets {
    /// Seals with `current` (and opens what it sealed).
    pub fn new(current: SealingKey) -> EncryptedSecrets {
        EncryptedSecrets {
            current: current.id.clone(),
            keys: BTreeMap::from([(current.id.clone(), current)]),
            named: None,
        }
    }

    /// Also opens secrets sealed under `key` (an older key, until every
    /// connection is rotated).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidKey`] when a key with that id is held already.
    pub fn with_old_key(mut self, key: SealingKey) -> Result<EncryptedSecrets> {
        if self.keys.contains_key(&key.id) {
            return Err(Error::InvalidKey {
                key_id: key.id,
                problem: "a key with this id is held already: give each key its own id".into(),
            });
        }
        self.keys.insert(key.id.clone(), key);
        Ok(self)
    }

    /// Resolves secrets that connections name (rather than seal) through
    /// `resolver`, e.g. the host's vault.
    pub fn with_resolver(mut self, resolver: Arc<dyn SecretResolver>) -> EncryptedSecrets {
        self.named = Some(resolver);
        self
    }

    /// The id of the key new secrets are sealed under.
    pub fn current_key_id(&self) -> &str {
        &self.current
    }

    /// Seals `value` as `connection`'s secret `purpose`, under the current
    /// key with a fresh random nonce.
    ///
    /// # Errors
    ///
    /// [`SecretErrorKind::Unavailable`] if the system's random source fails.
    pub fn seal(
        &self,
        connection: &Connection,
        purpose: &str,
        value: &SecretString,
    ) -> Result<SealedSecret, SecretError> {
        let fail = |problem: &str| {
            SecretError::new(
                SecretErrorKind::Unavailable,
                &connection.tenant_id,
                purpose,
                format!("cannot be sealed: {problem}; try again"),
            )
        };
        let key = self
            .keys
            .get(&self.current)
            .ok_or_else(|| fail("the current key is missing"))?;
        let nonce = aes_gcm::Nonce::try_generate()
            .map_err(|_| fail("the system's random source failed"))?;
        let aad = aad(&connection.id, purpose);
        let payload = Payload {
            msg: value.expose_secret().as_bytes(),
            aad: &aad,
        };
        let ciphertext = key
            .cipher
            .encrypt(&nonce, payload)
            .map_err(|_| fail("it is too long"))?;
        Ok(SealedSecret {
            key_id: key.id.clone(),
            nonce: nonce.into(),
            ciphertext,
        })
    }

    /// Seals `value` into `connection` as its secret `purpose` (replacing
    /// what was there). Store the connection afterwards.
    ///
    /// # Errors
    ///
    /// As [`EncryptedSecrets::seal`].
    pub fn seal_into(
        &self,
        connection: &mut Connection,
        purpose: &str,
        value: &SecretString,
    ) -> Result<(), SecretError> {
        let sealed = self.seal(connection, purpose, value)?;
        connection
            .provider
            .secrets
            .insert(purpose.to_string(), sealed.into());
        Ok(())
    }

    /// Opens `connection`'s secret `purpose`, sealed as `sealed`.
    ///
    /// # Errors
    ///
    /// [`SecretErrorKind::UnknownKey`] when no key with its id is held;
    /// [`SecretErrorKind::CannotOpen`] when it does not open (another key
    /// under that id, an altered ciphertext, a copy from another connection
    /// or purpose). Both say to re-enter the secret.
    pub fn open_sealed(
        &self,
        connection: &Connection,
        purpose: &str,
        sealed: &SealedSecret,
    ) -> Result<SecretString, SecretError> {
        let fail =
            |kind, problem: String| SecretError::new(kind, &connection.tenant_id, purpose, problem);
        let key = self.keys.get(&sealed.key_id).ok_or_else(|| {
            fail(
                SecretErrorKind::UnknownKey,
                format!(
                    "of connection {} is sealed under key {}, which the runner does not hold: add that key, or re-enter the secret",
                    connection.id, sealed.key_id
                ),
            )
        })?;
        let cannot_open = || {
            fail(
                SecretErrorKind::CannotOpen,
                format!(
                    "of connection {} does not open with key {}: the key differs from the one it was sealed with, or the stored value was altered or copied from elsewhere; re-enter the secret",
                    connection.id, sealed.key_id
                ),
            )
        };
        let aad = aad(&connection.id, purpose);
        let payload = Payload {
            msg: &sealed.ciphertext,
            aad: &aad,
        };
        let plain = key
            .cipher
            .decrypt(&sealed.nonce.into(), payload)
            .map_err(|_| cannot_open())?;
        match String::from_utf8(plain) {
            Ok(text) => Ok(SecretString::new(text)),
            Err(e) => {
                drop(Zeroizing::new(e.into_bytes()));
                Err(cannot_open())
            }
        }
    }

    /// Re-seals under the current key every secret of `connection` sealed
    /// under another key, all or nothing; returns how many. Store the
    /// connection afterwards; once every connection is rotated, the old key
    /// can be dropped.
    ///
    /// # Errors
    ///
    /// As [`EncryptedSecrets::open_sealed`] for a secret that does not open
    /// (the connection is left as it was).
    pub fn rotate(&self, connection: &mut Connection) -> Result<usize, SecretError> {
        let mut resealed = Vec::new();
        for (purpose, reference) in &connection.provider.secrets {
            if let SecretRef::Sealed(sealed) = reference {
                if sealed.key_id != self.current {
                    let value = self.open_sealed(connection, purpose, sealed)?;
                    resealed.push((purpose.clone(), self.seal(connection, purpose, &value)?));
                }
            }
        }
        let n = resealed.len();
        for (purpose, sealed) in resealed {
            connection.provider.secrets.insert(purpose, sealed.into());
        }
        Ok(n)
    }
}

#[async_trait]
impl SecretResolver for EncryptedSecrets {
    /// Asks the inner resolver, if one was given.
    async fn resolve(&self, tenant_id: &str, name: &str) -> Result<SecretString, SecretError> {
        match &self.named {
            Some(inner) => inner.resolve(tenant_id, name).await,
            None => Err(SecretError::new(
                SecretErrorKind::NotFound,
                tenant_id,
                name,
                "is named, but the runner only holds sealed secrets: seal it into the connection, or give EncryptedSecrets a resolver",
            )),
        }
    }

    fn open(
        &self,
        connection: &Connection,
        purpose: &str,
        sealed: &SealedSecret,
    ) -> Result<SecretString, SecretError> {
        self.open_sealed(connection, purpose, sealed)
    }
}

fn decode_b64<'de, D: Deserializer<'de>>(d: D, what: &str) -> Result<Vec<u8>, D::Error> {
    let text = String::deserialize(d)?;
    BASE64
        .decode(text)
        .map_err(|_| serde::de::Error::custom(format!("the sealed secret's {what} is not base64")))
}

mod b64_nonce {
    use super::*;

    pub(super) fn serialize<S: Serializer>(v: &[u8; NONCE_LEN], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&BASE64.encode(v))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<[u8; NONCE_LEN], D::Error> {
        decode_b64(d, "nonce")?.try_into().map_err(|_| {
            serde::de::Error::custom(format!(
                "the sealed secret's nonce is not {NONCE_LEN} bytes: re-enter the secret"
            ))
        })
    }
}

mod b64_ciphertext {
    use super::*;

    pub(super) fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&BASE64.encode(v))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let bytes = decode_b64(d, "ciphertext")?;
        if bytes.len() < TAG_LEN {
            return Err(serde::de::Error::custom(
                "the sealed secret's ciphertext is shorter than its tag: re-enter the secret",
            ));
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_that_cannot_be_used_is_refused_naming_it() {
        let short = SecretString::new(BASE64.encode([1u8; 16]));
        let err = SealingKey::from_base64("k1", &short).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidKey { key_id, problem } if key_id == "k1" && problem.contains("16 bytes")),
            "{err}"
        );
        let err = SealingKey::from_base64("k1", &SecretString::new("not base64!")).unwrap_err();
        assert!(err.to_string().contains("openssl rand"), "{err}");
        assert!(SealingKey::new(" ", [0; 32]).is_err());
        let good = SealingKey::from_base64("k1", &SecretString::new(BASE64.encode([5u8; 32])));
        assert_eq!(good.unwrap().id(), "k1");
        let dup = EncryptedSecrets::new(SealingKey::new("k1", [1; 32]).unwrap())
            .with_old_key(SealingKey::new("k1", [2; 32]).unwrap());
        assert!(dup.is_err());
    }

    #[test]
    fn debug_shows_key_ids_and_lengths_only() {
        let key = SealingKey::new("k1", [0xAB; 32]).unwrap();
        let secrets = EncryptedSecrets::new(key.clone());
        let c: Connection = serde_json::from_value(serde_json::json!({
            "id": "c", "tenant_id": "t", "idp_org_key": "org", "enabled": true,
            "provider": { "kind": "memory", "settings": {}, "secrets": {} },
            "policy": recipient_reconcile::Policy::default(),
            "schedule": { "every_secs": 3600 },
        }))
        .unwrap();
        let sealed = secrets
            .seal(&c, "token", &SecretString::new("plain-value"))
            .unwrap();
        for text in [
            format!("{key:?}"),
            format!("{secrets:?}"),
            format!("{sealed:?}"),
        ] {
            assert!(text.contains("k1"), "{text}");
            assert!(
                !text.contains("plain-value") && !text.to_lowercase().contains("ab, ab"),
                "{text}"
            );
        }
        assert!(!format!("{sealed:?}").contains(&BASE64.encode(&sealed.ciphertext)));
    }

    #[test]
    fn associated_data_tells_every_connection_and_purpose_apart() {
        assert_ne!(aad("ab", "c"), aad("a", "bc"));
        assert_ne!(aad("a", "b"), aad("b", "a"));
        assert_eq!(aad("a", "b"), aad("a", "b"));
    }

    #[test]
    fn malformed_stored_forms_are_refused() {
        for bad in [
            r#"{"key_id": "k1", "nonce": "AAAA", "ciphertext": "AAAAAAAAAAAAAAAAAAAAAA=="}"#,
            r#"{"key_id": "k1", "nonce": "AAAAAAAAAAAAAAAA", "ciphertext": "AAAA"}"#,
            r#"{"key_id": "k1", "nonce": "AAAAAAAAAAAAAAAA", "ciphertext": "!!"}"#,
            r#"{"key_id": "k1", "nonce": "AAAAAAAAAAAAAAAA", "ciphertext": "AAAAAAAAAAAAAAAAAAAAAA==", "plain": "x"}"#,
        ] {
            assert!(serde_json::from_str::<SealedSecret>(bad).is_err(), "{bad}");
        }
        let ok = r#"{"key_id": "k1", "nonce": "AAAAAAAAAAAAAAAA", "ciphertext": "AAAAAAAAAAAAAAAAAAAAAA=="}"#;
        assert!(serde_json::from_str::<SealedSecret>(ok).is_ok());
    }
}
