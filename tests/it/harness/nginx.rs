//! A real nginx running `nginx-examples/sidegate.conf` with ports substituted, included by a
//! harness-owned `nginx.conf` (pid, logs and temp paths inside a temp dir).

use std::net::SocketAddr;
use std::process::Command;

use super::{example, free_port, program, write, Proc};

pub struct Nginx {
    pub port: u16,
    pub proc: Proc,
}

impl Nginx {
    /// Starts nginx with the example `file` (under `nginx-examples/`), pointing its sidegate
    /// upstream at `sidegate` and its app upstream at `app`.
    pub async fn start(file: &str, port: u16, sidegate: SocketAddr, app: SocketAddr) -> Nginx {
        Self::start_with(file, port, sidegate, &[("127.0.0.1:8080", app)]).await
    }

    /// Starts nginx with the example `file`, substituting each upstream address in `apps`.
    pub async fn start_with(
        file: &str,
        port: u16,
        sidegate: SocketAddr,
        apps: &[(&'static str, SocketAddr)],
    ) -> Nginx {
        let bin = program("nginx", "apt-get install -y nginx");
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        let mut subs = vec![
            ("127.0.0.1:4180", sidegate.to_string()),
            ("listen 80;", format!("listen 127.0.0.1:{port};")),
        ];
        subs.extend(apps.iter().map(|(from, to)| (*from, to.to_string())));
        let source =
            std::fs::read_to_string(super::repo().join("nginx-examples").join(file)).unwrap();
        if source.contains("/etc/nginx/snippets/") {
            for snippet in ["sidegate-server.conf", "sidegate-location.conf"] {
                let text = example(&format!("nginx-examples/snippets/{snippet}"), &[]);
                write(dir.path(), snippet, &text);
            }
            subs.push(("/etc/nginx/snippets/", format!("{d}/")));
        }
        if source.contains("https://auth.example.test") {
            subs.push((
                "https://auth.example.test",
                format!("http://auth.example.test:{port}"),
            ));
        }
        let site = example(&format!("nginx-examples/{file}"), &subs);
        // set_escape_uri (ingress-nginx's rendering) comes from Debian's set-misc module.
        let modules = if source.contains("set_escape_uri") {
            let dir = "/usr/lib/nginx/modules";
            assert!(
                std::path::Path::new(&format!("{dir}/ngx_http_set_misc_module.so")).is_file(),
                "nginx's set-misc module is missing: apt-get install -y libnginx-mod-http-set-misc (or run `make test`)"
            );
            format!("load_module {dir}/ndk_http_module.so;\nload_module {dir}/ngx_http_set_misc_module.so;\n")
        } else {
            String::new()
        };
        write(dir.path(), "site.conf", &site);
        let conf = format!(
            "{modules}daemon off;\nuser root;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log info;\n\
             events {{ worker_connections 512; }}\n\
             http {{\n  access_log {d}/access.log;\n  client_body_temp_path {d}/client;\n  proxy_temp_path {d}/proxy;\n\
               fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
               include {d}/site.conf;\n}}\n"
        );
        let conf_path = write(dir.path(), "nginx.conf", &conf);
        let mut cmd = Command::new(bin);
        cmd.arg("-e")
            .arg(format!("{d}/error.log"))
            .arg("-c")
            .arg(&conf_path)
            .arg("-p")
            .arg(dir.path());
        let mut proc = Proc::spawn("nginx", dir, cmd);
        proc.wait_until(super::STARTUP_LIMIT, || async move {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
        })
        .await;
        Nginx { port, proc }
    }

    pub fn pick_port() -> u16 {
        free_port()
    }
}
