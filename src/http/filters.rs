//! Extraction only: values the handlers need, typed. No decisions here.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::Arc;

use warp::Filter;

use crate::app::App;
use crate::store::SessionStore;

/// Hands each request the shared state.
pub fn with_app<S: SessionStore>(
    app: Arc<App<S>>,
) -> impl Filter<Extract = (Arc<App<S>>,), Error = Infallible> + Clone {
    warp::any().map(move || app.clone())
}

/// The IP address of the TCP peer (the proxy), if known.
pub fn peer_ip() -> impl Filter<Extract = (Option<IpAddr>,), Error = Infallible> + Copy {
    warp::addr::remote().map(|addr: Option<std::net::SocketAddr>| addr.map(|a| a.ip()))
}

/// The query string as decoded name → value pairs (last value wins); empty when absent.
pub fn query_params() -> impl Filter<Extract = (HashMap<String, String>,), Error = Infallible> + Copy
{
    warp::query::raw()
        .or(warp::any().map(String::new))
        .unify()
        .map(|raw: String| {
            url::form_urlencoded::parse(raw.as_bytes())
                .into_owned()
                .collect()
        })
}
