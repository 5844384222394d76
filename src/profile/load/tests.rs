use super::*;
use crate::claims::ClaimPath;
use crate::profile::credential::Kind;
use crate::upstream::HeaderRule;
use serde_json::json;

fn defaults() -> Defaults {
    let rule = |n: &str, c: &[&str]| HeaderRule {
        name: HeaderName::from_bytes(n.as_bytes()).unwrap(),
        claims: c.iter().map(|c| ClaimPath::parse(c).unwrap()).collect(),
        separator: ",".into(),
    };
    Defaults {
        headers: vec![
            rule("X-Forwarded-User", &["preferred_username", "sub"]),
            rule("X-Forwarded-Email", &["email"]),
            rule("X-Forwarded-Groups", &["groups"]),
        ],
        groups_claim: ClaimPath::parse("groups").unwrap(),
        user_claims: vec![
            ClaimPath::parse("preferred_username").unwrap(),
            ClaimPath::parse("sub").unwrap(),
        ],
        email_claim: ClaimPath::parse("email").unwrap(),
        separator: ",".into(),
        issuer: "https://auth.example.test".into(),
        encoding: crate::upstream::Encoding::Utf8,
    }
}

fn load_text(toml: &str, vars: &[(&str, &str)]) -> Result<Profiles, Vec<String>> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("forever-token"), "file-token\n").unwrap();
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/src/token/rs256.pem"),
        dir.path().join("rs256.pem"),
    )
    .unwrap();
    let path = dir.path().join("apps.toml");
    std::fs::write(&path, toml).unwrap();
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect();
    load(Some(&path), &vars, &defaults())
}

#[test]
fn without_a_file_there_is_one_implicit_profile() {
    let p = load(None, &HashMap::new(), &defaults()).unwrap();
    let d = p.get(None).unwrap();
    assert_eq!(d.headers.len(), 3);
    assert!(d.credential.is_none());
    assert!(p.get(Some("x")).is_none());
    assert_eq!(p.jwks(), "{\"keys\":[]}");
}

const FULL: &str = r#"
[apps.duplicati]
allow_groups = ["admins"]
bypass = [{ exact = "/health" }, { prefix = "/static/" }, { regex = "^/api/v1/status$" }]
methods = ["get", "POST"]
credential = { type = "static", header = "Authorization", scheme = "Bearer", secret_env = "DUPLICATI_TOKEN" }
shims = [{ path = "/api/v1/auth/refresh", body = '{"AccessToken": null}' }]

[apps.duplicati-preauth]
credential = { type = "static", header = "Authentication", scheme = "PreAuth", secret_file = "forever-token" }

[apps.borg]
headers = { "X-Forwarded-Email" = false, "X-Forwarded-Groups" = false, "X-Borg-Email" = "email", "X-Borg-Full-Name" = { claim = "name" } }
[[apps.borg.mappings]]
header = "X-Borg-Role"
default = "viewer"
rules = [{ groups = ["admins"], value = "admin" }, { groups = ["staff"], value = "operator" }]

[apps.tisbackup]
allow_email_domains = ["example.test"]
allow_users = ["carol"]
credential = { type = "basic", user = "admin", password_env = "TIS_PASSWORD" }

[apps.jwt-app]
credential = { type = "jwt", algorithm = "RS256", key_file = "rs256.pem", audience = "jwt-app", lifetime = "2m", claims = { email = "email", roles = "realm_access.roles" } }

[apps.tokens]
credential = { type = "access_token" }
"#;

#[test]
fn a_full_file_compiles_every_part() {
    let p = load_text(
        FULL,
        &[("DUPLICATI_TOKEN", "env-token"), ("TIS_PASSWORD", "pw")],
    )
    .unwrap();
    let names: Vec<&str> = p.named().iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "borg",
            "duplicati",
            "duplicati-preauth",
            "jwt-app",
            "tisbackup",
            "tokens"
        ]
    );

    let d = p.get(Some("duplicati")).unwrap();
    assert_eq!(
        d.rules.methods.as_deref(),
        Some(["GET".to_owned(), "POST".to_owned()].as_slice())
    );
    assert!(
        d.rules.bypasses("/health")
            && d.rules.bypasses("/static/x.js")
            && d.rules.bypasses("/api/v1/status")
    );
    let Some(Kind::Static(v)) = d.credential.as_ref().map(|c| &c.kind) else {
        panic!()
    };
    assert_eq!(v.to_str().unwrap(), "Bearer env-token");
    assert_eq!(d.shims[0].status, 200);
    assert_eq!(d.shims[0].content_type, "application/json");

    let pre = p
        .get(Some("duplicati-preauth"))
        .unwrap()
        .credential
        .clone()
        .unwrap();
    assert_eq!(pre.header.as_str(), "authentication");
    let Kind::Static(v) = pre.kind else { panic!() };
    assert_eq!(v.to_str().unwrap(), "PreAuth file-token");

    let borg = p.get(Some("borg")).unwrap();
    let names: Vec<String> = borg
        .header_names()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        names,
        [
            "x-forwarded-user",
            "x-borg-email",
            "x-borg-full-name",
            "x-borg-role"
        ]
    );
    let admin = json!({"groups": ["staff", "admins"]});
    assert_eq!(borg.mappings[0].value(admin.as_object().unwrap()), "admin");

    let tis = p.get(Some("tisbackup")).unwrap();
    assert!(tis
        .rules
        .permits(
            "x",
            json!({"email": "bob@example.test"}).as_object().unwrap()
        )
        .is_ok());
    assert!(tis
        .rules
        .permits(
            "carol",
            json!({"email": "carol@partner.test"}).as_object().unwrap()
        )
        .is_ok());
    assert!(tis
        .rules
        .permits(
            "dave",
            json!({"email": "dave@partner.test"}).as_object().unwrap()
        )
        .is_err());

    let jwks: serde_json::Value = serde_json::from_str(p.jwks()).unwrap();
    assert_eq!(jwks["keys"][0]["kid"], "jwt-app-rs256");
    assert_eq!(p.tokens_needed(), (true, false));
    for claim in [
        "realm_access",
        "email",
        "groups",
        "name",
        "preferred_username",
        "sub",
    ] {
        assert!(
            p.needed_claims().iter().any(|c| c == claim),
            "{claim} not kept"
        );
    }
    let described = p.describe();
    assert!(
        !described.contains("env-token")
            && !described.contains("file-token")
            && !described.contains("pw\""),
        "{described}"
    );
    assert!(described.contains("app duplicati: headers [x-forwarded-user, x-forwarded-email, x-forwarded-groups, authorization]"), "{described}");
}

#[test]
fn every_bad_profile_is_reported_at_once() {
    let bad = r#"
[apps.unknown-field]
allow_group = ["typo"]

[apps.secret-in-clear]
credential = { type = "static", secret = "hunter2" }

[apps.missing-secret-file]
credential = { type = "static", secret_file = "nope.txt" }

[apps.missing-env]
credential = { type = "basic", user = "u", password_env = "NOT_SET" }

[apps.bad-regex]
bypass = [{ regex = "([unclosed" }]

[apps.bad-alg]
credential = { type = "jwt", algorithm = "none", secret_env = "X" }

[apps.bad-key]
credential = { type = "jwt", algorithm = "ES256", key_file = "rs256.pem" }

[apps.unreadable-key]
credential = { type = "jwt", algorithm = "EdDSA", key_file = "missing.pem" }

[apps.short-hmac]
credential = { type = "jwt", algorithm = "HS256", secret_env = "SHORT" }

[apps.unknown-type]
credential = { type = "magic" }

[apps.wrong-field]
credential = { type = "access_token", secret_env = "X" }

[apps.dup-header]
headers = { "X-Role" = "groups" }
mappings = [{ header = "X-Role", default = "viewer" }]

[apps.nginx]

[apps."Bad Name"]

[apps.bad-bypass]
bypass = [{ exact = "no-slash" }, { prefix = "/a", regex = "b" }]
"#;
    let problems = load_text(bad, &[("SHORT", "short"), ("X", "x")]).unwrap_err();
    let expect = [
        "apps.unknown-field: unknown field `allow_group`",
        "apps.secret-in-clear: unknown field `secret`",
        "apps.missing-secret-file.credential: secret_file: cannot read `nope.txt`",
        "apps.missing-env.credential: password_env: the environment variable NOT_SET is not set",
        "apps.bad-regex.bypass[0]: regex `([unclosed` is invalid",
        "apps.bad-alg.credential.algorithm: unknown algorithm `none`",
        "apps.bad-key.credential.key_file: `rs256.pem`: not a ES256 private key",
        "apps.unreadable-key.credential.key_file: cannot read `missing.pem`",
        "apps.short-hmac.credential: an HS256 secret needs at least 32 bytes",
        "apps.unknown-type.credential.type: unknown credential type `magic`",
        "apps.wrong-field.credential: `secret_env` does not apply to type = \"access_token\"",
        "apps.dup-header: header `x-role` is set twice",
        "apps.nginx: an app name is",
        "apps.Bad Name: an app name is",
        "apps.bad-bypass.bypass[0]: exact and prefix paths start with `/`",
        "apps.bad-bypass.bypass[1]: give exactly one of exact, prefix or regex",
    ];
    for e in expect {
        assert!(
            problems.iter().any(|p| p.starts_with(e)),
            "missing `{e}` in {problems:#?}"
        );
    }
    assert!(
        problems.iter().all(|p| !p.contains("hunter2")),
        "a secret was echoed"
    );
}

#[test]
fn file_level_problems() {
    assert!(load_text("not toml = = 1", &[]).unwrap_err()[0].contains("is not valid TOML"));
    assert!(load_text("[other]\n", &[]).unwrap_err()[0].contains("unknown top-level key `other`"));
    assert!(
        load_text("[apps.a]\n[apps.a]\n", &[]).unwrap_err()[0].contains("is not valid TOML"),
        "duplicate names"
    );
    let dir = tempfile::tempdir().unwrap();
    let missing = load(
        Some(&dir.path().join("absent.toml")),
        &HashMap::new(),
        &defaults(),
    )
    .unwrap_err();
    assert!(missing[0].starts_with("SIDEGATE_APPS_FILE: cannot read"));
}

#[test]
fn a_default_app_replaces_the_implicit_profile() {
    let p = load_text("[apps.default]\nallow_groups = [\"admins\"]\n", &[]).unwrap();
    assert_eq!(p.get(None).unwrap().rules.groups, ["admins"]);
    assert!(p.get(Some("default")).is_none());
}

#[test]
fn always_headers_are_answered_empty_and_checked_as_header_names() {
    let p = load_text(
        "[apps.borg]\nalways_headers = [\"X-Borg-All-Repositories-Role\", \"X-Remote-User\"]\n",
        &[],
    )
    .unwrap();
    let borg = p.get(Some("borg")).unwrap();
    let names: Vec<&str> = borg.always.iter().map(HeaderName::as_str).collect();
    assert_eq!(names, ["x-borg-all-repositories-role", "x-remote-user"]);
    let principal = crate::gate::Principal::new(
        "alice".into(),
        serde_json::Map::new(),
        crate::gate::Proof::Bearer,
        1,
        None,
    );
    let cookie = http::HeaderValue::from_static("");
    for answer in [
        crate::gate::answer::allowed(borg, &principal, None, None, cookie.clone()),
        crate::gate::answer::anonymous(borg, cookie.clone()),
    ] {
        for name in &names {
            assert_eq!(
                answer.get(*name).map(|v| v.as_bytes()),
                Some(&b""[..]),
                "{name}"
            );
        }
    }
    let errors = load_text("[apps.borg]\nalways_headers = [\"Bad Header\"]\n", &[]).unwrap_err();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("apps.borg.always_headers[0]")),
        "{errors:?}"
    );
}

#[test]
fn header_encoding_per_profile_with_the_global_default() {
    let p = load_text("[apps.a]\nheader_encoding = \"percent\"\n[apps.b]\n", &[]).unwrap();
    assert_eq!(
        p.get(Some("a")).unwrap().encoding,
        crate::upstream::Encoding::Percent
    );
    assert_eq!(
        p.get(Some("b")).unwrap().encoding,
        crate::upstream::Encoding::Utf8
    );
    let errors = load_text("[apps.a]\nheader_encoding = \"latin1\"\n", &[]).unwrap_err();
    assert!(
        errors.iter().any(|e| e.contains("apps.a.header_encoding")),
        "{errors:?}"
    );
}

#[test]
fn recheck_every_is_a_duration_per_profile() {
    let p = load_text("[apps.a]\nrecheck_every = \"5m\"\n[apps.b]\n", &[]).unwrap();
    assert_eq!(p.get(Some("a")).unwrap().recheck_every, Some(300));
    assert_eq!(p.get(Some("b")).unwrap().recheck_every, None);
    assert!(p.recheck_anywhere());
    assert!(p.describe().contains("re-checked at the IdP every 300s"));
    let none = load_text("[apps.b]\n", &[]).unwrap();
    assert!(!none.recheck_anywhere());
    for bad in ["0s", "soon", "500ms"] {
        let errors = load_text(&format!("[apps.a]\nrecheck_every = \"{bad}\"\n"), &[]).unwrap_err();
        assert!(
            errors.iter().any(|e| e.contains("apps.a.recheck_every")),
            "{bad}: {errors:?}"
        );
    }
}

#[test]
fn per_path_rules_most_specific_first_with_their_own_credentials() {
    let text = r#"
[apps.tools]
allow_groups = ["staff"]
bypass = [{ prefix = "/health" }]
credential = { type = "static", header = "X-App-Token", secret_env = "USER_TOKEN" }

[[apps.tools.paths]]
prefix = "/admin/"
allow_groups = ["admins"]
credential = { type = "basic", header = "Authorization", user = "root", password_env = "ROOT_PW" }

[[apps.tools.paths]]
prefix = "/Admin/Status/"
allow_users = ["carol"]
methods = ["GET"]
"#;
    let p = load_text(text, &[("USER_TOKEN", "u-token"), ("ROOT_PW", "pw")]).unwrap();
    let tools = p.get(Some("tools")).unwrap();
    let name = |uri: &str| {
        let v = tools.for_path(uri).unwrap();
        (
            v.rules.groups.clone(),
            v.rules.users.clone(),
            v.rules.methods.clone(),
        )
    };
    let staff = (vec!["staff".to_owned()], vec![], None);
    let admins = (vec!["admins".to_owned()], vec![], None);
    let status = (
        vec![],
        vec!["carol".to_owned()],
        Some(vec!["GET".to_owned()]),
    );
    for (uri, want) in [
        ("/", &staff),
        ("/administrator", &staff),
        ("/admin", &admins),
        ("/admin/", &admins),
        ("/ADMIN/x?y=1", &admins),
        ("/%61dmin/x", &admins),
        ("/admin/status", &status),
        ("/admin/status/x", &status),
        ("/admin/statusx", &admins),
    ] {
        assert_eq!(&name(uri), want, "{uri}");
    }
    for uri in [
        "/x/../admin/",
        "/x/..;/admin/",
        "/admin%2fx",
        "/x//admin",
        "/a\\b",
    ] {
        assert!(tools.for_path(uri).is_err(), "{uri} is ambiguous");
    }
    // Under /admin/ the path's credential; elsewhere (and under /admin/status/, which sets
    // none) the profile's. Every view answers both headers.
    let admin = tools.for_path("/admin/x").unwrap();
    assert_eq!(admin.credential.as_ref().unwrap().header, "authorization");
    let status = tools.for_path("/admin/status/").unwrap();
    assert_eq!(status.credential.as_ref().unwrap().header, "x-app-token");
    for view in [tools.as_ref(), admin, status] {
        for h in ["authorization", "x-app-token"] {
            let answered = view.header_names().iter().any(|n| n.as_str() == h)
                || view.always.iter().any(|n| n.as_str() == h);
            assert!(answered, "{h} is not answered under every path");
        }
        assert!(view.rules.bypasses("/health"), "bypass is the profile's");
    }
    let credentials: Vec<&str> = tools.all_credentials().map(|c| c.header.as_str()).collect();
    assert_eq!(credentials, ["x-app-token", "authorization"]);
    let described = p.describe();
    assert!(
        described.contains("under /admin/: groups [\"admins\"]")
            && described.contains("credential its own")
            && described.contains("under /admin/status/: groups []; users [\"carol\"]"),
        "{described}"
    );
}

#[test]
fn bad_per_path_rules_are_reported_where_they_are() {
    let text = r#"
[apps.tools]
[[apps.tools.paths]]
prefix = "admin"
[[apps.tools.paths]]
prefix = "/a/../b/"
[[apps.tools.paths]]
prefix = "/x/"
methods = []
[[apps.tools.paths]]
prefix = "/y/"
[[apps.tools.paths]]
prefix = "/Y/"
[[apps.tools.paths]]
prefix = "/z/"
credential = { type = "static", header = "X-T", secret_env = "MISSING_TOKEN" }
"#;
    let errors = load_text(text, &[]).unwrap_err();
    for at in [
        "apps.tools.paths[0].prefix",
        "apps.tools.paths[1].prefix",
        "apps.tools.paths[2].methods",
        "apps.tools.paths[4].prefix",
        "apps.tools.paths[5].credential",
    ] {
        assert!(
            errors.iter().any(|e| e.starts_with(at)),
            "{at}: {errors:#?}"
        );
    }
    let unknown = load_text(
        "[apps.t]\n[[apps.t.paths]]\nprefix = \"/a/\"\nheaders = {}\n",
        &[],
    );
    assert!(unknown.unwrap_err().iter().any(|e| e.contains("headers")));
}
