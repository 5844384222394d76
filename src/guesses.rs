//! Limits on guessing: failed API-key and bearer-token attempts are counted per client
//! address and per API-key id in token buckets kept in the store, so every instance sharing
//! Redis sees the same count. A client whose bucket is empty gets 429 with `Retry-After`
//! before its key or token is even looked at; a successful attempt costs nothing.

use std::net::IpAddr;
use std::time::Duration;

use crate::store::{Coordination, StoreError};

/// `SIDEGATE_GUESS_LIMIT` failed attempts at once, one more every `SIDEGATE_GUESS_REFILL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuessLimit {
    /// Failed attempts a full bucket allows in a row.
    pub burst: u32,
    /// One more attempt comes back this often.
    pub refill: Duration,
}

/// The default: 10 failed attempts, then one every 30 s.
pub const DEFAULT: GuessLimit = GuessLimit {
    burst: 10,
    refill: Duration::from_secs(30),
};

/// The bucket of a client address: IPv4 (and IPv4-mapped IPv6) by address, IPv6 by its /64,
/// the block one subscriber usually holds.
pub fn address_bucket(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("addr:{v4}"),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("addr:{v4}"),
            None => {
                let s = v6.segments();
                let net = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                format!("addr:{net}/64")
            }
        },
    }
}

/// The buckets one attempt counts against: the client's address, and the API key's id when
/// the attempt names one.
pub fn buckets(from: Option<IpAddr>, key_id: Option<&str>) -> Vec<String> {
    from.map(address_bucket)
        .into_iter()
        .chain(key_id.map(|id| format!("key:{id}")))
        .collect()
}

/// How long the attempt must wait, if any of its buckets is empty (the longest wait).
///
/// # Errors
/// A [`StoreError`] when the store fails (never answered as allowed).
pub async fn blocked<S: Coordination>(
    store: &S,
    limit: Option<GuessLimit>,
    buckets: &[String],
) -> Result<Option<Duration>, StoreError> {
    spend(store, limit, buckets, false).await
}

/// Counts a failed attempt against every bucket.
///
/// # Errors
/// A [`StoreError`] when the store fails.
pub async fn failed<S: Coordination>(
    store: &S,
    limit: Option<GuessLimit>,
    buckets: &[String],
) -> Result<(), StoreError> {
    spend(store, limit, buckets, true).await.map(|_| ())
}

async fn spend<S: Coordination>(
    store: &S,
    limit: Option<GuessLimit>,
    buckets: &[String],
    take: bool,
) -> Result<Option<Duration>, StoreError> {
    let Some(l) = limit else {
        return Ok(None);
    };
    let mut longest = None;
    for b in buckets {
        let wait = store.bucket(b, l.burst, l.refill, take).await?;
        longest = longest.max(wait);
    }
    Ok(longest)
}

/// `Retry-After` in whole seconds, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_millis().div_ceil(1000).max(1) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FixedClock;
    use crate::store::MemoryStore;
    use std::sync::Arc;

    #[test]
    fn ipv6_clients_share_their_64_and_mapped_v4_is_v4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_bucket(a), "addr:2001:db8:1:2::/64");
        assert_eq!(address_bucket(a), address_bucket(b));
        assert_ne!(address_bucket(a), address_bucket(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(address_bucket(mapped), "addr:192.0.2.7");
        assert_eq!(
            buckets(Some("192.0.2.7".parse().unwrap()), Some("abc")),
            ["addr:192.0.2.7", "key:abc"]
        );
        assert_eq!(buckets(None, None), Vec::<String>::new());
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1000)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }

    #[tokio::test]
    async fn a_bucket_empties_after_the_burst_and_refills_one_attempt_at_a_time() {
        let clock = Arc::new(FixedClock::new(1_000_000));
        let store = MemoryStore::with_clock(clock.clone());
        let limit = Some(GuessLimit {
            burst: 3,
            refill: Duration::from_secs(10),
        });
        let b = buckets(Some("192.0.2.1".parse().unwrap()), Some("k1"));
        for _ in 0..3 {
            assert_eq!(blocked(&store, limit, &b).await.unwrap(), None);
            failed(&store, limit, &b).await.unwrap();
        }
        assert_eq!(
            blocked(&store, limit, &b).await.unwrap(),
            Some(Duration::from_secs(10))
        );
        // Another address with the same key id is blocked by the key's bucket...
        let other = buckets(Some("192.0.2.2".parse().unwrap()), Some("k1"));
        assert!(blocked(&store, limit, &other).await.unwrap().is_some());
        // ...and another key from the first address by the address's.
        let other_key = buckets(Some("192.0.2.1".parse().unwrap()), Some("k2"));
        assert!(blocked(&store, limit, &other_key).await.unwrap().is_some());
        let fresh = buckets(Some("192.0.2.3".parse().unwrap()), Some("k3"));
        assert_eq!(blocked(&store, limit, &fresh).await.unwrap(), None);
        clock.advance(4);
        assert_eq!(
            blocked(&store, limit, &b).await.unwrap(),
            Some(Duration::from_secs(6))
        );
        clock.advance(6);
        assert_eq!(blocked(&store, limit, &b).await.unwrap(), None);
        failed(&store, limit, &b).await.unwrap();
        assert!(blocked(&store, limit, &b).await.unwrap().is_some());
        // Off: nothing is counted or refused.
        for _ in 0..20 {
            failed(&store, None, &b).await.unwrap();
        }
        assert_eq!(blocked(&store, None, &b).await.unwrap(), None);
    }
}
