//! One suite, both stores: what `SessionStore` and `Sessions` promise, against the memory
//! store and a real redis-server.

use std::time::{Duration, Instant};

use serde_json::json;
use sidegate::session::{Keys, Session, Sessions, Ticket};
use sidegate::store::{KeyValue, MemoryStore, RedisStore, SessionStore};

use crate::harness::RedisServer;

const SHORT: Duration = Duration::from_millis(400);

async fn eventually_gone<S: SessionStore>(store: &S, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while store.get(id, None).await.unwrap().is_some() {
        assert!(Instant::now() < deadline, "{id} did not expire");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn store_suite<S: SessionStore>(store: S) {
    store.ping().await.unwrap();
    assert_eq!(store.get("missing", None).await.unwrap(), None);

    // put / get / delete
    store
        .put("a", b"value-a".to_vec(), Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        store.get("a", None).await.unwrap().as_deref(),
        Some(b"value-a".as_ref())
    );
    store
        .put("a", b"value-a2".to_vec(), Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        store.get("a", None).await.unwrap().as_deref(),
        Some(b"value-a2".as_ref())
    );
    assert!(store.delete("a").await.unwrap());
    assert!(!store.delete("a").await.unwrap());
    assert_eq!(store.get("a", None).await.unwrap(), None);

    // absolute expiry: a plain get does not extend the life
    store.put("exp", b"x".to_vec(), SHORT).await.unwrap();
    assert!(store.get("exp", None).await.unwrap().is_some());
    let started = Instant::now();
    eventually_gone(&store, "exp").await;
    assert!(started.elapsed() < SHORT + Duration::from_millis(1500));

    // idle: each get with an idle timeout slides the deadline
    store.put("idle", b"y".to_vec(), SHORT).await.unwrap();
    let until = Instant::now() + SHORT * 3;
    while Instant::now() < until {
        assert!(
            store.get("idle", Some(SHORT)).await.unwrap().is_some(),
            "idle entry expired while in use"
        );
        tokio::time::sleep(SHORT / 4).await;
    }
    eventually_gone(&store, "idle").await;

    // indexes
    store
        .index_add("sub:x", "t1", Duration::from_secs(60))
        .await
        .unwrap();
    store
        .index_add("sub:x", "t2", Duration::from_secs(60))
        .await
        .unwrap();
    let mut members = store.index_members("sub:x").await.unwrap();
    members.sort();
    assert_eq!(members, ["t1", "t2"]);
    store.index_remove("sub:x", "t1").await.unwrap();
    assert_eq!(store.index_members("sub:x").await.unwrap(), ["t2"]);
    assert!(store.index_members("sub:none").await.unwrap().is_empty());
    store.index_add("sub:short", "t3", SHORT).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !store.index_members("sub:short").await.unwrap().is_empty() {
        assert!(Instant::now() < deadline, "index did not expire");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // claim_once: only the first claim wins, until it expires
    assert!(store.claim_once("jti-1", SHORT).await.unwrap());
    assert!(!store.claim_once("jti-1", SHORT).await.unwrap());
    assert!(store.claim_once("jti-2", SHORT).await.unwrap());
    let deadline = Instant::now() + Duration::from_secs(5);
    while !store.claim_once("jti-1", SHORT).await.unwrap() {
        assert!(Instant::now() < deadline, "claim did not expire");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // bucket: three attempts, one more every 300 ms; a bucket nobody touched is full
    let refill = Duration::from_millis(300);
    for _ in 0..3 {
        assert_eq!(store.bucket("g-a", 3, refill, false).await.unwrap(), None);
        store.bucket("g-a", 3, refill, true).await.unwrap();
    }
    let wait = store.bucket("g-a", 3, refill, false).await.unwrap();
    let wait = wait.expect("a bucket is empty after its burst");
    assert!(wait > Duration::ZERO && wait <= refill, "{wait:?}");
    assert_eq!(store.bucket("g-b", 3, refill, false).await.unwrap(), None);
    tokio::time::sleep(wait + Duration::from_millis(50)).await;
    assert_eq!(store.bucket("g-a", 3, refill, false).await.unwrap(), None);
    assert!(store
        .bucket("g-a", 3, refill, true)
        .await
        .unwrap()
        .is_some());

    sessions_suite(store).await;
}

/// Sealed sessions on top of the store: the ticket's secret is needed to read a session.
async fn sessions_suite<S: SessionStore>(store: S) {
    let keys = Keys::derive(b"a cookie secret of at least thirty-two bytes");
    let sessions = Sessions::new(store.clone(), keys, Some(Duration::from_secs(60)));
    let claims = json!({"email": "alice@example.test", "groups": ["admins"]});
    let session = Session {
        sub: "alice".into(),
        claims: claims.as_object().unwrap().clone(),
        sid: Some("idp-sid-1".into()),
        created_at: 1,
        expires_at: 2,
        ..Session::default()
    };
    let ticket = sessions
        .create(&session, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        sessions.load(&ticket).await.unwrap(),
        Some(std::sync::Arc::new(session.clone()))
    );
    let raw = store.get(ticket.id(), None).await.unwrap().unwrap();
    assert!(
        !String::from_utf8_lossy(&raw).contains("alice"),
        "session stored in clear"
    );

    let forged = Ticket::parse(&format!("{}.{}", ticket.id(), "AAAAAAAAAAAAAAAAAAAAAA")).unwrap();
    assert_eq!(
        sessions.load(&forged).await.unwrap(),
        None,
        "forged secret opened a session"
    );
    assert!(
        !sessions.delete(&forged).await.unwrap(),
        "forged ticket deleted a session"
    );
    assert!(sessions.load(&ticket).await.unwrap().is_some());

    assert_eq!(
        sessions.ids_of_subject("alice").await.unwrap(),
        [ticket.id()]
    );
    assert!(sessions.delete(&ticket).await.unwrap());
    assert_eq!(sessions.load(&ticket).await.unwrap(), None);
    assert!(sessions.ids_of_subject("alice").await.unwrap().is_empty());

    // Revocation by IdP session id or subject ends exactly those sessions.
    let t1 = sessions
        .create(&session, Duration::from_secs(60))
        .await
        .unwrap();
    let t2 = sessions
        .create(
            &Session {
                sid: Some("idp-sid-2".into()),
                ..session.clone()
            },
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    let bob = sessions
        .create(
            &Session {
                sub: "bob".into(),
                sid: Some("idp-sid-3".into()),
                ..session.clone()
            },
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    assert_eq!(sessions.revoke("sid", "idp-sid-1").await.unwrap(), 1);
    assert!(sessions.load(&t1).await.unwrap().is_none());
    assert!(sessions.load(&t2).await.unwrap().is_some());
    assert_eq!(
        sessions.revoke("sub", "alice").await.unwrap(),
        1,
        "t1 already gone, t2 left"
    );
    assert!(sessions.load(&t2).await.unwrap().is_none());
    assert!(
        sessions.load(&bob).await.unwrap().is_some(),
        "another user's session was ended"
    );
    assert_eq!(sessions.revoke("sub", "nobody").await.unwrap(), 0);
    assert!(sessions.first_use_of_jti("j").await.unwrap());
    assert!(!sessions.first_use_of_jti("j").await.unwrap());
}

#[tokio::test]
async fn memory_store_passes_the_suite() {
    store_suite(MemoryStore::new()).await;
}

#[tokio::test]
async fn redis_store_passes_the_suite() {
    let redis = RedisServer::start().await;
    store_suite(RedisStore::new(&redis.url()).unwrap()).await;
    // Nothing readable in a dump: no subject, email or group in any key or value.
    let mut c = redis.conn().await;
    let keys = redis.keys("*").await;
    for key in keys {
        assert!(!key.contains("alice"), "key name leaks the subject: {key}");
        let kind: String = redis::cmd("TYPE")
            .arg(&key)
            .query_async(&mut c)
            .await
            .unwrap();
        if kind == "string" {
            let v: Vec<u8> = redis::cmd("GET")
                .arg(&key)
                .query_async(&mut c)
                .await
                .unwrap();
            assert!(!String::from_utf8_lossy(&v).contains("alice"));
        }
    }
}

#[tokio::test]
async fn redis_store_fails_closed_when_redis_is_gone() {
    let redis = RedisServer::start().await;
    let store = RedisStore::new(&redis.url()).unwrap();
    store
        .put("k", b"v".to_vec(), Duration::from_secs(60))
        .await
        .unwrap();
    drop(redis);
    let started = Instant::now();
    let err = store.get("k", None).await;
    assert!(err.is_err(), "a read from a dead Redis returned {err:?}");
    assert!(store.ping().await.is_err());
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the failure took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn redis_store_starts_while_redis_is_down() {
    let store = RedisStore::new("redis://127.0.0.1:1/").unwrap();
    assert!(store.ping().await.is_err());
    assert!(store.get("x", None).await.is_err());
}
