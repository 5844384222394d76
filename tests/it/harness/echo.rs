//! The upstream app stand-in: answers every request with the headers it received, as JSON
//! (`{"path": "...", "headers": {"name": ["value", ...]}}`).

use std::collections::BTreeMap;
use std::net::SocketAddr;

use warp::Filter;

pub struct Echo {
    pub addr: SocketAddr,
    _server: super::Served,
}

impl Echo {
    pub async fn start() -> Echo {
        let route = warp::path::full()
            .and(warp::query::raw().or(warp::any().map(String::new)).unify())
            .and(warp::header::headers_cloned())
            .map(
                |path: warp::path::FullPath, query: String, headers: warp::http::HeaderMap| {
                    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
                    for (k, v) in &headers {
                        map.entry(k.to_string())
                            .or_default()
                            .push(String::from_utf8_lossy(v.as_bytes()).into_owned());
                    }
                    warp::reply::json(
                        &serde_json::json!({"path": path.as_str(), "query": query, "headers": map}),
                    )
                },
            );
        let server = super::serve(route).await;
        Echo {
            addr: server.addr,
            _server: server,
        }
    }
}
