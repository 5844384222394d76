//! A whole deployment for one test: the OpenID Provider, Redis, the echo app, sidegate and
//! one real proxy in front, all on loopback, reached as `*.example.test` on one port.

use std::any::Any;
use std::net::SocketAddr;

use super::demo_app::DemoApp;
use super::sidegate::{self, SidegateProcess};
use super::{free_port, labels, Caddy, Echo, Idp, Nginx, RedisServer, Sidegate, Traefik};

/// Which proxy, with which example configuration.
#[derive(Clone, Copy, Debug)]
pub enum ProxyKind {
    /// nginx with a file from `nginx-examples/`.
    Nginx(&'static str),
    /// Traefik with `traefik-examples/dynamic.yml`.
    Traefik,
    /// Traefik with `traefik-examples/docker-compose.labels.yml` turned into file config.
    TraefikLabels,
    /// Caddy with `caddy-examples/Caddyfile`.
    Caddy,
}

impl ProxyKind {
    /// Whether the example configuration also protects `app2.example.test`.
    pub fn has_app2(self) -> bool {
        !matches!(
            self,
            ProxyKind::Nginx("sidegate.conf") | ProxyKind::TraefikLabels
        )
    }
}

/// sidegate in-process, or as a separate process (to read its log).
pub enum Service {
    InProcess(Sidegate),
    Process(SidegateProcess),
}

pub struct Options {
    pub proxy: ProxyKind,
    pub memory_store: bool,
    pub subprocess: bool,
    /// Put the demo app (a who-am-I page) behind the proxy instead of the echo app.
    pub demo_app: bool,
    pub vars: Vec<(&'static str, &'static str)>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            proxy: ProxyKind::Nginx("sidegate.conf"),
            memory_store: false,
            subprocess: false,
            demo_app: false,
            vars: Vec::new(),
        }
    }
}

pub struct Stack {
    pub port: u16,
    pub proxy: ProxyKind,
    pub idp: Idp,
    pub redis: RedisServer,
    pub echo: Echo,
    pub sidegate: Service,
    _proxy: Box<dyn Any + Send>,
    _demo: Option<DemoApp>,
}

impl Stack {
    pub fn auth(&self, path: &str) -> String {
        format!("http://auth.example.test:{}{path}", self.port)
    }
    pub fn app(&self, path: &str) -> String {
        format!("http://app.example.test:{}{path}", self.port)
    }
    pub fn app2(&self, path: &str) -> String {
        format!("http://app2.example.test:{}{path}", self.port)
    }

    /// A client that reaches `app.example.test` through this stack's proxy, connecting from
    /// `from` (a loopback address: the proxy sees it as the client's), following no redirect.
    pub fn client_from(&self, from: [u8; 4]) -> reqwest::Client {
        reqwest::Client::builder()
            .resolve(
                "app.example.test",
                SocketAddr::from(([127, 0, 0, 1], self.port)),
            )
            .local_address(std::net::IpAddr::from(from))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    /// [`client_from`](Self::client_from) 127.0.0.1.
    pub fn client(&self) -> reqwest::Client {
        self.client_from([127, 0, 0, 1])
    }
}

pub async fn stack(o: Options) -> Stack {
    let port = free_port();
    let public = format!("http://auth.example.test:{port}");
    let idp = Idp::start_client(
        free_port(),
        serde_json::json!({
            "redirect_uris": [format!("{public}/callback")],
            "post_logout_redirect_uris": [format!("{public}/logged-out")],
        }),
        &[],
    )
    .await;
    let redis = RedisServer::start().await;
    let echo = Echo::start().await;
    let redis_url = (!o.memory_store).then(|| redis.url());
    let mut vars = sidegate::vars(&public, &idp.issuer(), redis_url.as_deref());
    vars.extend(
        o.vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let (service, addr) = if o.subprocess {
        let p = SidegateProcess::spawn(vars).await;
        let addr = p.addr;
        (Service::Process(p), addr)
    } else {
        let sg = Sidegate::start(vars).await;
        sg.wait_ready().await;
        let addr = sg.addr;
        (Service::InProcess(sg), addr)
    };
    let demo = match o.demo_app {
        true => Some(DemoApp::start(&format!("{public}/logout")).await),
        false => None,
    };
    let upstream = demo.as_ref().map_or(echo.addr, |d| d.addr);
    let proxy = start_proxy(o.proxy, port, addr, upstream).await;
    Stack {
        port,
        proxy: o.proxy,
        idp,
        redis,
        echo,
        sidegate: service,
        _proxy: proxy,
        _demo: demo,
    }
}

async fn start_proxy(
    kind: ProxyKind,
    port: u16,
    sidegate: SocketAddr,
    app: SocketAddr,
) -> Box<dyn Any + Send> {
    match kind {
        ProxyKind::Nginx(file) => Box::new(Nginx::start(file, port, sidegate, app).await),
        ProxyKind::Traefik => Box::new(Traefik::start(port, sidegate, app).await),
        ProxyKind::TraefikLabels => {
            let dynamic = labels::to_file_provider(
                "traefik-examples/docker-compose.labels.yml",
                &[("sidegate", sidegate), ("app", app)],
            );
            Box::new(Traefik::start_dynamic(port, &dynamic).await)
        }
        ProxyKind::Caddy => Box::new(Caddy::start(port, sidegate, app).await),
    }
}
