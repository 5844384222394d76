//! Prometheus metrics (the `metrics` crate with metrics-exporter-prometheus, whose text
//! exposition is served), on their own listener (`SIDEGATE_METRICS_LISTEN`), never on the
//! public one.
//!
//! Label values come only from configuration (app names) and closed sets (the enums below):
//! never a user, a path or a token. Each App has its own recorder (no global state). A check
//! finds its counter handle under a read lock by a `Copy` key and adds to an atomic; app
//! names are interned once at startup, so counting allocates nothing.

use std::collections::HashMap;
use std::sync::RwLock;

use metrics::{Counter, Histogram, Key, Label, Level, Metadata, Recorder, SharedString, Unit};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

static META: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

mod calls;
mod labels;

pub use calls::{IdpCalls, StoreCalls};
pub use labels::*;

/// Counts other parts keep themselves, read when the metrics are rendered.
#[derive(Debug, Default, Clone, Copy)]
pub struct Kept {
    /// Session-cache hits and misses, when the cache is on.
    pub cache: Option<(u64, u64)>,
    /// Reloads of the IdP's metadata and keys after the first load.
    pub keys_reloaded: u64,
    /// Token refreshes by [`RefreshResult`], in its order.
    pub refreshes: [u64; 4],
    /// Times a refresh waited for another instance's refresh lock.
    pub lock_waits: u64,
}

/// The app label for checks that name no configured profile.
const UNKNOWN_APP: &str = "(unknown)";

const DECISIONS: &str = "sidegate_auth_decisions_total";
const AUTH_SECONDS: &str = "sidegate_auth_duration_seconds";
const LOGINS: &str = "sidegate_logins_total";
const LOGOUTS: &str = "sidegate_logouts_total";
const CACHE: &str = "sidegate_session_cache_lookups_total";
const RELOADS: &str = "sidegate_idp_keys_reloaded_total";
const BUILD: &str = "sidegate_build_info";
const REFRESHES: &str = "sidegate_refreshes_total";
const LOCK_WAITS: &str = "sidegate_refresh_lock_waits_total";
const IDP_REQUESTS: &str = "sidegate_idp_requests_total";
const IDP_SECONDS: &str = "sidegate_idp_request_duration_seconds";
const STORE_OPS: &str = "sidegate_store_operations_total";
const STORE_SECONDS: &str = "sidegate_store_operation_duration_seconds";

/// Every metric sidegate keeps.
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    apps: HashMap<String, usize>,
    app_labels: Vec<&'static str>,
    decisions: RwLock<HashMap<(usize, Outcome, Reason), Counter>>,
    auth_seconds: Histogram,
    logins: Vec<Counter>,
    logouts: Vec<Counter>,
    cache: [Counter; 2],
    reloads: Counter,
    idp: IdpCalls,
    store: StoreCalls,
    refreshes: Vec<Counter>,
    lock_waits: Counter,
}

impl Metrics {
    /// The metrics for these app profile names (their label values, interned for the life
    /// of the process).
    pub fn new<'a>(apps: impl IntoIterator<Item = &'a str>) -> Self {
        let mut app_labels: Vec<&'static str> = apps
            .into_iter()
            .map(|a| &*Box::leak(a.to_owned().into_boxed_str()))
            .collect();
        let apps = app_labels
            .iter()
            .enumerate()
            .map(|(i, a)| ((*a).to_owned(), i))
            .collect();
        app_labels.push(UNKNOWN_APP);
        // Buckets from 50 µs to about 1.6 s.
        let buckets: Vec<f64> = (0..16).map(|i| 0.000_05 * f64::from(1u32 << i)).collect();
        let builder = PrometheusBuilder::new();
        let recorder = builder
            .set_buckets_for_metric(Matcher::Full(AUTH_SECONDS.into()), &buckets)
            .and_then(|b| b.set_buckets_for_metric(Matcher::Full(STORE_SECONDS.into()), &buckets))
            .and_then(|b| {
                let idp = [
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ];
                b.set_buckets_for_metric(Matcher::Full(IDP_SECONDS.into()), &idp)
            })
            .map_or_else(
                |_| PrometheusBuilder::new().build_recorder(),
                |b| b.build_recorder(),
            );
        let handle = recorder.handle();
        let describe = |name: &'static str, unit: Option<Unit>, help: &'static str| {
            recorder.describe_counter(name.into(), unit, SharedString::const_str(help));
        };
        describe(
            DECISIONS,
            None,
            "Forward-auth checks by app, outcome and reason",
        );
        describe(LOGINS, None, "Logins by result");
        describe(LOGOUTS, None, "Sessions ended, by kind");
        describe(CACHE, None, "Session cache lookups by result (hit, miss)");
        describe(
            RELOADS,
            None,
            "Reloads of the IdP's metadata and keys after the first load",
        );
        describe(
            IDP_REQUESTS,
            None,
            "Requests to the IdP by endpoint and result",
        );
        describe(
            STORE_OPS,
            None,
            "Session-store operations by kind and result",
        );
        describe(REFRESHES, None, "Token refreshes by result");
        describe(
            LOCK_WAITS,
            None,
            "Times a refresh waited for another instance's refresh lock",
        );
        for (name, help) in [
            (IDP_SECONDS, "Time of requests to the IdP, by endpoint"),
            (STORE_SECONDS, "Time of session-store operations, by kind"),
        ] {
            recorder.describe_histogram(
                name.into(),
                Some(Unit::Seconds),
                SharedString::const_str(help),
            );
        }
        recorder.describe_histogram(
            AUTH_SECONDS.into(),
            Some(Unit::Seconds),
            SharedString::const_str("Time to answer a forward-auth check"),
        );
        recorder.describe_gauge(
            BUILD.into(),
            None,
            SharedString::const_str("sidegate's version (always 1)"),
        );
        let counter = |name: &'static str, label: &'static str, value: &'static str| {
            let key = Key::from_parts(name, vec![Label::from_static_parts(label, value)]);
            recorder.register_counter(&key, &META)
        };
        let logins = LoginResult::ALL
            .iter()
            .map(|r| counter(LOGINS, "result", r.as_str()))
            .collect();
        let logouts = LogoutKind::ALL
            .iter()
            .map(|k| counter(LOGOUTS, "kind", k.as_str()))
            .collect();
        let cache = [
            counter(CACHE, "result", "hit"),
            counter(CACHE, "result", "miss"),
        ];
        let reloads = recorder.register_counter(&Key::from_static_name(RELOADS), &META);
        let refreshes = RefreshResult::ALL
            .iter()
            .map(|r| counter(REFRESHES, "result", r.as_str()))
            .collect();
        let lock_waits = recorder.register_counter(&Key::from_static_name(LOCK_WAITS), &META);
        let auth_seconds = recorder.register_histogram(&Key::from_static_name(AUTH_SECONDS), &META);
        let version = Key::from_parts(
            BUILD,
            vec![
                Label::from_static_parts("version", env!("CARGO_PKG_VERSION")),
                Label::from_static_parts("commit", env!("SIDEGATE_COMMIT")),
            ],
        );
        recorder.register_gauge(&version, &META).set(1.0);
        let idp = IdpCalls(calls::Calls::register(
            &recorder,
            &META,
            &calls::Names {
                counter: IDP_REQUESTS,
                histogram: IDP_SECONDS,
                kind_label: "endpoint",
            },
            &IdpEndpoint::ALL
                .iter()
                .map(|e| e.as_str())
                .collect::<Vec<_>>(),
            &IdpResult::ALL
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>(),
        ));
        let store = StoreCalls(calls::Calls::register(
            &recorder,
            &META,
            &calls::Names {
                counter: STORE_OPS,
                histogram: STORE_SECONDS,
                kind_label: "op",
            },
            &StoreOp::ALL.iter().map(|o| o.as_str()).collect::<Vec<_>>(),
            &["ok", "error"],
        ));
        Self {
            recorder,
            handle,
            apps,
            app_labels,
            decisions: RwLock::default(),
            auth_seconds,
            logins,
            logouts,
            cache,
            reloads,
            idp,
            store,
            refreshes,
            lock_waits,
        }
    }

    /// Handles for counting store operations (for the sessions layer).
    pub fn store_calls(&self) -> StoreCalls {
        self.store.clone()
    }

    /// Handles for counting IdP requests (for the IdP's HTTP client).
    pub fn idp_calls(&self) -> IdpCalls {
        self.idp.clone()
    }

    /// Counts one check of `app` (a profile name; anything else counts as unknown) and its
    /// time.
    pub fn decision(&self, app: &str, outcome: Outcome, reason: Reason, seconds: f64) {
        let index = self
            .apps
            .get(app)
            .copied()
            .unwrap_or(self.app_labels.len() - 1);
        let key = (index, outcome, reason);
        let known = self
            .decisions
            .read()
            .ok()
            .and_then(|d| d.get(&key).cloned());
        let counter = known.unwrap_or_else(|| self.register_decision(key));
        counter.increment(1);
        self.auth_seconds.record(seconds);
    }

    fn register_decision(&self, (index, outcome, reason): (usize, Outcome, Reason)) -> Counter {
        let app = self.app_labels.get(index).copied().unwrap_or(UNKNOWN_APP);
        let labels = vec![
            Label::from_static_parts("app", app),
            Label::from_static_parts("outcome", outcome.as_str()),
            Label::from_static_parts("reason", reason.as_str()),
        ];
        let counter = self
            .recorder
            .register_counter(&Key::from_parts(DECISIONS, labels), &META);
        if let Ok(mut d) = self.decisions.write() {
            d.insert((index, outcome, reason), counter.clone());
        }
        counter
    }

    /// Counts one login.
    pub fn login(&self, result: LoginResult) {
        let i = LoginResult::ALL.iter().position(|r| *r == result);
        if let Some(c) = i.and_then(|i| self.logins.get(i)) {
            c.increment(1);
        }
    }

    /// Counts `n` ended sessions.
    pub fn logout(&self, kind: LogoutKind, n: usize) {
        let i = LogoutKind::ALL.iter().position(|k| *k == kind);
        if let Some(c) = i.and_then(|i| self.logouts.get(i)) {
            c.increment(u64::try_from(n).unwrap_or(u64::MAX));
        }
    }

    /// Folds recorded histogram samples into their buckets. The exporter keeps every
    /// sample until this runs (or a scrape renders), so the server calls it every few
    /// seconds whether or not anyone scrapes: memory stays flat.
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }

    /// The text exposition (Prometheus 0.0.4) of every metric, with `kept`'s counts.
    pub fn render(&self, kept: Kept) -> String {
        if let Some((hits, misses)) = kept.cache {
            let [h, m] = &self.cache;
            h.absolute(hits);
            m.absolute(misses);
        }
        self.reloads.absolute(kept.keys_reloaded);
        for (c, n) in self.refreshes.iter().zip(kept.refreshes) {
            c.absolute(n);
        }
        self.lock_waits.absolute(kept.lock_waits);
        // A refused refresh ends the session: counted among the logouts too.
        let refused = LogoutKind::ALL
            .iter()
            .position(|k| *k == LogoutKind::IdpRefusal);
        if let (Some(c), Some(n)) = (
            refused.and_then(|i| self.logouts.get(i)),
            kept.refreshes.get(1),
        ) {
            c.absolute(*n);
        }
        self.handle.render()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_come_from_configuration_and_closed_sets_only() {
        let m = Metrics::new(["borg", "default"]);
        m.decision("borg", Outcome::Allow, Reason::Session, 0.001);
        m.decision("borg", Outcome::Allow, Reason::Session, 0.002);
        m.decision(
            "/etc/passwd",
            Outcome::BadRequest,
            Reason::UnknownApp,
            0.001,
        );
        m.login(LoginResult::Success);
        m.logout(LogoutKind::BackChannel, 2);
        m.idp_calls()
            .record(IdpEndpoint::Token, IdpResult::HttpError, 0.2);
        m.store_calls().record(StoreOp::Claim, false, 0.001);
        let text = m.render(Kept {
            cache: Some((7, 3)),
            keys_reloaded: 1,
            refreshes: [4, 1, 0, 0],
            lock_waits: 2,
        });
        for line in [
            r#"sidegate_auth_decisions_total{app="borg",outcome="allow",reason="session"} 2"#,
            r#"sidegate_auth_decisions_total{app="(unknown)",outcome="bad_request",reason="unknown_app"} 1"#,
            r#"sidegate_logins_total{result="success"} 1"#,
            r#"sidegate_logins_total{result="idp_error"} 0"#,
            r#"sidegate_logouts_total{kind="back_channel"} 2"#,
            r#"sidegate_session_cache_lookups_total{result="hit"} 7"#,
            r#"sidegate_session_cache_lookups_total{result="miss"} 3"#,
            "sidegate_auth_duration_seconds_count 3",
            "sidegate_idp_keys_reloaded_total 1",
            "# TYPE sidegate_auth_duration_seconds histogram",
            r#"sidegate_idp_requests_total{endpoint="token",result="http_error"} 1"#,
            r#"sidegate_idp_requests_total{endpoint="userinfo",result="ok"} 0"#,
            r#"sidegate_idp_request_duration_seconds_count{endpoint="token"} 1"#,
            r#"sidegate_store_operations_total{op="claim",result="error"} 1"#,
            r#"sidegate_store_operations_total{op="read",result="ok"} 0"#,
            r#"sidegate_refreshes_total{result="refreshed"} 4"#,
            r#"sidegate_logouts_total{kind="idp_refusal"} 1"#,
            "sidegate_refresh_lock_waits_total 2",
        ] {
            assert!(text.contains(line), "{line} missing in:\n{text}");
        }
        assert!(!text.contains("passwd"));
    }
}
