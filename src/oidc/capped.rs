//! The HTTP client for every IdP call (discovery, JWKS, token, userinfo): no redirects, a
//! time limit (5 s to connect, 10 s in all), and at most [`MAX_ANSWER`] bytes read, so a
//! misbehaving IdP cannot make sidegate wait or buffer without end.

use std::future::Future;
use std::pin::Pin;

use openidconnect::{HttpClientError, HttpRequest, HttpResponse};

/// The largest IdP answer read (discovery documents and key sets are a few KiB).
pub const MAX_ANSWER: usize = 1024 * 1024;

/// A `reqwest` client whose answers are read up to [`MAX_ANSWER`] bytes.
#[derive(Clone, Debug)]
pub struct Capped(pub reqwest::Client);

type Answer<'c> = Pin<
    Box<
        dyn Future<Output = Result<HttpResponse, HttpClientError<reqwest::Error>>>
            + Send
            + Sync
            + 'c,
    >,
>;

impl<'c> openidconnect::AsyncHttpClient<'c> for Capped {
    type Error = HttpClientError<reqwest::Error>;
    type Future = Answer<'c>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let too_large = || {
                HttpClientError::Other(format!(
                    "the IdP's answer is larger than {MAX_ANSWER} bytes"
                ))
            };
            let mut response = self
                .0
                .execute(request.try_into().map_err(Box::new)?)
                .await
                .map_err(Box::new)?;
            if response
                .content_length()
                .is_some_and(|n| n > MAX_ANSWER as u64)
            {
                return Err(too_large());
            }
            let mut builder = http::Response::builder()
                .status(response.status())
                .version(response.version());
            for (name, value) in response.headers() {
                builder = builder.header(name, value);
            }
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(Box::new)? {
                if body.len() + chunk.len() > MAX_ANSWER {
                    return Err(too_large());
                }
                body.extend_from_slice(&chunk);
            }
            builder.body(body).map_err(HttpClientError::Http)
        })
    }
}
