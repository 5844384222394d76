//! The files in `deploy/`, checked for structure (there is no Docker engine here): the
//! compose stack has the services its README lists, uses only real sidegate settings, and
//! carries exactly the Traefik labels that `traefik-examples/docker-compose.labels.yml`
//! runs through a real Traefik; `sidegate.env.example` with the apps file and the secrets
//! as files is a configuration sidegate accepts; secrets are Compose secrets and no env
//! file reaches another project's containers; every image tag is pinned; the Dockerfile builds a locked release and runs it unprivileged
//! with a health check.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use regex::Regex;
use serde_yaml_ng::Value;
use sidegate::config::is_known;
use url::Url;

const COMPOSE: &str = "deploy/docker-compose.yml";
const ENV_EXAMPLE: &str = "deploy/sidegate.env.example";
const AUTHENTIK_ENV: &str = "deploy/authentik.env.example";
const COMPOSE_ENV: &str = "deploy/.env.example";
const APPS: &str = "deploy/apps.toml";
const DOCKERFILE: &str = "deploy/Dockerfile";
const README: &str = "deploy/README.md";
const LABELS_EXAMPLE: &str = "traefik-examples/docker-compose.labels.yml";

fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo_path(rel)).unwrap_or_else(|e| panic!("reading {rel}: {e}"))
}

fn yaml(rel: &str) -> Value {
    serde_yaml_ng::from_str(&read(rel)).unwrap_or_else(|e| panic!("{rel} is not YAML: {e}"))
}

fn service<'a>(compose: &'a Value, name: &str) -> &'a Value {
    compose["services"]
        .get(name)
        .unwrap_or_else(|| panic!("{COMPOSE} has no service `{name}`"))
}

fn service_names(compose: &Value) -> BTreeSet<String> {
    compose["services"]
        .as_mapping()
        .unwrap_or_else(|| panic!("{COMPOSE}: `services` is not a mapping"))
        .keys()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect()
}

/// A scalar as Compose reads it (`true` and `80` become strings in labels and env).
fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Null => String::new(),
        other => panic!("not a scalar: {other:?}"),
    }
}

/// `labels` or `environment`, written as a map or as a list of `key=value` strings.
fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    match v {
        None => BTreeMap::new(),
        Some(Value::Mapping(m)) => m
            .iter()
            .map(|(k, v)| (k.as_str().unwrap().to_owned(), scalar(v)))
            .collect(),
        Some(Value::Sequence(items)) => items
            .iter()
            .map(|item| {
                let item = item.as_str().unwrap();
                let (k, v) = item.split_once('=').unwrap_or((item, ""));
                (k.to_owned(), v.to_owned())
            })
            .collect(),
        Some(other) => panic!("neither a map nor a list: {other:?}"),
    }
}

fn labels(compose: &Value, name: &str) -> BTreeMap<String, String> {
    string_map(service(compose, name).get("labels"))
}

fn environment(compose: &Value, name: &str) -> BTreeMap<String, String> {
    string_map(service(compose, name).get("environment"))
}

/// A value Compose accepts as one string or a list of strings (`env_file`, `command`).
fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        None => Vec::new(),
        Some(Value::Sequence(items)) => items.iter().map(scalar).collect(),
        Some(other) => vec![scalar(other)],
    }
}

/// `depends_on` as a list of names or a map of name → condition.
fn depends_on(compose: &Value, name: &str) -> BTreeSet<String> {
    match service(compose, name).get("depends_on") {
        None => BTreeSet::new(),
        Some(Value::Sequence(items)) => items.iter().map(scalar).collect(),
        Some(Value::Mapping(m)) => m.keys().map(scalar).collect(),
        Some(other) => panic!("{name}: depends_on is {other:?}"),
    }
}

/// The `KEY=value` lines of an env file (comments and blank lines skipped, quotes removed).
fn env_vars(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l
                .split_once('=')
                .unwrap_or_else(|| panic!("{ENV_EXAMPLE}: `{l}` is not KEY=value"));
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            (k.trim().to_owned(), v.to_owned())
        })
        .collect()
}

/// The hosts of every `Host(`…`)` router rule in the compose labels.
fn routed_hosts(compose: &Value) -> BTreeSet<String> {
    let host = Regex::new(r"Host\(`([^`]+)`\)").unwrap();
    service_names(compose)
        .iter()
        .flat_map(|name| labels(compose, name).into_values())
        .flat_map(|v| {
            host.captures_iter(&v)
                .map(|c| c[1].to_owned())
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn compose_has_the_whole_stack() {
    let compose = yaml(COMPOSE);
    let names = service_names(&compose);
    for name in [
        "traefik",
        "sidegate",
        "redis",
        "whoami",
        "authentik-server",
        "authentik-worker",
        "authentik-postgresql",
        "authentik-redis",
    ] {
        assert!(names.contains(name), "{COMPOSE} lacks `{name}`: {names:?}");
    }

    let build = service(&compose, "sidegate")
        .get("build")
        .unwrap_or_else(|| panic!("sidegate has no build section"));
    let context = scalar(&build["context"]);
    let dockerfile = scalar(&build["dockerfile"]);
    let built = repo_path("deploy").join(&context).join(&dockerfile);
    assert_eq!(
        built
            .canonicalize()
            .unwrap_or_else(|e| panic!("{}: {e}", built.display())),
        repo_path(DOCKERFILE).canonicalize().unwrap(),
        "sidegate's build (context {context}, dockerfile {dockerfile}) is not {DOCKERFILE}"
    );
    assert!(depends_on(&compose, "sidegate").contains("redis"));
    let sidegate = service(&compose, "sidegate");
    assert_eq!(strings(sidegate.get("env_file")), ["sidegate.env"]);
    assert!(sidegate.get("ports").is_none(), "sidegate publishes ports");
    let vars = env_vars(&read(ENV_EXAMPLE));
    let apps_at = &vars["SIDEGATE_APPS_FILE"];
    assert!(
        strings(sidegate.get("volumes")).contains(&format!("./apps.toml:{apps_at}:ro")),
        "{APPS} is not mounted at SIDEGATE_APPS_FILE={apps_at}"
    );

    // Every secret is a Compose secret: a file under secrets/, given only to the services
    // that list it, at /run/secrets/<name>, and named there by a _FILE or file:// value.
    let declared = compose["secrets"]
        .as_mapping()
        .expect("no top-level secrets");
    let mut given = BTreeSet::new();
    for name in service_names(&compose) {
        let svc = service(&compose, &name);
        let text = serde_yaml_ng::to_string(svc).unwrap();
        for secret in strings(svc.get("secrets")) {
            let file = scalar(&declared[secret.as_str()]["file"]);
            assert_eq!(file, format!("./secrets/{secret}"), "{secret}");
            let path = format!("/run/secrets/{secret}");
            let env_file = strings(svc.get("env_file"))
                .iter()
                .map(|f| read(&format!("deploy/{f}.example")))
                .collect::<String>();
            assert!(
                text.contains(&path) || env_file.contains(&path),
                "{name} is given {secret} but never reads {path}"
            );
            given.insert(secret);
        }
        for f in strings(svc.get("env_file")) {
            let env = env_vars(&read(&format!("deploy/{f}.example")));
            for (k, v) in &env {
                assert!(
                    !(k.contains("SECRET") || k.contains("PASS") || k.ends_with("_KEY"))
                        || k.ends_with("_FILE")
                        || v.starts_with("file://"),
                    "deploy/{f}.example holds the secret {k}"
                );
            }
        }
        let expected_env = match name.as_str() {
            "sidegate" => vec!["sidegate.env".to_owned()],
            n if n == "authentik-server" || n == "authentik-worker" => {
                vec!["authentik.env".to_owned()]
            }
            _ => vec![],
        };
        assert_eq!(
            strings(svc.get("env_file")),
            expected_env,
            "{name}'s env_file"
        );
    }
    let declared: BTreeSet<String> = declared.keys().map(scalar).collect();
    assert_eq!(given, declared, "declared secrets vs the ones services use");
    assert!(
        [
            "sidegate-client-secret",
            "sidegate-cookie-secret",
            "authentik-secret-key",
            "authentik-pg-pass"
        ]
        .iter()
        .all(|s| declared.contains(*s)),
        "{declared:?}"
    );

    // Pinned images: every tag (with its default filled in) names a full version.
    let default = Regex::new(r"\$\{[A-Z_]+:-([^}]+)\}").unwrap();
    let pinned = Regex::new(r":v?\d+\.\d+(\.\d+)?(-[a-z0-9.]+)?$").unwrap();
    for name in service_names(&compose) {
        let image = scalar(&service(&compose, &name)["image"]);
        let image = default.replace_all(&image, "$1");
        assert!(
            pinned.is_match(&image),
            "{name}: image {image} is not pinned to a version"
        );
    }

    // Authentik keeps its own Redis and database; sidegate's `redis` is not shared.
    for name in ["authentik-server", "authentik-worker"] {
        let image = scalar(&service(&compose, name)["image"]);
        assert!(image.contains("goauthentik/server"), "{name}: {image}");
        assert_eq!(
            strings(service(&compose, name).get("command")),
            [name.strip_prefix("authentik-").unwrap()]
        );
        let env = environment(&compose, name);
        assert_eq!(env["AUTHENTIK_REDIS__HOST"], "authentik-redis", "{name}");
        assert_eq!(
            env["AUTHENTIK_POSTGRESQL__HOST"], "authentik-postgresql",
            "{name}"
        );
        assert_eq!(
            env["AUTHENTIK_SECRET_KEY"],
            "file:///run/secrets/authentik-secret-key"
        );
        assert_eq!(
            env["AUTHENTIK_POSTGRESQL__PASSWORD"],
            "file:///run/secrets/authentik-pg-pass"
        );
        assert_eq!(
            depends_on(&compose, name),
            BTreeSet::from(["authentik-postgresql".into(), "authentik-redis".into()])
        );
    }
}

#[test]
fn traefik_serves_web_on_port_80_and_only_labelled_containers() {
    let compose = yaml(COMPOSE);
    let traefik = service(&compose, "traefik");
    let args = strings(traefik.get("command"));
    for arg in [
        "--global.checkNewVersion=false",
        "--global.sendAnonymousUsage=false",
        "--entryPoints.web.address=:80",
        "--providers.docker.exposedByDefault=false",
    ] {
        assert!(
            args.iter().any(|a| a == arg),
            "traefik lacks {arg}: {args:?}"
        );
    }
    assert!(strings(traefik.get("ports")).iter().any(|p| p == "80:80"));

    // Every entry point a router names is defined.
    let entry_point = Regex::new(r"^--entryPoints\.([^.]+)\.address=").unwrap();
    let defined: BTreeSet<String> = args
        .iter()
        .filter_map(|a| entry_point.captures(a).map(|c| c[1].to_owned()))
        .collect();
    for name in service_names(&compose) {
        for (key, value) in labels(&compose, &name) {
            if key.ends_with(".entryPoints") {
                for ep in value.split(',') {
                    assert!(defined.contains(ep.trim()), "{name}: {key}={value}");
                }
            }
        }
    }

    // Inside the stack every routed host name leads to Traefik, so sidegate reaches the
    // IdP at the same issuer URL as the browser.
    let aliases: BTreeSet<String> = traefik["networks"]["default"]["aliases"]
        .as_sequence()
        .unwrap_or_else(|| panic!("traefik has no network aliases"))
        .iter()
        .map(scalar)
        .collect();
    let hosts = routed_hosts(&compose);
    assert!(hosts.contains("authentik.example.test"), "{hosts:?}");
    assert_eq!(aliases, hosts);
}

#[test]
fn only_known_sidegate_variables_are_used() {
    let names = Regex::new(r"SIDEGATE_[A-Z_]+").unwrap();
    let mut checked = 0;
    for file in [COMPOSE, ENV_EXAMPLE, AUTHENTIK_ENV, COMPOSE_ENV] {
        let text = read(file);
        let found: BTreeSet<&str> = names.find_iter(&text).map(|m| m.as_str()).collect();
        // `${SIDEGATE_IMAGE_TAG:-…}` is Compose's own variable, not a setting.
        for var in found.into_iter().filter(|v| *v != "SIDEGATE_IMAGE_TAG") {
            let name = &var["SIDEGATE_".len()..];
            let known = is_known(name);
            assert!(known, "{file}: {var} is not a sidegate setting");
            checked += 1;
        }
    }
    // sidegate.env.example alone names the five required settings.
    assert!(checked >= 5, "only {checked} SIDEGATE_ names found");
}

#[test]
fn env_example_sets_every_required_variable() {
    let vars = env_vars(&read(ENV_EXAMPLE));
    for name in [
        "SIDEGATE_PUBLIC_URL",
        "SIDEGATE_ISSUER_URL",
        "SIDEGATE_CLIENT_ID",
        "SIDEGATE_CLIENT_SECRET_FILE",
        "SIDEGATE_COOKIE_SECRET_FILE",
    ] {
        let value = vars.get(name).map(String::as_str).unwrap_or_default();
        assert!(!value.is_empty(), "{ENV_EXAMPLE} does not set {name}");
    }

    // deploy/.env is optional: the compose file requires nothing from it, and its example
    // only documents the defaults the compose file has.
    let compose_text = read(COMPOSE);
    assert!(
        !compose_text.contains(":?"),
        "{COMPOSE} requires a variable from .env"
    );
    assert!(
        env_vars(&read(COMPOSE_ENV)).is_empty(),
        "{COMPOSE_ENV} sets something"
    );
    let defaults = Regex::new(r"\$\{([A-Z0-9_]+):-").unwrap();
    for c in defaults.captures_iter(&compose_text) {
        assert!(
            read(COMPOSE_ENV).contains(&format!("# {}=", &c[1])),
            "{COMPOSE_ENV} does not document {}",
            &c[1]
        );
    }

    // The URLs fit the stack: Authentik's issuer ends with a slash and is routed by
    // Traefik, sidegate's public host is its router, the cookie domain covers both
    // sidegate and the app, and Redis is the compose service.
    let compose = yaml(COMPOSE);
    let hosts = routed_hosts(&compose);
    let issuer = &vars["SIDEGATE_ISSUER_URL"];
    assert!(issuer.ends_with('/'), "Authentik's issuer ends with /");
    let issuer_host = Url::parse(issuer).unwrap().host_str().unwrap().to_owned();
    assert!(
        hosts.contains(&issuer_host),
        "{issuer_host} not in {hosts:?}"
    );
    let public = Url::parse(&vars["SIDEGATE_PUBLIC_URL"]).unwrap();
    let public_host = public.host_str().unwrap();
    // The router is sidegate's public host, for the browser-facing paths only (never /auth).
    let rule = &labels(&compose, "sidegate")["traefik.http.routers.sidegate.rule"];
    assert!(
        rule.starts_with(&format!(
            "Host(`{public_host}`) && (Path(`/`) || Path(`/start`)"
        )) && !rule.contains("/auth"),
        "{rule}"
    );
    let domain = &vars["SIDEGATE_COOKIE_DOMAIN"];
    for host in &hosts {
        assert!(
            host.ends_with(&format!(".{domain}")),
            "{host} not under {domain}"
        );
    }
    let redis = Url::parse(&vars["SIDEGATE_REDIS_URL"]).unwrap();
    assert_eq!(redis.host_str(), Some("redis"));
}

#[test]
fn env_example_is_a_configuration_sidegate_accepts_once_filled_in() {
    let vars = env_vars(&read(ENV_EXAMPLE));
    let secrets = tempfile::tempdir().unwrap();
    let in_container = |v: &str| -> String {
        match v.strip_prefix("/run/secrets/") {
            Some(name) => secrets.path().join(name).display().to_string(),
            None if v == vars["SIDEGATE_APPS_FILE"] => repo_path(APPS).display().to_string(),
            None => v.to_owned(),
        }
    };
    let check = || {
        Command::new(env!("CARGO_BIN_EXE_sidegate"))
            .args(["check-config", "--offline"])
            .env_clear()
            .envs(
                vars.iter()
                    .filter(|(k, _)| k.starts_with("SIDEGATE_"))
                    .map(|(k, v)| (k, in_container(v))),
            )
            .output()
            .unwrap()
    };
    std::fs::write(
        secrets.path().join("sidegate-client-secret"),
        "the-client-secret-xyz\n",
    )
    .unwrap();

    // A secret file created but not filled in stops sidegate, naming it.
    std::fs::write(secrets.path().join("sidegate-cookie-secret"), "").unwrap();
    let out = check();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("SIDEGATE_COOKIE_SECRET_FILE") && err.contains("is empty"),
        "{err}"
    );

    std::fs::write(
        secrets.path().join("sidegate-cookie-secret"),
        "0123456789abcdef0123456789abcdef0123456789abcdef\n",
    )
    .unwrap();
    let out = check();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("warning"), "{err}");
    let described = String::from_utf8(out.stdout).unwrap();
    assert!(
        described.contains("http://authentik.example.test/application/o/sidegate/"),
        "{described}"
    );
    assert!(!described.contains("the-client-secret-xyz"), "{described}");
}

#[test]
fn labels_match_the_tested_traefik_example() {
    let compose = yaml(COMPOSE);
    let example = yaml(LABELS_EXAMPLE);
    let sidegate = labels(&compose, "sidegate");
    assert!(sidegate.len() >= 5, "{sidegate:?}");
    assert_eq!(
        sidegate,
        string_map(example["services"]["sidegate"].get("labels"))
    );
    let app = labels(&compose, "whoami");
    assert!(app.contains_key("traefik.http.routers.app.middlewares"));
    assert_eq!(app, string_map(example["services"]["app"].get("labels")));
}

#[test]
fn labels_in_list_form_read_like_a_map() {
    let map: Value = serde_yaml_ng::from_str(
        "labels:\n  traefik.enable: true\n  traefik.http.services.a.loadBalancer.server.port: 80\n",
    )
    .unwrap();
    let list: Value = serde_yaml_ng::from_str(
        "labels:\n  - traefik.enable=true\n  - traefik.http.services.a.loadBalancer.server.port=80\n",
    )
    .unwrap();
    let expected = BTreeMap::from([
        ("traefik.enable".to_owned(), "true".to_owned()),
        (
            "traefik.http.services.a.loadBalancer.server.port".to_owned(),
            "80".to_owned(),
        ),
    ]);
    assert_eq!(string_map(map.get("labels")), expected);
    assert_eq!(string_map(list.get("labels")), expected);
}

#[test]
fn readme_lists_exactly_the_compose_services() {
    let readme = read(README);
    let compose = yaml(COMPOSE);
    let services = service_names(&compose);

    // The "Services" section's table names every service, and nothing else.
    let section: String = readme
        .lines()
        .skip_while(|l| l.trim() != "## Services")
        .skip(1)
        .take_while(|l| !l.starts_with("## "))
        .collect::<Vec<_>>()
        .join("\n");
    let row = Regex::new(r"(?m)^\|\s*`([a-z0-9-]+)`\s*\|").unwrap();
    let listed: BTreeSet<String> = row
        .captures_iter(&section)
        .map(|c| c[1].to_owned())
        .collect();
    assert_eq!(listed, services, "{README} ## Services vs {COMPOSE}");

    // Anywhere else, a backticked name called a service, or an `authentik-…` name, is one.
    let called = Regex::new(r"`([a-z0-9-]+)` (?:service|container)").unwrap();
    let authentik = Regex::new(r"`(authentik-[a-z0-9-]+)`").unwrap();
    let mentioned: Vec<String> = called
        .captures_iter(&readme)
        .chain(authentik.captures_iter(&readme))
        .map(|c| c[1].to_owned())
        .collect();
    assert!(!mentioned.is_empty());
    for name in mentioned {
        assert!(services.contains(&name), "{README} mentions `{name}`");
    }
}

/// The Dockerfile's instructions as (keyword, arguments), continuation lines joined.
fn dockerfile_instructions(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(part) => {
                current.push_str(part);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                let (keyword, args) = current.split_once(char::is_whitespace).unwrap();
                out.push((keyword.to_uppercase(), args.trim().to_owned()));
                current.clear();
            }
        }
    }
    assert!(
        current.is_empty(),
        "{DOCKERFILE} ends inside a continuation"
    );
    out
}

#[test]
fn dockerfile_builds_locked_and_runs_unprivileged_with_a_health_check() {
    let instructions = dockerfile_instructions(&read(DOCKERFILE));
    let last_from = instructions.iter().rposition(|(k, _)| k == "FROM").unwrap();
    let (build, last) = instructions.split_at(last_from);
    assert!(
        build.iter().any(|(k, _)| k == "FROM"),
        "not a multi-stage build"
    );
    let args = |keyword: &str| -> Vec<&str> {
        last.iter()
            .filter(|(k, _)| k == keyword)
            .map(|(_, a)| a.as_str())
            .collect()
    };

    let image = last[0].1.split_whitespace().next().unwrap();
    assert!(
        image == "scratch" || image.contains("/distroless/"),
        "final stage is {image}"
    );
    assert!(
        args("COPY").iter().any(|a| a.starts_with("--from=")),
        "the final stage copies nothing from the build stage"
    );
    // rediss:// and an https IdP need the public CAs: distroless static and base carry
    // /etc/ssl/certs/ca-certificates.crt; scratch must be given it.
    let carries_cas = image.starts_with("gcr.io/distroless/static")
        || image.starts_with("gcr.io/distroless/base")
        || args("COPY")
            .iter()
            .any(|a| a.contains("/etc/ssl/certs/ca-certificates.crt"));
    assert!(carries_cas, "the image {image} has no CA bundle");

    let user = *args("USER").last().expect("no USER in the final stage");
    let uid = user.split(':').next().unwrap();
    assert!(
        !uid.is_empty() && uid != "root" && uid != "0",
        "runs as {user}"
    );

    let health = args("HEALTHCHECK");
    assert_eq!(health.len(), 1, "{health:?}");
    let health = health[0];
    assert!(
        health.contains(r#"CMD ["/sidegate", "healthcheck"]"#),
        "{health}"
    );

    let exposed: Vec<&str> = args("EXPOSE")
        .iter()
        .flat_map(|a| a.split_whitespace())
        .collect();
    assert!(exposed.contains(&"4180"), "EXPOSE {exposed:?}");
    assert!(
        args("ENV").contains(&"SIDEGATE_LISTEN=0.0.0.0:4180"),
        "{:?}",
        args("ENV")
    );
    assert_eq!(args("ENTRYPOINT"), [r#"["/sidegate"]"#]);
    // Traefik is pointed at the exposed port.
    let compose = yaml(COMPOSE);
    assert_eq!(
        labels(&compose, "sidegate")["traefik.http.services.sidegate.loadBalancer.server.port"],
        "4180"
    );

    let builds: Vec<&str> = build
        .iter()
        .filter(|(k, a)| k == "RUN" && a.contains("cargo build"))
        .map(|(_, a)| a.as_str())
        .collect();
    assert!(!builds.is_empty(), "no cargo build");
    for run in builds {
        for flag in ["--release", "--locked", "--target \"$(cat /rust-target)\""] {
            assert!(run.contains(flag), "`{run}` lacks {flag}");
        }
    }
    // Multi-arch: BuildKit's TARGETARCH picks the musl target, amd64 and arm64 alike.
    let text = read(DOCKERFILE);
    for (arch, target) in [
        ("amd64", "x86_64-unknown-linux-musl"),
        ("arm64", "aarch64-unknown-linux-musl"),
    ] {
        assert!(
            text.contains(&format!("{arch}) echo {target} ;;")),
            "{DOCKERFILE} does not build {arch} as {target}"
        );
    }
    assert!(build.iter().any(|(k, a)| k == "ARG" && a == "TARGETARCH"));
    assert!(
        !build
            .iter()
            .any(|(k, a)| k == "FROM" && a.contains("--platform=$BUILDPLATFORM")),
        "the build stage must run on the target platform (native musl toolchain)"
    );
}
