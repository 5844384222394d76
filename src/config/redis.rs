//! The Redis options: one server (`SIDEGATE_REDIS_URL`), a Sentinel group
//! (`SIDEGATE_REDIS_SENTINELS` + the URL naming the group), or a cluster
//! (`SIDEGATE_REDIS_CLUSTER_NODES`); the CA file and the replica wait.

use url::Url;

use super::parse;
use super::vars::Vars;
use crate::store::{RedisSettings, RedisTarget};

type Problems = Vec<String>;

/// The Redis settings, or `None` for the memory store.
pub(super) fn redis(v: &Vars, p: &mut Problems) -> Option<RedisSettings> {
    let secret = |name: &str, p: &mut Problems| {
        parse::secret(
            v.owned(name),
            v.owned(&format!("{name}_FILE")),
            &format!("SIDEGATE_{name}"),
            p,
        )
        .map(|s| s.expose().clone())
    };
    let url = secret("REDIS_URL", p);
    let sentinels = secret("REDIS_SENTINELS", p).map(|s| list(&s, "SIDEGATE_REDIS_SENTINELS", p));
    let nodes =
        secret("REDIS_CLUSTER_NODES", p).map(|s| list(&s, "SIDEGATE_REDIS_CLUSTER_NODES", p));
    let target = match (url, sentinels, nodes) {
        (None, None, None) => None,
        (_, Some(_), Some(_)) => {
            p.push("SIDEGATE_REDIS_SENTINELS and SIDEGATE_REDIS_CLUSTER_NODES are both set; Redis is either watched by Sentinel or a cluster, keep the one you run".into());
            None
        }
        (Some(url), None, None) => {
            check_url(&url, p);
            Some(RedisTarget::Single(url))
        }
        (None, Some(_), None) => {
            p.push("SIDEGATE_REDIS_SENTINELS is set but SIDEGATE_REDIS_URL is not: give the master group's name as its host, with the master's password and database, e.g. redis://:password@mymaster/0".into());
            None
        }
        (Some(master), Some(sentinels), None) => {
            check_url(&master, p);
            if let Ok(u) = Url::parse(&master) {
                if let Some(port) = u.port() {
                    p.push(format!("SIDEGATE_REDIS_URL: with SIDEGATE_REDIS_SENTINELS its host is the master group's name (`sentinel monitor <name> ...`), not an address; drop the port :{port}"));
                }
            }
            Some(RedisTarget::Sentinel { master, sentinels })
        }
        (Some(_), None, Some(_)) => {
            p.push("SIDEGATE_REDIS_URL and SIDEGATE_REDIS_CLUSTER_NODES are both set; with a cluster give only the nodes, credentials included: redis://:password@node1:6379,redis://:password@node2:6379".into());
            None
        }
        (None, None, Some(nodes)) => Some(RedisTarget::Cluster(nodes)),
    };
    let wait = v
        .get("REDIS_WAIT_REPLICAS")
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let wait_replicas = match wait.map(str::parse::<u32>) {
        None => match target {
            Some(RedisTarget::Sentinel { .. } | RedisTarget::Cluster(_)) => 1,
            _ => 0,
        },
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            p.push(
                "SIDEGATE_REDIS_WAIT_REPLICAS: a number of replicas, e.g. 1 (0 does not wait)"
                    .into(),
            );
            0
        }
    };
    let mut settings = RedisSettings {
        target: target?,
        ca: None,
        wait_replicas,
    };
    settings.ca = ca_file(v, settings.uses_tls(), p);
    Some(settings)
}

fn check_url(url: &str, p: &mut Problems) {
    if !matches!(Url::parse(url), Ok(u) if matches!(u.scheme(), "redis" | "rediss" | "redis+unix" | "unix"))
    {
        p.push("SIDEGATE_REDIS_URL: not a valid Redis URL; use redis://host:6379/0 (or rediss:// for TLS)".into());
    }
}

/// A comma-separated list of `host:port` or `redis[s]://[user:pw@]host:port`.
fn list(value: &str, var: &str, p: &mut Problems) -> Vec<String> {
    let items: Vec<String> = value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if items.is_empty() {
        p.push(format!(
            "{var}: empty; list the addresses, e.g. 10.0.0.1:26379,10.0.0.2:26379"
        ));
    }
    for (n, item) in items.iter().enumerate() {
        let url = if item.contains("://") {
            item.clone()
        } else {
            format!("redis://{item}")
        };
        let ok = matches!(Url::parse(&url), Ok(u) if matches!(u.scheme(), "redis" | "rediss") && u.host_str().is_some_and(|h| !h.is_empty()) && u.port().is_some());
        if !ok {
            // Never echo the item: it may carry a password.
            p.push(format!(
                "{var}: entry {} is not host:port or redis[s]://[user:password@]host:port",
                n + 1
            ));
        }
    }
    items
}

fn ca_file(v: &Vars, tls: bool, p: &mut Problems) -> Option<Vec<u8>> {
    let path = v
        .get("REDIS_CA_FILE")
        .map(str::trim)
        .filter(|s| !s.is_empty())?;
    if !tls {
        p.push(format!("SIDEGATE_REDIS_CA_FILE: `{path}` is set, but SIDEGATE_REDIS_URL is not a rediss:// (TLS) URL; use rediss://host:6379/0 or unset the CA file"));
        return None;
    }
    match std::fs::read(path) {
        Ok(pem) if String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") => {
            Some(pem)
        }
        Ok(_) => {
            p.push(format!("SIDEGATE_REDIS_CA_FILE: `{path}` holds no PEM certificate (-----BEGIN CERTIFICATE-----)"));
            None
        }
        Err(e) => {
            p.push(format!("SIDEGATE_REDIS_CA_FILE: cannot read `{path}` ({e}); give the CA certificate that signed Redis's, in PEM"));
            None
        }
    }
}
