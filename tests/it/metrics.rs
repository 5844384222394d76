//! `/metrics` on its own listener, scraped by a real Prometheus running
//! `deploy/prometheus.yml`: after a login, an allowed and a refused check, the series are
//! read back through Prometheus's HTTP API; `promtool check metrics` accepts the output; the
//! public listener has no `/metrics`; the Grafana dashboard only names exported series.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::browser::{location, Browser};
use crate::harness::stack::{stack, Options, Service};
use crate::harness::{example, free_port, program, write, Proc};

/// A real Prometheus scraping `target` every second, with the shipped scrape config.
fn prometheus(target: &str) -> (Proc, u16) {
    let bin = program("prometheus", "apt-get install -y prometheus");
    let dir = tempfile::tempdir().unwrap();
    let conf = example(
        "deploy/prometheus.yml",
        &[
            ("scrape_interval: 15s", "scrape_interval: 1s".into()),
            ("sidegate:9464", target.to_owned()),
        ],
    );
    let path = write(dir.path(), "prometheus.yml", &conf);
    let port = free_port();
    let mut cmd = Command::new(bin);
    cmd.arg(format!("--config.file={}", path.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"));
    (Proc::spawn("prometheus", dir, cmd), port)
}

/// The value of `query` in Prometheus, once it has one of at least `want`.
async fn eventually(prom: u16, query: &str, want: f64) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut last = Value::Null;
    while Instant::now() < deadline {
        let answer = reqwest::Client::new()
            .get(format!("http://127.0.0.1:{prom}/api/v1/query"))
            .query(&[("query", query)])
            .send()
            .await;
        if let Ok(r) = answer {
            last = r.json().await.unwrap_or(Value::Null);
            let value = last["data"]["result"][0]["value"][1]
                .as_str()
                .and_then(|v| v.parse::<f64>().ok());
            if let Some(v) = value.filter(|v| *v >= want) {
                return v;
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    panic!("{query}: no value >= {want} in Prometheus: {last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_reads_decisions_logins_and_latency() {
    let metrics_port = free_port();
    let listen: &'static str = Box::leak(format!("127.0.0.1:{metrics_port}").into_boxed_str());
    let s = stack(Options {
        vars: vec![("SIDEGATE_METRICS_LISTEN", listen)],
        ..Options::default()
    })
    .await;
    let Service::InProcess(sg) = &s.sidegate else {
        unreachable!()
    };
    let (_prom, prom) = prometheus(listen);

    // A refused API call, a navigation sent to log in, a login, an allowed check.
    let b = Browser::new(s.port);
    let r = b.client.get(s.app("/api")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = b.navigate(&s.app("/x")).await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let r = b.navigate(&location(&r)).await;
    let callback = b
        .login_at_idp(&location(&r), "alice", &s.auth("/callback"))
        .await;
    assert_eq!(b.navigate(&callback).await.status(), StatusCode::FOUND);
    assert_eq!(b.navigate(&s.app("/x")).await.status(), StatusCode::OK);

    let decisions = |outcome: &str, reason: &str| {
        format!(
            r#"sidegate_auth_decisions_total{{app="default",outcome="{outcome}",reason="{reason}"}}"#
        )
    };
    eventually(prom, &decisions("allow", "session"), 1.0).await;
    eventually(prom, &decisions("unauthorized", "no_session"), 1.0).await;
    eventually(prom, &decisions("login", "no_session"), 1.0).await;
    eventually(prom, r#"sidegate_logins_total{result="success"}"#, 1.0).await;
    eventually(prom, "sidegate_auth_duration_seconds_count", 3.0).await;
    eventually(prom, r#"sidegate_build_info{version!="",commit!=""}"#, 1.0).await;
    for endpoint in ["discovery", "keys", "token"] {
        let q = format!(r#"sidegate_idp_requests_total{{endpoint="{endpoint}",result="ok"}}"#);
        eventually(prom, &q, 1.0).await;
    }
    eventually(
        prom,
        r#"sidegate_store_operations_total{op="create",result="ok"}"#,
        1.0,
    )
    .await;
    eventually(
        prom,
        r#"sidegate_store_operations_total{op="claim",result="ok"}"#,
        1.0,
    )
    .await;
    eventually(
        prom,
        r#"sidegate_store_operations_total{op="read",result="ok"}"#,
        1.0,
    )
    .await;
    eventually(
        prom,
        r#"sidegate_store_operation_duration_seconds_count{op="create"}"#,
        1.0,
    )
    .await;

    // The exposition passes promtool's lint, and has no /metrics on the public listener.
    let text = reqwest::get(format!("http://{listen}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!text.contains("alice"), "a user in a label:\n{text}");
    let mut check = Command::new(program("promtool", "apt-get install -y prometheus"))
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    check
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = check.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let public = reqwest::get(format!("http://{}/metrics", sg.addr))
        .await
        .unwrap();
    assert_eq!(public.status(), StatusCode::NOT_FOUND);

    // Every series the dashboard plots is one sidegate exports.
    let dashboard: Value =
        serde_json::from_str(&example("deploy/grafana-dashboard.json", &[])).unwrap();
    let re = regex::Regex::new(r"sidegate_[a-z_]+").unwrap();
    let mut plotted = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            for name in re.find_iter(expr) {
                let base = name
                    .as_str()
                    .trim_end_matches("_bucket")
                    .trim_end_matches("_count")
                    .trim_end_matches("_sum");
                assert!(
                    text.contains(&format!("# TYPE {base} "))
                        || text.contains(&format!("# TYPE {} ", base.trim_end_matches("_total"))),
                    "the dashboard plots {base}, which sidegate does not export"
                );
                plotted += 1;
            }
        }
    }
    assert!(plotted >= 5);
}
