//! A captured auth subrequest in raw HTTP/1.1 text (as an echo server or `nc -l` prints
//! it): the request line and the headers, up to the first empty line; a body is ignored.

use http::{HeaderMap, HeaderName, HeaderValue};

use super::subrequest::Endpoint;

/// A captured subrequest.
#[derive(Debug, Clone)]
pub struct Captured {
    /// The method of the subrequest itself (proxies ask with GET).
    pub method: String,
    /// The request target, as on the request line.
    pub target: String,
    /// The auth endpoint it asks, when it is one.
    pub endpoint: Option<Endpoint>,
    /// Its headers, in order, repeated ones kept.
    pub headers: HeaderMap,
}

/// Why a captured request could not be read; the message names the line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CapturedError {
    /// Nothing but blank lines.
    #[error("the captured request is empty; it should start with a request line such as `GET /auth/nginx HTTP/1.1`")]
    Empty,
    /// The first line is not `METHOD target HTTP/x.y`.
    #[error("line 1 `{0}` is not a request line such as `GET /auth/nginx HTTP/1.1`")]
    RequestLine(String),
    /// A header line without `:`, or with an invalid name or value.
    #[error("line {line} `{text}` is not a header line (`Name: value`)")]
    Header {
        /// 1-based line number.
        line: usize,
        /// The line, shortened.
        text: String,
    },
    /// A continuation line (obsolete line folding, RFC 9112 §5.2).
    #[error("line {0} continues the previous header (obsolete line folding), which proxies do not send; join it to the line before")]
    Folded(usize),
}

/// At most this much of a bad line is quoted back.
const QUOTED: usize = 80;

fn quoted(line: &str) -> String {
    match line.char_indices().nth(QUOTED) {
        Some((i, _)) => format!("{}…", line.get(..i).unwrap_or(line)),
        None => line.to_owned(),
    }
}

/// Reads a captured subrequest (CRLF or LF line ends, leading blank lines skipped).
///
/// # Errors
/// A [`CapturedError`] naming the first line that is not what a request has there.
pub fn parse_captured(text: &str) -> Result<Captured, CapturedError> {
    let mut lines = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .enumerate()
        .skip_while(|(_, l)| l.trim().is_empty());
    let (_, first) = lines.next().ok_or(CapturedError::Empty)?;
    let parts: Vec<&str> = first.split_whitespace().collect();
    let [method, target, version] = parts.as_slice() else {
        return Err(CapturedError::RequestLine(quoted(first)));
    };
    let method_ok = method.bytes().all(|b| b.is_ascii_uppercase());
    if !method_ok || !version.starts_with("HTTP/1.") {
        return Err(CapturedError::RequestLine(quoted(first)));
    }
    // The absolute form (`GET http://sidegate:4180/auth HTTP/1.1`) names the same path.
    let path = match target.split_once("://") {
        Some((_, rest)) => rest.find('/').and_then(|i| rest.get(i..)).unwrap_or("/"),
        None => target,
    };
    let mut headers = HeaderMap::new();
    for (i, line) in lines {
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            return Err(CapturedError::Folded(i + 1));
        }
        let bad = || CapturedError::Header {
            line: i + 1,
            text: quoted(line),
        };
        let (name, value) = line.split_once(':').ok_or_else(bad)?;
        // A space before the colon is refused by HTTP/1.1 servers (RFC 9112 §5.1).
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad())?;
        let value = HeaderValue::from_bytes(value.trim_matches([' ', '\t']).as_bytes())
            .map_err(|_| bad())?;
        headers.append(name, value);
    }
    Ok(Captured {
        method: (*method).to_owned(),
        target: (*target).to_owned(),
        endpoint: Endpoint::from_target(path),
        headers,
    })
}
