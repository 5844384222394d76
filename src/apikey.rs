//! API keys for automation: `sgk_<id>_<secret>`. Only a keyed hash of the secret is stored
//! (HMAC-SHA256 under a key derived from `SIDEGATE_COOKIE_SECRET`, compared in constant
//! time), in Redis when sessions are there, else in the file `SIDEGATE_APIKEYS_FILE`. Each
//! key is bound to one app profile and carries groups; revoking deletes the record, which
//! every instance sees at once.

use std::path::PathBuf;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::session::ticket;
use crate::store::{Indexes, KeyValue, StoreError};

const PREFIX: &str = "sgk_";
const INDEX: &str = "apikeys";
/// Records of keys without expiry live this long in the store.
const FOREVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// What is stored about a key (never the key itself).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Lookup id (public part of the key).
    pub id: String,
    /// A name for people (`ci`, `ansible`).
    pub name: String,
    /// The app profile the key may be used for.
    pub profile: String,
    /// Groups the key's identity has.
    pub groups: Vec<String>,
    /// HMAC-SHA256 of the secret part, base64url.
    pub hash: String,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds; `None`: no expiry.
    pub expires_at: Option<u64>,
    /// Unix seconds of the last accepted use (recorded at most once a minute).
    pub last_used_at: Option<u64>,
}

/// Where records live.
#[derive(Clone)]
pub enum Backend<S> {
    /// The session store (Redis): shared by every instance.
    Store(S),
    /// A JSON file, read on every check (small; written by the CLI).
    File(PathBuf),
}

fn mac(secret_key: &[u8; 32], secret: &str) -> Hmac<Sha256> {
    let mut m =
        <Hmac<Sha256> as Mac>::new_from_slice(secret_key).unwrap_or_else(|_| unreachable_key());
    m.update(secret.as_bytes());
    m
}

// HMAC accepts keys of any length, so `new_from_slice` cannot fail.
#[allow(clippy::panic)]
fn unreachable_key() -> Hmac<Sha256> {
    panic!("HMAC-SHA256 rejected a 32-byte key")
}

/// A new key: the full text to hand out once, and its id and secret.
///
/// # Errors
/// When the operating system has no randomness to give.
pub fn generate() -> Result<(String, String, String), getrandom::Error> {
    let id = ticket::random_token()?;
    let secret = URL_SAFE_NO_PAD.encode(ticket::random::<32>()?);
    Ok((format!("{PREFIX}{id}_{secret}"), id, secret))
}

/// Splits a presented key into id and secret; `None` if it is not shaped like one.
pub fn parse(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix(PREFIX)?;
    // base64url may itself contain `_`: split by position, not by the separator.
    let (id, secret) = (rest.get(..22)?, rest.get(22..)?.strip_prefix('_')?);
    let ok = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    (ok(id, 22) && ok(secret, 43)).then_some((id, secret))
}

/// The stored hash of `secret`.
pub fn hash(key: &[u8; 32], secret: &str) -> String {
    URL_SAFE_NO_PAD.encode(mac(key, secret).finalize().into_bytes())
}

/// Whether `secret` matches `record`, in constant time.
pub fn matches(key: &[u8; 32], secret: &str, record: &Record) -> bool {
    URL_SAFE_NO_PAD
        .decode(&record.hash)
        .is_ok_and(|h| mac(key, secret).verify_slice(&h).is_ok())
}

impl<S: KeyValue + Indexes> Backend<S> {
    /// The records in the keys file (none when it does not exist yet), read without
    /// blocking the runtime: this runs on the request path.
    async fn read_file(path: &PathBuf) -> Result<Vec<Record>, StoreError> {
        let file = || path.display().to_string();
        match tokio::fs::read_to_string(path).await {
            Ok(text) => serde_json::from_str(&text).map_err(|source| StoreError::FileContents {
                path: file(),
                source,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(source) => Err(StoreError::File {
                path: file(),
                source,
            }),
        }
    }

    /// Replaces the keys file atomically (write a sibling, then rename it over).
    async fn write_file(path: &PathBuf, records: &[Record]) -> Result<(), StoreError> {
        let text = serde_json::to_string_pretty(records)?;
        let tmp = path.with_extension("tmp");
        let written = match tokio::fs::write(&tmp, text).await {
            Ok(()) => tokio::fs::rename(&tmp, path).await,
            Err(e) => Err(e),
        };
        written.map_err(|source| StoreError::File {
            path: path.display().to_string(),
            source,
        })
    }

    /// The record with this id.
    ///
    /// # Errors
    /// A [`StoreError`] when the backend fails.
    pub async fn get(&self, id: &str) -> Result<Option<Record>, StoreError> {
        match self {
            Backend::Store(s) => match s.get(&format!("apikey:{id}"), None).await? {
                Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
                None => Ok(None),
            },
            Backend::File(p) => Ok(Self::read_file(p).await?.into_iter().find(|r| r.id == id)),
        }
    }

    /// Stores (or replaces) a record.
    ///
    /// # Errors
    /// A [`StoreError`] when the backend fails.
    pub async fn put(&self, record: &Record, now: u64) -> Result<(), StoreError> {
        match self {
            Backend::Store(s) => {
                let ttl = record.expires_at.map_or(FOREVER, |e| {
                    Duration::from_secs(e.saturating_sub(now).max(1))
                });
                let bytes = serde_json::to_vec(record)?;
                s.put(&format!("apikey:{}", record.id), bytes, ttl).await?;
                s.index_add(INDEX, &record.id, FOREVER).await
            }
            Backend::File(p) => {
                let mut all = Self::read_file(p).await?;
                all.retain(|r| r.id != record.id);
                all.push(record.clone());
                Self::write_file(p, &all).await
            }
        }
    }

    /// Every record.
    ///
    /// # Errors
    /// A [`StoreError`] when the backend fails.
    pub async fn list(&self) -> Result<Vec<Record>, StoreError> {
        match self {
            Backend::Store(s) => {
                let mut out = Vec::new();
                for id in s.index_members(INDEX).await? {
                    match self.get(&id).await? {
                        Some(r) => out.push(r),
                        None => s.index_remove(INDEX, &id).await?,
                    }
                }
                out.sort_by(|a, b| a.name.cmp(&b.name));
                Ok(out)
            }
            Backend::File(p) => Self::read_file(p).await,
        }
    }

    /// Deletes every record named `name`; how many.
    ///
    /// # Errors
    /// A [`StoreError`] when the backend fails.
    pub async fn revoke(&self, name: &str) -> Result<usize, StoreError> {
        let doomed: Vec<Record> = self
            .list()
            .await?
            .into_iter()
            .filter(|r| r.name == name)
            .collect();
        match self {
            Backend::Store(s) => {
                for r in &doomed {
                    s.delete(&format!("apikey:{}", r.id)).await?;
                    s.index_remove(INDEX, &r.id).await?;
                }
            }
            Backend::File(p) => {
                let mut all = Self::read_file(p).await?;
                all.retain(|r| r.name != name);
                Self::write_file(p, &all).await?;
            }
        }
        Ok(doomed.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_secrets_with_underscores_parse() {
        let id = "ab_cd-ef_gh_ij_kl_mn_o";
        let secret = "_".repeat(43);
        let key = format!("sgk_{id}_{secret}");
        assert_eq!(parse(&key), Some((id, secret.as_str())));
        for _ in 0..200 {
            let (key, id, secret) = generate().unwrap();
            assert_eq!(parse(&key), Some((id.as_str(), secret.as_str())), "{key}");
        }
    }

    #[test]
    fn keys_parse_and_hash_verify_in_constant_time() {
        let (key, id, secret) = generate().unwrap();
        assert_eq!(parse(&key), Some((id.as_str(), secret.as_str())));
        let k = [7u8; 32];
        let record = Record {
            id: id.clone(),
            name: "ci".into(),
            profile: "backup".into(),
            groups: vec![],
            hash: hash(&k, &secret),
            created_at: 0,
            expires_at: None,
            last_used_at: None,
        };
        assert!(!record.hash.contains(&secret));
        assert!(matches(&k, &secret, &record));
        assert!(!matches(&k, &format!("{}x", &secret[..42]), &record));
        assert!(
            !matches(&[8u8; 32], &secret, &record),
            "another cookie secret"
        );
        for bad in [
            "",
            "sgk_",
            "sgk_a_b",
            &format!("xyz_{id}_{secret}"),
            &format!("sgk_{id}{secret}"),
            &format!("sgk_{id}_{secret}x"),
            &format!("sgk_{id}_{}", &secret[..42]),
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
