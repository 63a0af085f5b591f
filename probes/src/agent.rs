//! `probe agent`: schedules the configured tests (jittered, one heavy test at a time, within a
//! daily data budget), caches results in the metrics registry and serves `/metrics`,
//! `/-/healthy` and `/-/reload`; SIGHUP reloads, SIGTERM/Ctrl-C shut down gracefully.

use std::collections::HashSet;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use rand::Rng;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::config::{self, Config, ConfigError, Target, TestConfig};
use crate::metrics::{AgentInfo, Metrics};
use crate::probers::{prober_for, ProbeContext, TestKind};
use crate::remote_write::RemoteWriter;
use crate::runner::{self, unix_now, RunResult};
use crate::serve::{PlainListener, TlsListener};

/// How long a shutdown waits for the remote-write receiver to take the queued samples; within
/// the 5 s graceful-shutdown deadline of [`run`].
const REMOTE_WRITE_FLUSH: Duration = Duration::from_secs(4);

/// Whether `s` looks like a bcrypt hash (`$2a$`, `$2b$` or `$2y$`, 60 characters).
pub fn is_bcrypt_hash(s: &str) -> bool {
    s.len() == 60 && (s.starts_with("$2a$") || s.starts_with("$2b$") || s.starts_with("$2y$"))
}

/// Agent failures that stop the process.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Could not bind the metrics listener.
    #[error("cannot listen on {addr} (agent.listen): {source}")]
    Bind {
        /// Address.
        addr: SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
    /// TLS setup failed.
    #[error("web TLS: {0}")]
    Tls(#[from] crate::net::TlsFileError),
    /// Serving failed.
    #[error("serving /metrics: {0}")]
    Io(#[from] std::io::Error),
}

#[derive(Debug, Default)]
struct Budget {
    day: i64,
    used: u64,
}

/// Shared agent state.
#[derive(Debug)]
pub struct AgentState {
    /// Metrics registry and result cache.
    pub metrics: Metrics,
    path: PathBuf,
    current: Mutex<Arc<Config>>,
    jobs: Mutex<JoinSet<()>>,
    heavy: tokio::sync::RwLock<()>,
    budget: Mutex<Budget>,
    last_error: Mutex<Option<String>>,
    auth_ok: Mutex<HashSet<String>>,
    remote_write: Mutex<Option<Arc<RemoteWriter>>>,
}

fn today() -> i64 {
    (unix_now() / 86400.0).floor() as i64
}

fn jittered(base: Duration, jitter: Duration) -> Duration {
    let j = jitter.as_secs_f64();
    let off = if j > 0.0 {
        rand::rng().random_range(-j..=j)
    } else {
        0.0
    };
    Duration::from_secs_f64((base.as_secs_f64() + off).max(1.0))
}

impl AgentState {
    fn new(cfg: Config) -> Arc<Self> {
        let st = Arc::new(AgentState {
            metrics: Metrics::new(),
            path: cfg.path.clone(),
            current: Mutex::new(Arc::new(cfg.clone())),
            jobs: Mutex::new(JoinSet::new()),
            heavy: tokio::sync::RwLock::new(()),
            budget: Mutex::new(Budget {
                day: today(),
                used: 0,
            }),
            last_error: Mutex::new(None),
            auth_ok: Mutex::new(HashSet::new()),
            remote_write: Mutex::new(None),
        });
        st.apply(cfg, &[]);
        st
    }

    /// The running configuration.
    pub fn config(&self) -> Arc<Config> {
        self.current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Bytes left in today's budget.
    pub fn budget_remaining(&self) -> u64 {
        let limit = self.config().agent.daily_budget_bytes;
        let mut b = self.budget.lock().unwrap_or_else(|p| p.into_inner());
        let d = today();
        if b.day != d {
            *b = Budget { day: d, used: 0 };
        }
        limit.saturating_sub(b.used)
    }

    fn spend(&self, bytes: u64) {
        let mut b = self.budget.lock().unwrap_or_else(|p| p.into_inner());
        b.used = b.used.saturating_add(bytes);
    }

    fn apply(self: &Arc<Self>, cfg: Config, old_targets: &[String]) {
        for name in old_targets {
            if !cfg.targets.iter().any(|t| &t.name == name) {
                self.metrics.forget_target(name);
            }
        }
        let a = &cfg.agent;
        self.metrics.set_agent_info(AgentInfo {
            region: a.region.clone(),
            site: a.site.clone(),
            latitude: a.latitude.to_string(),
            longitude: a.longitude.to_string(),
            isp: a.isp.clone(),
            version: env!("CARGO_PKG_VERSION").into(),
        });
        self.metrics.set_reload(true, unix_now());
        {
            let mut rw = self.remote_write.lock().unwrap_or_else(|p| p.into_inner());
            match (&cfg.remote_write, rw.as_ref()) {
                (Some(c), Some(w)) => w.set_config(c.clone()),
                (Some(c), None) => {
                    *rw = Some(RemoteWriter::start(c.clone(), self.metrics.remote_write()))
                }
                (None, Some(_)) => {
                    // Section removed by a reload: flush in the background, then stop.
                    let w = rw.take().expect("matched Some");
                    tokio::spawn(async move { w.shutdown(REMOTE_WRITE_FLUSH).await });
                }
                (None, None) => {}
            }
        }
        let cfg = Arc::new(cfg);
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = cfg.clone();
        self.metrics.set_budget_remaining(self.budget_remaining());
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        jobs.abort_all();
        *jobs = JoinSet::new();
        for target in &cfg.targets {
            for test in &target.tests {
                let tc = cfg.tests[test].clone();
                jobs.spawn(job(self.clone(), target.clone(), *test, tc));
            }
        }
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = None;
        self.auth_ok
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// Re-read the configuration file; on failure the running configuration stays.
    pub fn reload(self: &Arc<Self>) -> Result<(), String> {
        match config::load(&self.path) {
            Ok(cfg) => {
                let old: Vec<String> = self
                    .config()
                    .targets
                    .iter()
                    .map(|t| t.name.clone())
                    .collect();
                if cfg.agent.listen != self.config().agent.listen {
                    tracing::warn!(
                        "agent.listen changed; the new address takes effect after a restart"
                    );
                }
                self.apply(cfg, &old);
                tracing::info!(path = %self.path.display(), "configuration reloaded");
                Ok(())
            }
            Err(e) => {
                self.metrics.set_reload(false, unix_now());
                let msg = e.to_string();
                tracing::error!("reload failed, keeping the running configuration: {msg}");
                *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(msg.clone());
                Err(msg)
            }
        }
    }

    /// Run one test now (scheduler entry point; also used by tests).
    pub async fn run_once(&self, target: &Target, test: TestKind, tc: &TestConfig) -> RunResult {
        // Heavy tests take the lock exclusively; light ones share it, so idle latency is never
        // measured while a download or upload fills the link.
        let (_w, _r);
        if test.is_heavy() {
            _w = Some(self.heavy.write().await);
            _r = None;
        } else {
            _r = Some(self.heavy.read().await);
            _w = None;
        }
        let remaining = self.budget_remaining();
        let res = if remaining < tc.max_bytes {
            RunResult::budget_exhausted(&target.name, test, remaining, tc.max_bytes)
        } else {
            let mut settings = tc.settings.clone();
            settings.udp_port = target.udp_port;
            let ctx = ProbeContext {
                target: target.name.clone(),
                endpoints: target.endpoints.clone(),
                tls: target.tls.clone(),
                resolver: self.config().agent.resolver.clone(),
                settings,
                byte_cap: tc.max_bytes,
                bytes_used: Default::default(),
            };
            runner::run(prober_for(test), &ctx, tc.timeout).await
        };
        self.spend(res.bytes_used);
        self.metrics.record(&res);
        self.metrics.set_budget_remaining(self.budget_remaining());
        let rw = self
            .remote_write
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(w) = rw {
            w.enqueue_run(&self.metrics.encode_text(), &res);
        }
        res
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        let users = self.config().web.basic_auth_users.clone();
        if users.is_empty() {
            return true;
        }
        let Some(v) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return false;
        };
        if self
            .auth_ok
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(v)
        {
            return true;
        }
        let Some(b64) = v.strip_prefix("Basic ") else {
            return false;
        };
        let Some(raw) = base64_decode(b64.trim()) else {
            return false;
        };
        let Ok(text) = String::from_utf8(raw) else {
            return false;
        };
        let Some((user, pass)) = text.split_once(':') else {
            return false;
        };
        let ok = users
            .get(user)
            .is_some_and(|h| bcrypt::verify(pass, h).unwrap_or(false));
        if ok {
            // bcrypt is deliberately slow; remember verified headers (bounded) so each scrape
            // does not pay for it.
            let mut cache = self.auth_ok.lock().unwrap_or_else(|p| p.into_inner());
            if cache.len() >= 16 {
                cache.clear();
            }
            cache.insert(v.to_string());
        }
        ok
    }
}

/// Decode standard base64 (with or without padding).
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes().take_while(|&c| c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

async fn job(state: Arc<AgentState>, target: Target, test: TestKind, tc: TestConfig) {
    let j = tc.jitter.as_secs_f64();
    let mut delay = Duration::from_secs_f64(if j > 0.0 {
        rand::rng().random_range(0.0..=j)
    } else {
        0.0
    });
    loop {
        tokio::time::sleep(delay).await;
        state.run_once(&target, test, &tc).await;
        delay = jittered(tc.interval, tc.jitter);
    }
}

fn unauthorized() -> Response {
    let mut r = (StatusCode::UNAUTHORIZED, "Unauthorized\n").into_response();
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Basic realm=\"probe\""),
    );
    r
}

async fn metrics(State(st): State<Arc<AgentState>>, headers: HeaderMap) -> Response {
    if !st.authorized(&headers) {
        return unauthorized();
    }
    st.metrics.set_budget_remaining(st.budget_remaining());
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if accept.contains("application/openmetrics-text") {
        (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            st.metrics.encode_openmetrics(),
        )
            .into_response()
    } else {
        (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            st.metrics.encode_text(),
        )
            .into_response()
    }
}

async fn healthy(State(st): State<Arc<AgentState>>, headers: HeaderMap) -> Response {
    if !st.authorized(&headers) {
        return unauthorized();
    }
    (StatusCode::OK, "Healthy\n").into_response()
}

async fn reload(State(st): State<Arc<AgentState>>, headers: HeaderMap) -> Response {
    if !st.authorized(&headers) {
        return unauthorized();
    }
    match st.reload() {
        Ok(()) => (StatusCode::OK, "configuration reloaded\n").into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("reload failed; still running the previous configuration:\n{e}\n"),
        )
            .into_response(),
    }
}

async fn index(State(st): State<Arc<AgentState>>) -> Response {
    let last = st
        .last_error
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let mut s = String::from("probe agent: /metrics /-/healthy /-/reload (POST)\n");
    if let Some(e) = last {
        s.push_str("\nlast reload failed:\n");
        s.push_str(&e);
        s.push('\n');
    }
    s.into_response()
}

/// The exporter's router.
pub fn app(state: Arc<AgentState>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/metrics", get(metrics))
        .route("/-/healthy", get(healthy).head(healthy))
        .route("/-/reload", axum::routing::post(reload).put(reload))
        .with_state(state)
}

/// A started agent.
#[derive(Debug)]
pub struct RunningAgent {
    /// Where `/metrics` listens.
    pub addr: SocketAddr,
    /// Shared state.
    pub state: Arc<AgentState>,
    server: tokio::task::JoinHandle<Result<(), std::io::Error>>,
}

impl RunningAgent {
    /// Wait for the server to finish (after the shutdown future resolved).
    pub async fn wait(self) -> Result<(), AgentError> {
        let r = self
            .server
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        self.state
            .jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .abort_all();
        let rw = self
            .state
            .remote_write
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(w) = rw {
            w.shutdown(REMOTE_WRITE_FLUSH).await;
        }
        r.map_err(AgentError::Io)
    }
}

/// Load `path`, bind the exporter and start the scheduler.
pub async fn start(
    path: &Path,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<RunningAgent, AgentError> {
    let cfg = config::load(path)?;
    start_with(cfg, shutdown).await
}

/// Start from an already validated configuration.
pub async fn start_with(
    cfg: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<RunningAgent, AgentError> {
    crate::net::install_crypto_provider();
    let listen = cfg.agent.listen;
    let tls = match &cfg.web.tls {
        Some((c, k)) => Some(crate::net::server_tls_config(c, k)?),
        None => None,
    };
    let tcp = TcpListener::bind(listen)
        .await
        .map_err(|source| AgentError::Bind {
            addr: listen,
            source,
        })?;
    let addr = tcp.local_addr()?;
    let state = AgentState::new(cfg);
    let router = app(state.clone());
    let server = match tls {
        Some(t) => {
            let l = TlsListener::new(tcp, t)?;
            tokio::spawn(async move {
                axum::serve(l, router)
                    .with_graceful_shutdown(shutdown)
                    .await
            })
        }
        None => {
            let l = PlainListener(tcp);
            tokio::spawn(async move {
                axum::serve(l, router)
                    .with_graceful_shutdown(shutdown)
                    .await
            })
        }
    };
    tracing::info!(%addr, "agent listening");
    Ok(RunningAgent {
        addr,
        state,
        server,
    })
}

/// Run the agent until SIGTERM/Ctrl-C; SIGHUP reloads the configuration.
/// `on_listen` is told the bound `/metrics` address (scripts use it with port 0).
pub async fn run(path: &Path, on_listen: impl FnOnce(SocketAddr)) -> Result<(), AgentError> {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let agent = start(path, async move {
        let _ = rx.await;
    })
    .await?;
    on_listen(agent.addr);
    let state = agent.state.clone();
    #[cfg(unix)]
    let sighup = tokio::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            return;
        };
        while hup.recv().await.is_some() {
            let _ = state.reload();
        }
    });
    shutdown_signal().await;
    tracing::info!("shutting down");
    let _ = tx.send(());
    #[cfg(unix)]
    sighup.abort();
    // Give in-flight scrapes a few seconds, then stop regardless.
    match tokio::time::timeout(Duration::from_secs(5), agent.wait()).await {
        Ok(r) => r,
        Err(_) => Ok(()),
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_and_bcrypt_shape() {
        assert_eq!(base64_decode("dXNlcjpwYXNz").unwrap(), b"user:pass");
        assert_eq!(base64_decode("YQ==").unwrap(), b"a");
        assert!(base64_decode("a b").is_none());
        let h = bcrypt::hash("pass", 4).unwrap();
        assert!(is_bcrypt_hash(&h), "{h}");
        assert!(!is_bcrypt_hash("secret"));
    }
}
