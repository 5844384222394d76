//! Refresh against the in-process stand-in IdP and the memory store.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::*;
use crate::clock::FixedClock;
use crate::oidc::tests::{StandIn, NOW};
use crate::session::Keys;
use crate::store::MemoryStore;

struct Setup {
    idp: StandIn,
    sessions: Sessions<MemoryStore>,
    refresher: Refresher,
}

async fn setup() -> Setup {
    let idp = StandIn::start().await;
    let config = crate::config::test_config(&idp.issuer, &[]);
    let clock: Arc<dyn Clock> = Arc::new(FixedClock::new(NOW));
    let handle = Arc::new(Idp::new(idp.settings()).unwrap());
    handle.load().await.unwrap();
    let store = MemoryStore::with_clock(clock.clone());
    let sessions = Sessions::new(store, Keys::derive(&[7; 32]), None);
    let refresher = Refresher::new(&config, handle, clock, vec!["email".into()]);
    Setup {
        idp,
        sessions,
        refresher,
    }
}

/// A session whose access token (needed by an app) expires in 10 s.
fn due_session() -> Session {
    Session {
        sub: "alice".into(),
        access_token: Some("a1".into()),
        refresh_token: Some("r1".into()),
        access_valid: Some((NOW - 290, NOW + 10)),
        claims_read_at: NOW - 290,
        created_at: NOW - 290,
        expires_at: NOW + 3600,
        ..Session::default()
    }
}

#[tokio::test]
async fn a_due_session_is_refreshed_once_and_stored() {
    let s = setup().await;
    let ticket = s
        .sessions
        .create(&due_session(), Duration::from_secs(3600))
        .await
        .unwrap();
    let id_token = s
        .idp
        .id_token("alice", json!({"email": "a@x.test", "phone": "1"}));
    s.idp.answer(200, s.idp.tokens("a2", "r2", Some(id_token)));
    let got = s
        .refresher
        .ensure_fresh(&s.sessions, &ticket, Arc::new(due_session()), true, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.access_token.as_deref(), Some("a2"));
    assert_eq!(got.refresh_token.as_deref(), Some("r2"));
    assert_eq!(got.access_valid, Some((NOW, NOW + 300)));
    assert_eq!(
        got.claims.keys().collect::<Vec<_>>(),
        ["email"],
        "only needed claims are kept"
    );
    let stored = s.sessions.load_fresh(&ticket).await.unwrap().unwrap();
    assert_eq!(stored.access_token.as_deref(), Some("a2"));
    // Fresh now: no second call to the IdP.
    let again = s
        .refresher
        .ensure_fresh(&s.sessions, &ticket, Arc::new(stored), true, None)
        .await
        .unwrap();
    assert!(again.is_some());
    assert_eq!(s.idp.requests().len(), 1);
    // A session whose token no app needs is not refreshed at all.
    let kept = s
        .refresher
        .ensure_fresh(&s.sessions, &ticket, Arc::new(due_session()), false, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.access_token.as_deref(), Some("a1"));
    assert_eq!(s.idp.requests().len(), 1);
    assert_eq!(s.refresher.counts(), ([1, 0, 0, 0], 0), "counted once");
}

#[tokio::test]
async fn a_refused_refresh_ends_the_session_and_an_idp_failure_keeps_it() {
    let s = setup().await;
    let ticket = s
        .sessions
        .create(&due_session(), Duration::from_secs(3600))
        .await
        .unwrap();
    s.idp.answer(503, json!({}));
    let kept = s
        .refresher
        .ensure_fresh(&s.sessions, &ticket, Arc::new(due_session()), true, None)
        .await
        .unwrap();
    assert_eq!(kept.unwrap().access_token.as_deref(), Some("a1"));
    assert!(s.sessions.load_fresh(&ticket).await.unwrap().is_some());
    s.idp.answer(400, json!({"error": "invalid_grant"}));
    let ended = s
        .refresher
        .ensure_fresh(&s.sessions, &ticket, Arc::new(due_session()), true, None)
        .await
        .unwrap();
    assert!(ended.is_none());
    assert!(s.sessions.load_fresh(&ticket).await.unwrap().is_none());
    assert_eq!(
        s.refresher.counts(),
        ([0, 1, 1, 0], 0),
        "one refused, one failed"
    );
}
