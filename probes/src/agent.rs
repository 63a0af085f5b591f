//! `probe agent`: schedules the configured tests (jittered, one heavy test at a time, within a
//! daily data budget), caches results in the metrics store and serves `/metrics`,
//! `/-/healthy` and, when `web.enable_lifecycle` is set, `POST /-/reload`; SIGHUP reloads,
//! SIGTERM/Ctrl-C shut down gracefully. With `web.basic_auth_users` every path needs
//! credentials; no response carries configuration text.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use rand::Rng;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::auth::{BasicAuth, Verdict};
use crate::config::{self, Config, ConfigError, Target, TestConfig};
use crate::listener::{body_too_large, HttpListener};
use crate::metrics::{AgentInfo, Metrics};
use crate::probers::{prober_for, ProbeContext, TestKind};
use crate::remote_write::RemoteWriter;
use crate::runner::{self, unix_now, RunResult};

/// How long a shutdown waits for the remote-write receiver to take the queued samples; within
/// the 5 s graceful-shutdown deadline of [`run`].
const REMOTE_WRITE_FLUSH: Duration = Duration::from_secs(4);

/// Largest request body the agent accepts (its endpoints take none).
pub const MAX_REQUEST_BODY_BYTES: u64 = 64 << 10;

/// Agent failures that stop the process.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Could not bind the metrics listener.
    #[error("cannot listen on {addr} (agent.listen)")]
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
    /// Redacted summary of the last failed reload (keys and lines only).
    last_error: Mutex<Option<String>>,
    auth: Mutex<Option<Arc<BasicAuth>>>,
    remote_write: Mutex<Option<Arc<RemoteWriter>>>,
    /// Tests in progress; see [`InProgress`].
    in_progress: Mutex<usize>,
}

/// One test in progress. The first of overlapping tests maps the executable's code in before
/// it starts, so no page fault of the agent's own lands in a timed phase; the last to end (also
/// when a reload aborts it) drops the agent's mappings of the code again, so between tests the
/// agent keeps only the code it runs while idle (crate::memory; issue 15). The count is
/// changed and the advice given under one lock, so a test starting as another ends always
/// finds the code mapped.
struct InProgress<'a>(&'a Mutex<usize>);

impl<'a> InProgress<'a> {
    fn start(count: &'a Mutex<usize>) -> Self {
        let mut n = count.lock().unwrap_or_else(|p| p.into_inner());
        if *n == 0 {
            crate::memory::map_code();
        }
        *n += 1;
        InProgress(count)
    }
}

impl Drop for InProgress<'_> {
    fn drop(&mut self) {
        let mut n = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *n -= 1;
        if *n == 0 {
            crate::memory::release_code();
        }
    }
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

/// Mean gap between two tests of one ndt7 target on M-Lab's platform, seconds (6 h).
pub const MLAB_MEAN_GAP_S: f64 = 21_600.0;
/// Shortest and longest gap, seconds (36 min, 15 h).
pub const MLAB_GAP_RANGE_S: (f64, f64) = (2_160.0, 54_000.0);

/// The gap before the next test of an M-Lab ndt7 target. M-Lab's ndt7 specification asks
/// non-interactive clients to draw it from an exponential distribution with a 6 h mean, clamped
/// to 36 min … 15 h, so that unattended fleets neither overload the shared platform nor test in
/// step; the target's `[tests.*] interval` and `jitter` do not apply to it.
pub fn mlab_gap() -> Duration {
    // 1 − U lies in (0, 1], so the logarithm is finite.
    let u: f64 = 1.0 - rand::rng().random::<f64>();
    let t = -u.ln() * MLAB_MEAN_GAP_S;
    Duration::from_secs_f64(t.clamp(MLAB_GAP_RANGE_S.0, MLAB_GAP_RANGE_S.1))
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
            auth: Mutex::new(None),
            remote_write: Mutex::new(None),
            in_progress: Mutex::new(0),
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

    /// Drop the agent's mappings of code run once (start-up, a reload's config parsing) unless
    /// a test is in progress (which keeps the code mapped until it ends; [`InProgress`]).
    fn release_code_if_idle(&self) {
        let n = self.in_progress.lock().unwrap_or_else(|p| p.into_inner());
        if *n == 0 {
            crate::memory::release_code();
        }
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
        self.metrics
            .set_target_scopes(cfg.targets.iter().map(|t| (t.name.clone(), t.scope)));
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
        *self.auth.lock().unwrap_or_else(|p| p.into_inner()) =
            BasicAuth::new(&cfg.web.basic_auth_users);
    }

    /// Re-read the configuration file; on failure the running configuration stays.
    pub fn reload(self: &Arc<Self>) -> Result<(), ConfigError> {
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
                self.release_code_if_idle();
                Ok(())
            }
            Err(e) => {
                self.metrics.set_reload(false, unix_now());
                tracing::error!("reload failed, keeping the running configuration: {e}");
                *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.redacted());
                self.release_code_if_idle();
                Err(e)
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
        let _in_progress = InProgress::start(&self.in_progress);
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
            match prober_for(test, target.endpoints.kind) {
                Some(prober) => runner::run(prober, &ctx, tc.timeout).await,
                // Validation refuses such targets; a run reports it instead of panicking.
                None => RunResult::failed(
                    &target.name,
                    test,
                    crate::reason::ProbeError::new(
                        crate::reason::FailureReason::Protocol,
                        format!(
                            "no {test} prober for {} targets",
                            target.endpoints.kind.as_str()
                        ),
                    ),
                ),
            }
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
            w.enqueue_run(self.metrics.run_series(&res), &res);
        }
        res
    }

    fn auth(&self) -> Option<Arc<BasicAuth>> {
        self.auth.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
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
        // The run's buffers, connections and TLS state are freed by now; without this the
        // pages stay resident in malloc's arenas until the next run (crate::memory).
        crate::memory::release_free_memory();
        delay = if target.endpoints.is_mlab_platform() {
            mlab_gap()
        } else {
            jittered(tc.interval, tc.jitter)
        };
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

/// Every request, matched or not, passes here first: the body cap, then basic auth.
async fn guard(State(st): State<Arc<AgentState>>, req: Request, next: Next) -> Response {
    if body_too_large(req.headers(), MAX_REQUEST_BODY_BYTES) {
        let mut r = (
            StatusCode::PAYLOAD_TOO_LARGE,
            "the agent's endpoints take no request body\n",
        )
            .into_response();
        r.headers_mut().insert(
            header::CONNECTION,
            header::HeaderValue::from_static("close"),
        );
        return r;
    }
    if let Some(auth) = st.auth() {
        let value = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        match auth.check(value).await {
            Verdict::Allowed => {}
            Verdict::Denied => return unauthorized(),
            Verdict::Busy => {
                let mut r = (
                    StatusCode::TOO_MANY_REQUESTS,
                    "too many authentication attempts in progress, retry later\n",
                )
                    .into_response();
                r.headers_mut()
                    .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
                return r;
            }
        }
    }
    next.run(req).await
}

async fn metrics(State(st): State<Arc<AgentState>>, headers: HeaderMap) -> Response {
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

async fn healthy() -> Response {
    (StatusCode::OK, "Healthy\n").into_response()
}

/// Content types a cross-origin HTML form (or a "simple" cross-origin request) can send; a
/// lifecycle request with one of them could come from any web page the operator visits.
const FORM_CONTENT_TYPES: [&str; 3] = [
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "text/plain",
];

async fn reload(State(st): State<Arc<AgentState>>, headers: HeaderMap) -> Response {
    if !st.config().web.enable_lifecycle {
        return (
            StatusCode::FORBIDDEN,
            "lifecycle endpoints are disabled: set web.enable_lifecycle = true, or send SIGHUP\n",
        )
            .into_response();
    }
    // Browsers send Origin with every cross-origin POST (forms and fetch alike); curl and
    // Prometheus tooling do not.
    if headers.contains_key(header::ORIGIN) {
        return (
            StatusCode::FORBIDDEN,
            "cross-origin lifecycle requests are refused\n",
        )
            .into_response();
    }
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if FORM_CONTENT_TYPES.iter().any(|t| ctype.starts_with(t)) {
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "form content types are refused on lifecycle endpoints: send no body\n",
        )
            .into_response();
    }
    match st.reload() {
        Ok(()) => (StatusCode::OK, "configuration reloaded\n").into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!(
                "reload failed; still running the previous configuration.\n{}\n",
                e.redacted()
            ),
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
    let mut s = String::from("probe agent: /metrics /-/healthy");
    s.push_str(if st.config().web.enable_lifecycle {
        " /-/reload (POST)\n"
    } else {
        "\n"
    });
    if let Some(e) = last {
        s.push_str("\nlast reload failed: ");
        s.push_str(&e);
        s.push('\n');
    }
    s.into_response()
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}

/// The exporter's router.
pub fn app(state: Arc<AgentState>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/metrics", get(metrics))
        .route("/-/healthy", get(healthy).head(healthy))
        .route("/-/reload", axum::routing::post(reload))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard))
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
    let listener = HttpListener::new(tcp, tls, state.config().web.limits);
    let server = tokio::spawn(listener.serve(router, shutdown));
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
    // Start-up is done: argument, config and log-filter parsing will not run again.
    agent.state.release_code_if_idle();
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
    fn mlab_gaps_follow_the_ndt7_specification() {
        let n = 20_000;
        let gaps: Vec<f64> = (0..n).map(|_| mlab_gap().as_secs_f64()).collect();
        assert!(gaps
            .iter()
            .all(|g| (MLAB_GAP_RANGE_S.0..=MLAB_GAP_RANGE_S.1).contains(g)));
        // Mean of the clamped exponential: a + μ (e^(−a/μ) − e^(−b/μ)) = 19 931 s; the sample
        // mean's standard error is about 140 s.
        let (a, b, mu) = (MLAB_GAP_RANGE_S.0, MLAB_GAP_RANGE_S.1, MLAB_MEAN_GAP_S);
        let want = a + mu * ((-a / mu).exp() - (-b / mu).exp());
        let mean = gaps.iter().sum::<f64>() / n as f64;
        assert!(
            (mean / want - 1.0).abs() < 0.04,
            "mean {mean} s, want {want} s"
        );
        // About 1 − e^(−0.1) = 9.5 % sit at the 36 min floor.
        let floor = gaps.iter().filter(|g| **g == a).count() as f64 / n as f64;
        assert!((0.07..0.12).contains(&floor), "{floor}");
    }
}
