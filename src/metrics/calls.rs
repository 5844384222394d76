//! Counting handles other parts hold (the IdP's HTTP client, the sessions layer).

use metrics::{Counter, Histogram};

use super::labels::{IdpEndpoint, IdpResult, StoreOp};

/// Counting handles for IdP requests, held by the IdP's HTTP client.
#[derive(Clone)]
pub struct IdpCalls {
    pub(super) counts: Vec<Counter>,
    pub(super) seconds: Vec<Histogram>,
}

impl std::fmt::Debug for IdpCalls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdpCalls")
    }
}

impl IdpCalls {
    /// Counts one request to `endpoint` and its time.
    pub fn record(&self, endpoint: IdpEndpoint, result: IdpResult, seconds: f64) {
        let e = IdpEndpoint::ALL
            .iter()
            .position(|x| *x == endpoint)
            .unwrap_or(0);
        let r = IdpResult::ALL
            .iter()
            .position(|x| *x == result)
            .unwrap_or(0);
        if let Some(c) = self.counts.get(e * IdpResult::ALL.len() + r) {
            c.increment(1);
        }
        if let Some(h) = self.seconds.get(e) {
            h.record(seconds);
        }
    }
}

/// Counting handles for session-store operations, held by the sessions layer.
#[derive(Clone)]
pub struct StoreCalls {
    pub(super) counts: Vec<Counter>,
    pub(super) seconds: Vec<Histogram>,
}

impl std::fmt::Debug for StoreCalls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreCalls")
    }
}

impl StoreCalls {
    /// Counts one operation, whether it worked, and its time.
    pub fn record(&self, op: StoreOp, ok: bool, seconds: f64) {
        let o = StoreOp::ALL.iter().position(|x| *x == op).unwrap_or(0);
        if let Some(c) = self.counts.get(o * 2 + usize::from(!ok)) {
            c.increment(1);
        }
        if let Some(h) = self.seconds.get(o) {
            h.record(seconds);
        }
    }
}
