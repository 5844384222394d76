//! The HTTP client for every IdP call (discovery, JWKS, token, userinfo): no redirects, a
//! time limit (5 s to connect, 10 s in all), and at most [`MAX_ANSWER`] bytes read, so a
//! misbehaving IdP cannot make sidegate wait or buffer without end.

use std::future::Future;
use std::pin::Pin;

use openidconnect::{HttpClientError, HttpRequest, HttpResponse};

/// The largest IdP answer read (discovery documents and key sets are a few KiB).
pub const MAX_ANSWER: usize = 1024 * 1024;

/// A `reqwest` client whose answers are read up to [`MAX_ANSWER`] bytes, counting each
/// request in the metrics when given handles.
#[derive(Clone, Debug)]
pub struct Capped(pub reqwest::Client, pub Option<crate::metrics::IdpCalls>);

/// Which endpoint openidconnect is calling, from the request's shape: discovery by its
/// well-known path, the token endpoint by its POST, userinfo by its bearer token, else the
/// keys.
fn endpoint(request: &HttpRequest) -> crate::metrics::IdpEndpoint {
    use crate::metrics::IdpEndpoint as E;
    if request
        .uri()
        .path()
        .ends_with("/.well-known/openid-configuration")
    {
        E::Discovery
    } else if request.method() == http::Method::POST {
        E::Token
    } else if request.headers().contains_key(http::header::AUTHORIZATION) {
        E::Userinfo
    } else {
        E::Keys
    }
}

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
            let endpoint = endpoint(&request);
            let started = std::time::Instant::now();
            let answer = self.fetch(request).await;
            if let Some(calls) = &self.1 {
                use crate::metrics::IdpResult as R;
                let result = match &answer {
                    Ok(r) if r.status().is_success() => R::Ok,
                    Ok(_) => R::HttpError,
                    Err(_) => R::Failed,
                };
                calls.record(endpoint, result, started.elapsed().as_secs_f64());
            }
            answer
        })
    }
}

impl Capped {
    async fn fetch(
        &self,
        request: HttpRequest,
    ) -> Result<HttpResponse, HttpClientError<reqwest::Error>> {
        {
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
        }
    }
}
