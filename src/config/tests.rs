use super::*;
use ipnet::IpNet;
use std::time::Duration;

const SECRET: &str = "0123456789abcdef0123456789abcdef-cookie";

fn base() -> Vec<(String, String)> {
    [
        ("SIDEGATE_PUBLIC_URL", "https://auth.example.test"),
        (
            "SIDEGATE_ISSUER_URL",
            "https://idp.example.test/application/o/sidegate/",
        ),
        ("SIDEGATE_CLIENT_ID", "sidegate"),
        ("SIDEGATE_CLIENT_SECRET", "client-secret-value"),
        ("SIDEGATE_COOKIE_SECRET", SECRET),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

fn with(extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v = base();
    for (k, val) in extra {
        v.retain(|(name, _)| name != k);
        v.push(((*k).to_owned(), (*val).to_owned()));
    }
    v
}

fn errors(vars: Vec<(String, String)>) -> Vec<String> {
    Config::from_vars(vars).unwrap_err().0
}

#[test]
fn minimal_config_gets_documented_defaults() {
    let (c, warnings) = Config::from_vars(base()).unwrap();
    assert!(warnings.is_empty());
    assert_eq!(c.listen.to_string(), "0.0.0.0:4180");
    assert_eq!(c.public_base(), "https://auth.example.test");
    assert_eq!(c.redirect_uri(), "https://auth.example.test/callback");
    assert_eq!(c.scopes, ["openid", "email", "profile"]);
    assert_eq!(c.cookie.name, "_sidegate");
    assert_eq!(c.cookie.domain, None);
    assert!(c.cookie.secure);
    assert_eq!(c.allowed_redirect_domains, ["auth.example.test"]);
    assert!(c.redis.is_none());
    assert_eq!(c.session_lifetime, Duration::from_secs(86_400));
    assert_eq!(c.session_idle_timeout, Some(Duration::from_secs(4 * 3600)));
    assert_eq!(c.trusted_proxies.len(), 6);
    assert_eq!(c.log_format, LogFormat::Text);
    let headers: Vec<String> = c.headers.iter().map(|h| h.name.to_string()).collect();
    assert_eq!(
        headers,
        [
            "x-forwarded-user",
            "x-forwarded-email",
            "x-forwarded-groups",
            "x-forwarded-preferred-username"
        ]
    );
    let user: Vec<&str> = c.headers[0].claims.iter().map(ClaimPath::as_str).collect();
    assert_eq!(user, ["preferred_username", "sub"]);
}

#[test]
fn every_missing_setting_is_listed_at_once() {
    let problems = errors(vec![]);
    for var in [
        "SIDEGATE_PUBLIC_URL",
        "SIDEGATE_ISSUER_URL",
        "SIDEGATE_CLIENT_ID",
        "SIDEGATE_CLIENT_SECRET",
        "SIDEGATE_COOKIE_SECRET",
    ] {
        assert!(
            problems.iter().any(|p| p.starts_with(var)),
            "{var} not in {problems:#?}"
        );
    }
    assert_eq!(problems.len(), 5, "{problems:#?}");
    assert!(problems.iter().any(|p| p.contains("openssl rand")));
}

#[test]
fn each_bad_value_names_its_variable() {
    let cases: &[(&str, &str)] = &[
        ("SIDEGATE_LISTEN", "localhost"),
        ("SIDEGATE_PUBLIC_URL", "auth.example.test"),
        ("SIDEGATE_PUBLIC_URL", "https://auth.example.test/prefix"),
        ("SIDEGATE_ISSUER_URL", "not a url"),
        ("SIDEGATE_SCOPES", "email profile"),
        ("SIDEGATE_COOKIE_SECRET", "too-short"),
        ("SIDEGATE_COOKIE_DOMAIN", "other.test"),
        ("SIDEGATE_COOKIE_DOMAIN", "bad domain!"),
        ("SIDEGATE_COOKIE_NAME", "a;b"),
        ("SIDEGATE_COOKIE_SECURE", "maybe"),
        (
            "SIDEGATE_ALLOWED_REDIRECT_DOMAINS",
            "ok.test,https://x.test/",
        ),
        ("SIDEGATE_REDIS_URL", "http://localhost:6379"),
        ("SIDEGATE_SESSION_LIFETIME", "forever"),
        ("SIDEGATE_SESSION_LIFETIME", "0"),
        ("SIDEGATE_SESSION_IDLE_TIMEOUT", "10 parsecs"),
        ("SIDEGATE_TRUSTED_PROXIES", "10.0.0.0/8,everyone"),
        ("SIDEGATE_LOG_FORMAT", "xml"),
        ("SIDEGATE_USER_HEADER", "Bad Header"),
        ("SIDEGATE_EMAIL_HEADER", "Set-Cookie"),
        ("SIDEGATE_GROUPS_CLAIM", "realm_access..roles"),
        ("SIDEGATE_EXTRA_HEADERS", "X-Roles"),
        ("SIDEGATE_EXTRA_HEADERS", "X-Forwarded-User=sub"),
        ("SIDEGATE_CLIENT_SECRET_FILE", "/nonexistent/secret"),
    ];
    for (var, value) in cases {
        let problems = errors(with(&[(var, value)]));
        let named = if *var == "SIDEGATE_EXTRA_HEADERS" && value.contains('=') {
            "identity headers"
        } else {
            var
        };
        assert!(
            problems.iter().any(|p| p.contains(named)),
            "{var}={value}: {problems:#?}"
        );
    }
}

#[test]
fn several_problems_are_reported_together() {
    let problems = errors(with(&[
        ("SIDEGATE_LISTEN", "nope"),
        ("SIDEGATE_COOKIE_SECRET", "short"),
        ("SIDEGATE_LOG_FORMAT", "xml"),
    ]));
    assert_eq!(problems.len(), 3, "{problems:#?}");
}

#[test]
fn secrets_from_files_and_unknown_variables_warned() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secret");
    std::fs::write(&file, "from-file-secret\n").unwrap();
    let mut vars = with(&[
        ("SIDEGATE_SERVICE_PORT", "4180"),
        ("SIDEGATE_CLIENT_SECRET_FILE", file.to_str().unwrap()),
    ]);
    vars.retain(|(k, _)| k != "SIDEGATE_CLIENT_SECRET");
    vars.push(("OTHER_VAR".into(), "x".into()));
    let (c, warnings) = Config::from_vars(vars).unwrap();
    assert_eq!(c.client_secret.expose(), "from-file-secret");
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].starts_with("SIDEGATE_SERVICE_PORT"));
    let both = errors(with(&[(
        "SIDEGATE_CLIENT_SECRET_FILE",
        file.to_str().unwrap(),
    )]));
    assert!(both[0].contains("both set"), "{both:?}");
}

#[test]
fn each_secret_mistake_is_one_message_and_warnings_survive_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::write(&empty, "\n").unwrap();
    let missing = dir.path().join("missing");
    for (file, says) in [(&empty, "is empty"), (&missing, "cannot read")] {
        for var in ["CLIENT_SECRET", "COOKIE_SECRET", "ADMIN_TOKEN", "REDIS_URL"] {
            let mut vars = with(&[(
                format!("SIDEGATE_{var}_FILE").as_str(),
                file.to_str().unwrap(),
            )]);
            vars.retain(|(k, _)| *k != format!("SIDEGATE_{var}"));
            let problems = errors(vars);
            let about: Vec<&String> = problems.iter().filter(|p| p.contains(var)).collect();
            assert_eq!(about.len(), 1, "{var}: {problems:#?}");
            assert!(about[0].contains(says), "{var}: {problems:#?}");
        }
    }
    let mut vars = with(&[("SIDEGATE_COOKIE_DOMIAN", "example.test")]);
    vars.retain(|(k, _)| k != "SIDEGATE_CLIENT_ID");
    let e = Config::from_vars(vars).unwrap_err();
    assert_eq!(e.0.len(), 1, "{e}");
    let text = e.to_string();
    assert!(
        text.contains("warning: SIDEGATE_COOKIE_DOMIAN is not a sidegate setting and is ignored; did you mean SIDEGATE_COOKIE_DOMAIN?"),
        "{text}"
    );
}

#[test]
fn cookie_domain_and_allowlist_and_headers() {
    let (c, _) = Config::from_vars(with(&[
        ("SIDEGATE_PUBLIC_URL", "http://auth.example.test:8080"),
        ("SIDEGATE_COOKIE_DOMAIN", ".Example.test"),
        (
            "SIDEGATE_ALLOWED_REDIRECT_DOMAINS",
            "*.apps.test, other.test",
        ),
        ("SIDEGATE_SESSION_IDLE_TIMEOUT", "0"),
        ("SIDEGATE_TRUSTED_PROXIES", "10.1.2.3"),
        ("SIDEGATE_GROUPS_HEADER", ""),
        ("SIDEGATE_USER_CLAIM", "email"),
        (
            "SIDEGATE_EXTRA_HEADERS",
            "X-Roles=realm_access.roles, X-Name=name",
        ),
        ("SIDEGATE_GROUPS_SEPARATOR", "|"),
    ]))
    .unwrap();
    assert_eq!(c.cookie.domain.as_deref(), Some("example.test"));
    assert!(!c.cookie.secure, "http public URL defaults to no Secure");
    assert_eq!(
        c.allowed_redirect_domains,
        [
            "apps.test",
            "auth.example.test",
            "example.test",
            "other.test"
        ]
    );
    assert_eq!(c.session_idle_timeout, None);
    assert_eq!(c.trusted_proxies, ["10.1.2.3/32".parse::<IpNet>().unwrap()]);
    let names: Vec<String> = c.headers.iter().map(|h| h.name.to_string()).collect();
    assert_eq!(
        names,
        [
            "x-forwarded-user",
            "x-forwarded-email",
            "x-forwarded-preferred-username",
            "x-roles",
            "x-name"
        ]
    );
    let user: Vec<&str> = c.headers[0].claims.iter().map(ClaimPath::as_str).collect();
    assert_eq!(user, ["email", "sub"]);
    assert_eq!(c.headers[3].separator, "|");
}

#[test]
fn describe_masks_every_secret() {
    let (c, _) = Config::from_vars(with(&[(
        "SIDEGATE_REDIS_URL",
        "redis://:hunter2hunter2@redis:6379/0",
    )]))
    .unwrap();
    let text = c.describe();
    for secret in ["client-secret-value", SECRET, "hunter2hunter2"] {
        assert!(!text.contains(secret), "{secret} leaked:\n{text}");
    }
    assert!(text.contains("SIDEGATE_CLIENT_SECRET = ***SECRET***"));
    assert!(text.contains("SIDEGATE_REDIS_URL = redis://:***@redis:6379/0"));
    assert!(text.contains("SIDEGATE_PUBLIC_URL = https://auth.example.test"));
    let debug = format!("{c:?}");
    assert!(
        !debug.contains("client-secret-value") && !debug.contains("hunter2"),
        "{debug}"
    );
}

#[test]
fn the_redis_ca_file_needs_tls_and_a_pem_certificate_and_metrics_their_own_port() {
    let dir = tempfile::tempdir().unwrap();
    let not_pem = dir.path().join("ca.txt");
    std::fs::write(&not_pem, "hello").unwrap();
    let not_pem = not_pem.display().to_string();
    let cases: [(&[(&str, &str)], &str); 5] = [
        (
            &[("SIDEGATE_REDIS_URL", "redis://r:6379/0"), ("SIDEGATE_REDIS_CA_FILE", "/etc/hostname")],
            "SIDEGATE_REDIS_CA_FILE: `/etc/hostname` is set, but SIDEGATE_REDIS_URL is not a rediss://",
        ),
        (
            &[("SIDEGATE_REDIS_URL", "rediss://r:6379/0"), ("SIDEGATE_REDIS_CA_FILE", "/nonexistent/ca.pem")],
            "SIDEGATE_REDIS_CA_FILE: cannot read `/nonexistent/ca.pem`",
        ),
        (
            &[("SIDEGATE_REDIS_URL", "rediss://r:6379/0"), ("SIDEGATE_REDIS_CA_FILE", &not_pem)],
            "holds no PEM certificate",
        ),
        (
            &[("SIDEGATE_METRICS_LISTEN", "127.0.0.1:4180")],
            "SIDEGATE_METRICS_LISTEN: `127.0.0.1:4180` is the public listener",
        ),
        (
            &[("SIDEGATE_METRICS_LISTEN", "nine")],
            "SIDEGATE_METRICS_LISTEN: `nine` is not address:port",
        ),
    ];
    for (extra, want) in cases {
        let e = errors(with(extra));
        assert!(e.iter().any(|m| m.contains(want)), "{want}: {e:?}");
    }
    let (c, _) = Config::from_vars(with(&[("SIDEGATE_METRICS_LISTEN", "127.0.0.1:9464")])).unwrap();
    assert_eq!(c.metrics_listen.map(|a| a.port()), Some(9464));
}

#[test]
fn redis_sentinel_and_cluster_are_configured_by_lists_and_mistakes_are_named() {
    use crate::store::RedisTarget;
    let cases: [(&[(&str, &str)], &str); 6] = [
        (
            &[("SIDEGATE_REDIS_SENTINELS", "s1:26379")],
            "SIDEGATE_REDIS_SENTINELS is set but SIDEGATE_REDIS_URL is not",
        ),
        (
            &[
                ("SIDEGATE_REDIS_URL", "redis://mymaster:6379/0"),
                ("SIDEGATE_REDIS_SENTINELS", "s1:26379"),
            ],
            "drop the port :6379",
        ),
        (
            &[
                ("SIDEGATE_REDIS_URL", "redis://mymaster/0"),
                ("SIDEGATE_REDIS_SENTINELS", "s1:26379,redis://:hunter2@s2"),
            ],
            "SIDEGATE_REDIS_SENTINELS: entry 2 is not host:port",
        ),
        (
            &[
                ("SIDEGATE_REDIS_URL", "redis://r:6379/0"),
                ("SIDEGATE_REDIS_CLUSTER_NODES", "n1:7000"),
            ],
            "SIDEGATE_REDIS_URL and SIDEGATE_REDIS_CLUSTER_NODES are both set",
        ),
        (
            &[
                ("SIDEGATE_REDIS_SENTINELS", "s1:26379"),
                ("SIDEGATE_REDIS_CLUSTER_NODES", "n1:7000"),
            ],
            "are both set; Redis is either watched by Sentinel or a cluster",
        ),
        (
            &[
                ("SIDEGATE_REDIS_CLUSTER_NODES", "n1:7000"),
                ("SIDEGATE_REDIS_WAIT_REPLICAS", "some"),
            ],
            "SIDEGATE_REDIS_WAIT_REPLICAS: a number of replicas",
        ),
    ];
    for (extra, want) in cases {
        let e = errors(with(extra));
        assert!(e.iter().any(|m| m.contains(want)), "{want}: {e:?}");
        assert!(!e.iter().any(|m| m.contains("hunter2")), "{e:?}");
    }
    let (c, _) = Config::from_vars(with(&[
        ("SIDEGATE_REDIS_URL", "redis://:pw@mymaster/0"),
        (
            "SIDEGATE_REDIS_SENTINELS",
            "10.0.0.1:26379, redis://:spw@10.0.0.2:26379",
        ),
    ]))
    .unwrap();
    let redis = c.redis.as_ref().unwrap();
    assert_eq!(redis.wait_replicas, 1, "failover-safe writes by default");
    assert!(
        matches!(&redis.target, RedisTarget::Sentinel { sentinels, .. } if sentinels.len() == 2)
    );
    let text = c.describe();
    assert!(!text.contains(":pw@") && !text.contains(":spw@"), "{text}");
    let (c, _) = Config::from_vars(with(&[
        ("SIDEGATE_REDIS_CLUSTER_NODES", "n1:7000,n2:7001"),
        ("SIDEGATE_REDIS_WAIT_REPLICAS", "0"),
    ]))
    .unwrap();
    let redis = c.redis.as_ref().unwrap();
    assert!(matches!(&redis.target, RedisTarget::Cluster(n) if n.len() == 2));
    assert_eq!(redis.wait_replicas, 0);
    let (c, _) = Config::from_vars(with(&[("SIDEGATE_REDIS_URL", "redis://r:6379/0")])).unwrap();
    assert_eq!(
        c.redis.unwrap().wait_replicas,
        0,
        "one server has no replicas to wait for"
    );
}
