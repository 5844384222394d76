//! The audit trail (`SIDEGATE_AUDIT_LOG`): one JSON line per forward-auth decision — when,
//! who (subject, and how proven: session, API key by name, bearer), which app, method, host
//! and path (never the query: tokens travel there), the rule that decided, the upstream
//! credential set used (its type and header, never its value), and the outcome. Meant for
//! apps where many people share one upstream account. Off unless configured.
//!
//! A failed write is logged (once a minute at most) and does not change any answer.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use serde::Serialize;

/// Where the trail goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Standard output (the container's log, apart from the diagnostic log on stderr).
    Stdout,
    /// A file, appended to (created mode 0600).
    File(PathBuf),
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Stdout => f.write_str("stdout"),
            Self::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// One decision.
#[derive(Debug, Serialize)]
pub struct Record<'a> {
    /// RFC 3339, UTC, seconds.
    pub time: String,
    /// The subject, when someone was identified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<&'a str>,
    /// `session`, `apikey` or `bearer`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proof: Option<&'static str>,
    /// The API key's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<&'a str>,
    /// The app profile.
    pub app: &'a str,
    /// The original request's method, host and path (without the query).
    pub method: &'a str,
    /// Host, with a non-default port.
    pub host: &'a str,
    /// Path only.
    pub path: &'a str,
    /// The rule that refused (or `bypass`), when one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<&'a str>,
    /// The credential set used: type and header, e.g. `basic Authorization (user admin)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
    /// `allow`, `allow_anonymous`, `allow_ending_session`, `login`, `sign_out`,
    /// `unauthenticated`, `credential_refused` or `forbidden`.
    pub outcome: &'static str,
}

/// The trail's writer; [`Audit::off`] writes nothing.
pub struct Audit {
    out: Option<Mutex<Box<dyn Write + Send>>>,
    last_failure: Mutex<Option<std::time::Instant>>,
}

impl Audit {
    /// No trail.
    pub fn off() -> Self {
        Self {
            out: None,
            last_failure: Mutex::new(None),
        }
    }

    /// Opens `target` for appending.
    ///
    /// # Errors
    /// When the file cannot be opened.
    pub fn open(target: Option<&Target>) -> std::io::Result<Self> {
        let out: Box<dyn Write + Send> = match target {
            None => return Ok(Self::off()),
            Some(Target::Stdout) => Box::new(std::io::stdout()),
            Some(Target::File(path)) => {
                let mut options = std::fs::OpenOptions::new();
                options.create(true).append(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                Box::new(options.open(path)?)
            }
        };
        Ok(Self {
            out: Some(Mutex::new(out)),
            last_failure: Mutex::new(None),
        })
    }

    /// Whether records are written (build them only then).
    pub fn enabled(&self) -> bool {
        self.out.is_some()
    }

    /// Appends `record` as one line.
    pub fn record(&self, record: &Record<'_>) {
        let Some(out) = &self.out else {
            return;
        };
        let Ok(mut line) = serde_json::to_vec(record) else {
            return;
        };
        line.push(b'\n');
        let written = out
            .lock()
            .map_err(|_| std::io::Error::other("the audit writer is poisoned"))
            .and_then(|mut w| w.write_all(&line).and_then(|()| w.flush()));
        if let Err(e) = written {
            let mut last = self.last_failure.lock().ok();
            let due = last
                .as_ref()
                .is_some_and(|l| l.is_none_or(|t| t.elapsed().as_secs() >= 60));
            if due {
                tracing::error!(cause = %e, "cannot write the audit trail (SIDEGATE_AUDIT_LOG); check the file's disk and permissions");
                if let Some(l) = last.as_mut() {
                    **l = Some(std::time::Instant::now());
                }
            }
        }
    }
}

/// Now as RFC 3339 UTC with seconds, for [`Record::time`].
pub fn timestamp(unix: u64) -> String {
    chrono::DateTime::from_timestamp(i64::try_from(unix).unwrap_or(i64::MAX), 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// The path of `uri` (path and query), at most 1024 bytes, for [`Record::path`].
pub fn path_of(uri: &str) -> &str {
    let path = uri.split(['?', '#']).next().unwrap_or_default();
    let mut end = path.len().min(1024);
    while !path.is_char_boundary(end) {
        end -= 1;
    }
    path.get(..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_one_json_line_without_the_query() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("audit.jsonl");
        let audit = Audit::open(Some(&Target::File(file.clone()))).unwrap();
        assert!(audit.enabled());
        for outcome in ["allow", "forbidden"] {
            audit.record(&Record {
                time: timestamp(0),
                subject: Some("alice"),
                proof: Some("session"),
                key: None,
                app: "borg",
                method: "GET",
                host: "borg.example.test",
                path: path_of("/api/repos?token=secret#x"),
                rule: None,
                credential: Some("static Authorization".into()),
                outcome,
            });
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(lines[0]["time"], "1970-01-01T00:00:00Z");
        assert_eq!(lines[0]["path"], "/api/repos");
        assert_eq!(lines[1]["outcome"], "forbidden");
        assert!(
            lines[0].get("key").is_none() && !text.contains("secret"),
            "{text}"
        );
        assert!(!Audit::off().enabled());
        assert_eq!(path_of(&"é".repeat(600)).len(), 1024);
    }
}
