//! Turns Traefik Docker-provider labels from a compose file into the equivalent
//! file-provider configuration, so the very labels users copy run in a real Traefik
//! (there is no Docker engine here).
//!
//! Labels map one to one onto dynamic-configuration keys; the Docker provider fills in two
//! things itself, done here the same way: a service's `loadBalancer.server.port` becomes a
//! server URL on the container's address, and `http://<container>:<port>` in values points
//! at that container.

use std::net::SocketAddr;

use serde_yaml_ng::{Mapping, Value};

/// Keys whose label value is a comma-separated list.
const LISTS: &[&str] = &[
    "authResponseHeaders",
    "entryPoints",
    "middlewares",
    "authRequestHeaders",
    "trustedIPs",
];

/// The file-provider YAML for every `traefik.*` label in the compose file at `path`;
/// `containers` gives each compose service's real address.
pub fn to_file_provider(path: &str, containers: &[(&str, SocketAddr)]) -> String {
    let text = std::fs::read_to_string(super::repo().join(path)).unwrap();
    let compose: Value = serde_yaml_ng::from_str(&text).unwrap();
    let mut root = Value::Mapping(Mapping::new());
    for (name, service) in compose["services"].as_mapping().unwrap() {
        let name = name.as_str().unwrap();
        let Some(labels) = service.get("labels").and_then(Value::as_mapping) else {
            continue;
        };
        let addr = containers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, a)| *a)
            .unwrap_or_else(|| panic!("no address given for compose service {name}"));
        for (key, value) in labels {
            let key = key.as_str().unwrap();
            let value = value.as_str().unwrap();
            let Some(path) = key.strip_prefix("traefik.") else {
                continue;
            };
            if path == "enable" {
                assert_eq!(value, "true");
                continue;
            }
            let mut segments: Vec<&str> = path.split('.').collect();
            let mut value = substitute_hosts(value, containers);
            if segments.ends_with(&["loadBalancer", "server", "port"]) {
                segments.truncate(segments.len() - 2);
                segments.push("servers");
                let mut server = Mapping::new();
                server.insert("url".into(), format!("http://{}", addr).into());
                assert_eq!(
                    value.parse::<u16>().ok().map(|_| ()),
                    Some(()),
                    "port label {key}"
                );
                value = String::new();
                insert(
                    &mut root,
                    &segments,
                    Value::Sequence(vec![Value::Mapping(server)]),
                );
                continue;
            }
            let last = *segments.last().unwrap();
            let v = if LISTS.contains(&last) {
                Value::Sequence(value.split(',').map(|s| Value::from(s.trim())).collect())
            } else {
                Value::from(value)
            };
            insert(&mut root, &segments, v);
        }
    }
    serde_yaml_ng::to_string(&root).unwrap()
}

/// `http://sidegate:4180/auth` → `http://127.0.0.1:<port>/auth` for each known container.
fn substitute_hosts(value: &str, containers: &[(&str, SocketAddr)]) -> String {
    let re = regex::Regex::new(r"^http://([a-z0-9_-]+):(\d+)").unwrap();
    match re.captures(value) {
        Some(c) => {
            let host = c.get(1).unwrap().as_str();
            let (_, addr) = containers
                .iter()
                .find(|(n, _)| *n == host)
                .unwrap_or_else(|| panic!("label value {value} names unknown container {host}"));
            format!("http://{addr}{}", &value[c.get(0).unwrap().end()..])
        }
        None => value.to_owned(),
    }
}

fn insert(root: &mut Value, path: &[&str], value: Value) {
    let (last, parents) = path.split_last().unwrap();
    let mut node = root;
    for p in parents {
        let map = node.as_mapping_mut().unwrap();
        node = map
            .entry(Value::from(*p))
            .or_insert_with(|| Value::Mapping(Mapping::new()));
    }
    let previous = node
        .as_mapping_mut()
        .unwrap()
        .insert(Value::from(*last), value);
    assert!(previous.is_none(), "label {} set twice", path.join("."));
}
