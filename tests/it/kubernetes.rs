//! `deploy/kubernetes/`, checked for structure (there is no cluster here): two replicas with
//! liveness on `/healthz` and readiness on `/readyz`, non-root with a read-only root
//! filesystem as the Dockerfile's user, secrets only as `_FILE`s from the Secret, only real
//! settings, Services and the PodDisruptionBudget selecting the pods, the names
//! ingress-nginx's example points at; and the settings are a configuration sidegate accepts.

use std::collections::BTreeMap;
use std::process::Command;

use serde_yaml_ng::Value;
use sidegate::config::is_known;

const DIR: &str = "deploy/kubernetes";

fn read(rel: &str) -> String {
    std::fs::read_to_string(crate::harness::repo().join(rel))
        .unwrap_or_else(|e| panic!("reading {rel}: {e}"))
}

/// Every document of the kustomization's resources, by kind.
fn manifests() -> BTreeMap<String, Value> {
    let k: Value = serde_yaml_ng::from_str(&read(&format!("{DIR}/kustomization.yaml"))).unwrap();
    assert_eq!(k["namespace"], "sidegate");
    let mut by_kind = BTreeMap::new();
    for file in k["resources"].as_sequence().unwrap() {
        let file = file.as_str().unwrap();
        let doc: Value = serde_yaml_ng::from_str(&read(&format!("{DIR}/{file}")))
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let key = format!(
            "{}/{}",
            doc["kind"].as_str().unwrap(),
            doc["metadata"]["name"].as_str().unwrap()
        );
        by_kind.insert(key, doc);
    }
    by_kind
}

#[test]
fn the_kubernetes_manifests_run_sidegate_as_the_readme_says() {
    let m = manifests();
    let d = &m["Deployment/sidegate"];
    assert_eq!(d["spec"]["replicas"].as_u64(), Some(2));
    let pod = &d["spec"]["template"];
    let labels = &pod["metadata"]["labels"];
    assert_eq!(&d["spec"]["selector"]["matchLabels"], labels);
    let spec = &pod["spec"];
    assert_eq!(
        spec["securityContext"]["runAsNonRoot"].as_bool(),
        Some(true)
    );
    let dockerfile = read("deploy/Dockerfile");
    let uid = spec["securityContext"]["runAsUser"].as_u64().unwrap();
    assert!(
        dockerfile.contains(&format!("USER {uid}:")),
        "the Dockerfile's user is not {uid}"
    );
    let c = &spec["containers"][0];
    let sc = &c["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"].as_bool(), Some(true));
    assert_eq!(sc["allowPrivilegeEscalation"].as_bool(), Some(false));
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    let port = |name: &str| {
        c["ports"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .and_then(|p| p["containerPort"].as_u64())
            .unwrap_or_else(|| panic!("no container port {name}"))
    };
    assert_eq!(port("http"), 4180);

    // Settings: only real ones; secrets only as files from the mounted Secret.
    let config = &m["ConfigMap/sidegate"]["data"];
    let mut env: BTreeMap<String, String> = config
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().unwrap().to_owned(),
                v.as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let mount = c["volumeMounts"][0]["mountPath"].as_str().unwrap();
    assert_eq!(spec["volumes"][0]["secret"]["secretName"], "sidegate");
    for e in c["env"].as_sequence().unwrap() {
        let (name, value) = (e["name"].as_str().unwrap(), e["value"].as_str().unwrap());
        assert!(name.ends_with("_FILE"), "{name}: secrets come from files");
        assert!(
            value.starts_with(&format!("{mount}/")),
            "{name} is not in the Secret's mount"
        );
        env.insert(name.to_owned(), value.to_owned());
    }
    for name in env.keys() {
        let bare = name
            .strip_prefix("SIDEGATE_")
            .unwrap_or_else(|| panic!("{name}"));
        assert!(is_known(bare), "{name} is not a sidegate setting");
    }
    for secret in ["CLIENT_SECRET", "COOKIE_SECRET", "REDIS_URL", "ADMIN_TOKEN"] {
        assert!(
            !env.contains_key(&format!("SIDEGATE_{secret}")),
            "SIDEGATE_{secret} in plain text"
        );
    }
    let metrics_port: u64 = env["SIDEGATE_METRICS_LISTEN"]
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(port("metrics"), metrics_port);

    // The Services and the budget select these pods; the names are ingress-nginx's.
    for (name, want) in [
        ("Service/sidegate", 4180),
        ("Service/sidegate-metrics", metrics_port),
    ] {
        let s = &m[name]["spec"];
        assert_eq!(&s["selector"], labels, "{name}");
        assert_eq!(s["ports"][0]["port"].as_u64(), Some(want), "{name}");
    }
    let pdb = &m["PodDisruptionBudget/sidegate"]["spec"];
    assert_eq!(&pdb["selector"]["matchLabels"], labels);
    assert!(pdb["minAvailable"].as_u64().unwrap() < 2);
    let ingress = read("nginx-examples/ingress-nginx.yaml");
    assert!(ingress.contains("http://sidegate.sidegate.svc.cluster.local:4180/auth/nginx"));

    // With the Secret's files in place, sidegate accepts the configuration.
    let dir = tempfile::tempdir().unwrap();
    let mut files = BTreeMap::new();
    for (name, value) in [
        ("client-secret", "the-idp-client-secret"),
        (
            "cookie-secret",
            "c2lkZWdhdGUtY29va2llLXNlY3JldC0zMi1ieXRlcyE=",
        ),
        (
            "redis-url",
            "redis://:pw@redis.sidegate.svc.cluster.local:6379/0",
        ),
    ] {
        let path = crate::harness::write(dir.path(), name, &format!("{value}\n"));
        files.insert(format!("{mount}/{name}"), path.display().to_string());
    }
    for v in env.values_mut() {
        if let Some(real) = files.get(v.as_str()) {
            *v = real.clone();
        }
    }
    let out = Command::new(env!("CARGO_BIN_EXE_sidegate"))
        .args(["check-config", "--offline"])
        .env_clear()
        .envs(&env)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        !shown.contains("the-idp-client-secret") && !shown.contains(":pw@"),
        "{shown}"
    );
}
