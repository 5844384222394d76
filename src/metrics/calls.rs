//! Counting handles other parts hold (the IdP's HTTP client, the sessions layer): one
//! counter per (kind, result) and one histogram per kind, registered up front.

use metrics::{Counter, Histogram, Key, Label, Metadata, Recorder};

use super::labels::{IdpEndpoint, IdpResult, StoreOp};

/// Counters by (kind, result) and histograms by kind.
#[derive(Clone)]
pub struct Calls {
    results: usize,
    counts: Vec<Counter>,
    seconds: Vec<Histogram>,
}

impl std::fmt::Debug for Calls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Calls")
    }
}

/// What [`Calls::register`] names.
pub(super) struct Names {
    pub counter: &'static str,
    pub histogram: &'static str,
    pub kind_label: &'static str,
}

impl Calls {
    /// Registers every series for `kinds` × `results` in `recorder`.
    pub(super) fn register(
        recorder: &impl Recorder,
        meta: &Metadata<'_>,
        names: &Names,
        kinds: &[&'static str],
        results: &[&'static str],
    ) -> Self {
        let mut calls = Calls {
            results: results.len(),
            counts: Vec::new(),
            seconds: Vec::new(),
        };
        for kind in kinds {
            for result in results {
                let labels = vec![
                    Label::from_static_parts(names.kind_label, kind),
                    Label::from_static_parts("result", result),
                ];
                let key = Key::from_parts(names.counter, labels);
                calls.counts.push(recorder.register_counter(&key, meta));
            }
            let labels = vec![Label::from_static_parts(names.kind_label, kind)];
            let key = Key::from_parts(names.histogram, labels);
            calls.seconds.push(recorder.register_histogram(&key, meta));
        }
        calls
    }

    fn record(&self, kind: usize, result: usize, seconds: f64) {
        if let Some(c) = self.counts.get(kind * self.results + result) {
            c.increment(1);
        }
        if let Some(h) = self.seconds.get(kind) {
            h.record(seconds);
        }
    }
}

/// Counting handles for IdP requests, held by the IdP's HTTP client.
#[derive(Clone, Debug)]
pub struct IdpCalls(pub(super) Calls);

impl IdpCalls {
    /// Counts one request to `endpoint` and its time.
    pub fn record(&self, endpoint: IdpEndpoint, result: IdpResult, seconds: f64) {
        let e = IdpEndpoint::ALL.iter().position(|x| *x == endpoint);
        let r = IdpResult::ALL.iter().position(|x| *x == result);
        self.0.record(e.unwrap_or(0), r.unwrap_or(0), seconds);
    }
}

/// Counting handles for session-store operations, held by the sessions layer.
#[derive(Clone, Debug)]
pub struct StoreCalls(pub(super) Calls);

impl StoreCalls {
    /// Counts one operation, whether it worked, and its time.
    pub fn record(&self, op: StoreOp, ok: bool, seconds: f64) {
        let o = StoreOp::ALL.iter().position(|x| *x == op).unwrap_or(0);
        self.0.record(o, usize::from(!ok), seconds);
    }
}
