//! Tickets (`id.secret`, the session cookie's value) and the keys derived from
//! `SIDEGATE_COOKIE_SECRET`.
//!
//! A stored session is sealed with XChaCha20-Poly1305 under a key derived (HKDF-SHA256)
//! from the cookie secret *and* the ticket's own secret, with the ticket id as associated
//! data. So a store dump alone reveals nothing, a cookie alone is useless, and a sealed
//! value moved under another id does not open.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;

const RAND_LEN: usize = 16;
/// The length of a ticket's secret half.
pub(super) const SECRET_LEN: usize = RAND_LEN;
const NONCE_LEN: usize = 24;

/// The session cookie's value: a random id (the store key) and a random secret (part of
/// the encryption key, never stored).
#[derive(Clone, PartialEq, Eq)]
pub struct Ticket {
    id: String,
    secret: [u8; RAND_LEN],
}

impl std::fmt::Debug for Ticket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ticket")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Fills a fresh random array from the operating system.
///
/// # Errors
/// When the operating system has no randomness to give.
pub fn random<const N: usize>() -> Result<[u8; N], getrandom::Error> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf)?;
    Ok(buf)
}

/// A fresh random token of 128 bits, base64url without padding.
///
/// # Errors
/// When the operating system has no randomness to give.
pub fn random_token() -> Result<String, getrandom::Error> {
    Ok(URL_SAFE_NO_PAD.encode(random::<RAND_LEN>()?))
}

impl Ticket {
    /// A new ticket with a random id and secret.
    ///
    /// # Errors
    /// When the operating system has no randomness to give.
    pub fn generate() -> Result<Self, getrandom::Error> {
        Ok(Self {
            id: random_token()?,
            secret: random()?,
        })
    }

    /// Parses a cookie value; `None` unless it is exactly `id.secret` of the right sizes.
    pub fn parse(value: &str) -> Option<Self> {
        let (id, secret) = value.split_once('.')?;
        let id_bytes = URL_SAFE_NO_PAD.decode(id).ok()?;
        let secret: [u8; RAND_LEN] = URL_SAFE_NO_PAD.decode(secret).ok()?.try_into().ok()?;
        (id_bytes.len() == RAND_LEN).then(|| Self {
            id: id.to_owned(),
            secret,
        })
    }

    /// The store key part.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The secret half, for the session cache to tell (in constant time) whether a ticket
    /// carries the secret its cached session was opened with. Hashing it instead cost a
    /// SHA-256 per check and protected nothing: the process holds the session, the key
    /// that opens it, and the request's own copy of the secret anyway.
    pub(super) fn secret(&self) -> &[u8; SECRET_LEN] {
        &self.secret
    }

    /// The cookie value.
    pub fn to_cookie_value(&self) -> String {
        format!("{}.{}", self.id, URL_SAFE_NO_PAD.encode(self.secret))
    }
}

/// Keys derived from the cookie secret, one per purpose (HKDF with distinct info strings).
#[derive(Clone)]
pub struct Keys {
    ticket: [u8; 32],
    /// HKDF-Expand keyed with `ticket` (its HMAC pads computed once): per-session keys.
    session: Hkdf<Sha256>,
    index: [u8; 32],
    apikey: [u8; 32],
    jar: cookie::Key,
}

/// Sealing failed (only when the OS has no randomness).
#[derive(Debug, thiserror::Error)]
#[error("sealing a session failed")]
pub struct SealError;

fn derive<const N: usize>(ikm: &[u8], salt: Option<&[u8]>, info: &str) -> [u8; N] {
    let mut out = [0u8; N];
    // HKDF-SHA256 can expand up to 255 * 32 bytes; N is at most 64 here.
    let _ = Hkdf::<Sha256>::new(salt, ikm).expand(info.as_bytes(), &mut out);
    out
}

impl Keys {
    /// Derives every key from the cookie secret (at least 32 bytes, checked by config).
    pub fn derive(cookie_secret: &[u8]) -> Self {
        let jar: [u8; 64] = derive(cookie_secret, None, "sidegate/v1/cookie-jar");
        let ticket: [u8; 32] = derive(cookie_secret, None, "sidegate/v1/ticket");
        Self {
            ticket,
            session: Hkdf::<Sha256>::from_prk(&ticket).unwrap_or_else(|_| unreachable_prk()),
            index: derive(cookie_secret, None, "sidegate/v1/index"),
            apikey: derive(cookie_secret, None, "sidegate/v1/apikey"),
            jar: cookie::Key::from(&jar),
        }
    }

    /// The key under which API-key secrets are hashed.
    pub fn apikey(&self) -> &[u8; 32] {
        &self.apikey
    }

    /// The key of the encrypted login-state cookie jar.
    pub fn jar(&self) -> &cookie::Key {
        &self.jar
    }

    /// The session's key: HKDF-Expand of the ticket key with the ticket's secret in the
    /// info, two SHA-256 blocks per check (the HMAC pads are precomputed).
    fn cipher(&self, ticket: &Ticket) -> XChaCha20Poly1305 {
        let mut key = [0u8; 32];
        // 32 bytes is far below HKDF-SHA256's limit.
        let _ = self
            .session
            .expand_multi_info(&[b"sidegate/v2/session\0", &ticket.secret], &mut key);
        XChaCha20Poly1305::new(&key.into())
    }

    /// The key sessions were sealed with before v2 (HKDF-Extract with the ticket's secret as
    /// salt, then Expand: eight SHA-256 blocks), still opened so that an upgrade keeps
    /// everyone signed in.
    fn cipher_v1(&self, ticket: &Ticket) -> XChaCha20Poly1305 {
        let key: [u8; 32] = derive(&self.ticket, Some(&ticket.secret), "sidegate/v1/session");
        XChaCha20Poly1305::new(&key.into())
    }

    /// Encrypts `plain` for `ticket`: nonce ‖ ciphertext.
    ///
    /// # Errors
    /// [`SealError`] when no randomness is available.
    pub fn seal(&self, ticket: &Ticket, plain: &[u8]) -> Result<Vec<u8>, SealError> {
        let nonce: [u8; NONCE_LEN] = random().map_err(|_| SealError)?;
        let sealed = self
            .cipher(ticket)
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: ticket.id.as_bytes(),
                },
            )
            .map_err(|_| SealError)?;
        Ok([nonce.as_slice(), &sealed].concat())
    }

    /// Decrypts a value sealed for `ticket`; `None` if the ticket does not open it.
    pub fn open(&self, ticket: &Ticket, sealed: &[u8]) -> Option<Vec<u8>> {
        let (nonce, body) = sealed.split_at_checked(NONCE_LEN)?;
        let payload = || Payload {
            msg: body,
            aad: ticket.id.as_bytes(),
        };
        let nonce = XNonce::from_slice(nonce);
        self.cipher(ticket)
            .decrypt(nonce, payload())
            .or_else(|_| self.cipher_v1(ticket).decrypt(nonce, payload()))
            .ok()
    }

    /// The store name of a logout index (`kind` is `sub` or `sid`), HMAC'd so that store
    /// key names do not reveal subjects (often email addresses).
    pub fn index_key(&self, kind: &str, value: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.index)
            .unwrap_or_else(|_| unreachable_hmac());
        mac.update(kind.as_bytes());
        mac.update(b"\0");
        mac.update(value.as_bytes());
        format!(
            "{kind}:{}",
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        )
    }
}

// A 32-byte PRK is exactly SHA-256's output length, which `from_prk` accepts.
#[allow(clippy::panic)]
fn unreachable_prk() -> Hkdf<Sha256> {
    panic!("HKDF-SHA256 rejected a 32-byte PRK")
}

// HMAC accepts keys of any length, so `new_from_slice` cannot fail.
#[allow(clippy::panic)]
fn unreachable_hmac() -> Hmac<Sha256> {
    panic!("HMAC-SHA256 rejected a 32-byte key")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        Keys::derive(b"0123456789abcdef0123456789abcdef")
    }

    #[test]
    fn ticket_round_trips_and_parse_is_strict() {
        let t = Ticket::generate().unwrap();
        let v = t.to_cookie_value();
        assert_eq!(Ticket::parse(&v), Some(t.clone()));
        assert_ne!(Ticket::generate().unwrap(), t);
        let id = t.id().to_owned();
        for bad in [
            String::new(),
            "nodot".into(),
            format!("{id}."),
            format!(".{id}"),
            format!("{id}.{id}.x"),
            format!("{id}.!!!!"),
            format!("{id}.{}", URL_SAFE_NO_PAD.encode([0u8; 15])),
            format!("{}.{id}", URL_SAFE_NO_PAD.encode([0u8; 17])),
            format!("{id} .{id}"),
        ] {
            assert_eq!(Ticket::parse(&bad), None, "{bad:?}");
        }
    }

    #[test]
    fn sealed_values_open_only_with_their_ticket_and_keys() {
        let k = keys();
        let t = Ticket::generate().unwrap();
        let sealed = k.seal(&t, b"alice's session").unwrap();
        assert_eq!(k.open(&t, &sealed).unwrap(), b"alice's session");
        assert!(
            !sealed.windows(5).any(|w| w == b"alice"),
            "plaintext visible in sealed value"
        );

        let other = Ticket::generate().unwrap();
        assert_eq!(k.open(&other, &sealed), None, "another ticket opened it");
        let same_id_other_secret = Ticket {
            id: t.id.clone(),
            secret: other.secret,
        };
        assert_eq!(
            k.open(&same_id_other_secret, &sealed),
            None,
            "forged secret opened it"
        );
        let moved = Ticket {
            id: other.id.clone(),
            secret: t.secret,
        };
        assert_eq!(
            k.open(&moved, &sealed),
            None,
            "value moved under another id opened"
        );
        let other_keys = Keys::derive(b"another secret of at least 32 bytes!!");
        assert_eq!(
            other_keys.open(&t, &sealed),
            None,
            "another cookie secret opened it"
        );
        let mut flipped = sealed.clone();
        if let Some(b) = flipped.last_mut() {
            *b ^= 1;
        }
        assert_eq!(k.open(&t, &flipped), None);
        assert_eq!(k.open(&t, &sealed[..10]), None);
    }

    #[test]
    fn sessions_sealed_before_v2_still_open_and_v2_keys_differ() {
        let k = keys();
        let t = Ticket::generate().unwrap();
        let nonce = [7u8; NONCE_LEN];
        let payload = || Payload {
            msg: b"old session".as_slice(),
            aad: t.id.as_bytes(),
        };
        let v1 = k
            .cipher_v1(&t)
            .encrypt(XNonce::from_slice(&nonce), payload())
            .unwrap();
        let old = [nonce.as_slice(), &v1].concat();
        assert_eq!(k.open(&t, &old).unwrap(), b"old session");
        let v2 = k
            .cipher(&t)
            .encrypt(XNonce::from_slice(&nonce), payload())
            .unwrap();
        assert_ne!(v1, v2, "v2 derives the same key as v1");
        let other = Ticket::generate().unwrap();
        assert_eq!(k.open(&other, &old), None);
    }

    #[test]
    fn index_keys_hide_values_and_separate_kinds() {
        let k = keys();
        let a = k.index_key("sub", "alice@example.test");
        assert!(a.starts_with("sub:") && !a.contains("alice"));
        assert_eq!(a, k.index_key("sub", "alice@example.test"));
        assert_ne!(a, k.index_key("sub", "bob@example.test"));
        assert_ne!(a[4..], k.index_key("sid", "alice@example.test")[4..]);
    }
}
