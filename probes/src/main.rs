//! `probe`: speed-test server, one-off measurement, monitoring agent and config checker.
//!
//! Exit codes:
//! - 0: success (server/agent shut down cleanly, all measurements succeeded, config valid)
//! - 1: findings (`probe run`: at least one measurement failed; `probe validate`: config invalid)
//! - 2: error (bad arguments, unreadable config file, config invalid at agent start, cannot
//!   bind, I/O failure)

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use probes::duration::parse_duration;
use probes::endpoint::ServerKind;
use probes::net::Resolver;
use probes::probers::TestKind;

#[derive(Parser, Debug)]
#[command(
    name = "probe",
    version,
    about = "Broadband speed probes: server, one-off run, Prometheus agent"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Run the speed-test server (LibreSpeed-compatible paths, upload receipts, UDP echo).
    Serve {
        /// HTTP listen address; the UDP echo uses the same address.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Largest download or upload per request, bytes (1 or more).
        #[arg(long, default_value_t = 1 << 30, value_parser = clap::value_parser!(u64).range(1..))]
        max_bytes_per_request: u64,
        /// Concurrent download/upload transfers (1-100000).
        #[arg(long, default_value_t = 64, value_parser = count_in(1, 100_000))]
        max_concurrent_tests: usize,
        /// Requests per second per client address (0.01-1000000).
        #[arg(long, default_value_t = 200.0, value_parser = number_in(0.01, 1e6))]
        max_requests_per_second: f64,
        /// Payload bytes per second per client address (downloads and uploads; 1000 to 1e12),
        /// unlimited if not given.
        #[arg(long, value_parser = number_in(1000.0, 1e12))]
        max_client_bytes_per_second: Option<f64>,
        /// Time a client has to send a request's headers (and finish the TLS handshake).
        #[arg(long, default_value = "10s", value_parser = duration_in(0.1, 3600.0))]
        header_read_timeout: std::time::Duration,
        /// Close connections with nothing read or written for this long.
        #[arg(long, default_value = "30s", value_parser = duration_in(0.1, 86400.0))]
        idle_timeout: std::time::Duration,
        /// Open connections allowed per client address (1-100000).
        #[arg(long, default_value_t = 128, value_parser = count_in(1, 100_000))]
        max_connections_per_address: usize,
        /// PEM certificate chain for HTTPS (with --tls-key).
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// PEM private key for HTTPS.
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Do not run the UDP echo.
        #[arg(long)]
        no_udp_echo: bool,
        /// Browser origin allowed to run ndt7 tests (repeatable, `*` for any); without it any
        /// origin may. Clients that send no Origin (not browsers) are always allowed.
        #[arg(long = "ndt7-allowed-origin")]
        ndt7_allowed_origins: Vec<String>,
    },
    /// Measure once against a `probe serve` or LibreSpeed server and print the results.
    Run {
        /// Server base URL, e.g. http://speed.example:8080/
        #[arg(long)]
        server: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Tests to run (comma-separated); default: latency,download,upload,loss, those the
        /// server's kind supports (ndt7: download,upload).
        #[arg(long, value_delimiter = ',')]
        tests: Option<Vec<String>>,
        /// Transfer duration including ramp-up, e.g. 10s.
        #[arg(long, default_value = "10s")]
        duration: String,
        /// Ramp-up excluded from the figures, e.g. 1.5s.
        #[arg(long, default_value = "1.5s")]
        grace: String,
        /// Parallel download streams (upload uses one fewer).
        #[arg(long, default_value_t = 4)]
        streams: usize,
        /// Byte cap per transfer test.
        #[arg(long, default_value_t = 1_000_000_000)]
        max_bytes: u64,
        /// Server kind instead of auto-detection: probe, librespeed, url, cloudflare or ndt7
        /// (--server is then a Locate API base URL, http(s)://, or an ndt7 server, ws(s)://).
        #[arg(long)]
        kind: Option<String>,
        /// Extra CA certificate (PEM) to trust.
        #[arg(long)]
        ca_file: Option<PathBuf>,
        /// DNS server IP:PORT instead of the system resolver.
        #[arg(long)]
        nameserver: Option<SocketAddr>,
    },
    /// Run the monitoring agent with a TOML config (serves /metrics at agent.listen).
    Agent {
        /// Configuration file.
        #[arg(long)]
        config: PathBuf,
    },
    /// Check a configuration file and report every problem.
    Validate {
        /// Configuration file.
        file: PathBuf,
    },
}

/// A clap parser for a finite number within `lo..=hi`.
fn number_in(lo: f64, hi: f64) -> impl Fn(&str) -> Result<f64, String> + Clone {
    move |s| {
        let v: f64 = s
            .trim()
            .parse()
            .map_err(|_| format!("\"{s}\" is not a number"))?;
        if v.is_finite() && (lo..=hi).contains(&v) {
            Ok(v)
        } else {
            Err(format!("{s} is outside {lo}..{hi}"))
        }
    }
}

/// A clap parser for a count within `lo..=hi`.
fn count_in(lo: usize, hi: usize) -> impl Fn(&str) -> Result<usize, String> + Clone {
    move |s| {
        let v: usize = s
            .trim()
            .parse()
            .map_err(|_| format!("\"{s}\" is not a whole number"))?;
        if (lo..=hi).contains(&v) {
            Ok(v)
        } else {
            Err(format!("{s} is outside {lo}..{hi}"))
        }
    }
}

/// A clap parser for a duration (`10s`, `500ms`) within `lo_s..=hi_s` seconds.
fn duration_in(
    lo_s: f64,
    hi_s: f64,
) -> impl Fn(&str) -> Result<std::time::Duration, String> + Clone {
    move |s| {
        let d = parse_duration(s)?;
        if (lo_s..=hi_s).contains(&d.as_secs_f64()) {
            Ok(d)
        } else {
            Err(format!("{s} is outside {lo_s}s..{hi_s}s"))
        }
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    probes::net::install_crypto_provider();
    if let Cmd::Validate { file } = &cli.cmd {
        // The same checks the agent runs at start, plus binding agent.listen (the agent binds
        // it only after validation).
        let checked = probes::config::load(file).and_then(|cfg| {
            probes::config::check_listen(&cfg)?;
            Ok(cfg)
        });
        return Ok(match checked {
            Ok(cfg) => {
                println!(
                    "{}: valid (targets: {}, scheduled tests: {})",
                    file.display(),
                    cfg.targets.len(),
                    cfg.targets.iter().map(|t| t.tests.len()).sum::<usize>()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(if e.unreadable { 2 } else { 1 })
            }
        });
    }
    if matches!(cli.cmd, Cmd::Agent { .. }) {
        // Before any thread exists: the agent idles between tests, and with one arena for all
        // threads malloc_trim hands back all of its free heap (probes::memory; issue 15).
        probes::memory::limit_arenas(1);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async_main(cli.cmd))
}

async fn async_main(cmd: Cmd) -> anyhow::Result<ExitCode> {
    match cmd {
        Cmd::Serve {
            listen,
            max_bytes_per_request,
            max_concurrent_tests,
            max_requests_per_second,
            max_client_bytes_per_second,
            header_read_timeout,
            idle_timeout,
            max_connections_per_address,
            tls_cert,
            tls_key,
            no_udp_echo,
            ndt7_allowed_origins,
        } => {
            let cfg = probes::serve::ServeConfig {
                listen,
                max_bytes_per_request,
                max_concurrent_tests,
                max_requests_per_second_per_client: max_requests_per_second,
                max_client_bytes_per_second,
                tls: tls_cert.zip(tls_key),
                udp_echo: !no_udp_echo,
                ndt7_allowed_origins,
                limits: probes::listener::Limits {
                    header_read_timeout,
                    idle_timeout,
                    max_connections_per_address,
                },
                ..Default::default()
            };
            let server = probes::serve::Server::bind(cfg).await?;
            // Scripts read the bound address (useful with port 0) from this line.
            println!("listening on {}", server.local_addr());
            server.run(probes::agent::shutdown_signal()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Run {
            server,
            json,
            tests,
            duration,
            grace,
            streams,
            max_bytes,
            kind,
            ca_file,
            nameserver,
        } => {
            let url = reqwest::Url::parse(&server)
                .with_context(|| format!("--server {server} is not a URL"))?;
            let tests = tests
                .unwrap_or_default()
                .iter()
                .map(|t| {
                    TestKind::ALL
                        .into_iter()
                        .find(|k| k.as_str() == t.trim())
                        .with_context(|| format!("--tests: unknown test \"{t}\"; use download, upload, latency, loss, dns, http"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let kind = match kind.as_deref() {
                None => None,
                Some(k) => match ServerKind::parse(k) {
                    Some(k) => Some(k),
                    None => anyhow::bail!(
                        "--kind {k}: use one of {}",
                        ServerKind::ALL.map(ServerKind::as_str).join(", ")
                    ),
                },
            };
            let opts = probes::oneshot::RunOptions {
                server: url.clone(),
                kind,
                tests,
                duration: parse_duration(&duration)
                    .map_err(|e| anyhow::anyhow!("--duration: {e}"))?,
                grace: parse_duration(&grace).map_err(|e| anyhow::anyhow!("--grace: {e}"))?,
                streams: streams.clamp(1, 32),
                max_bytes,
                ca_file,
                resolver: nameserver.map(Resolver::Server).unwrap_or(Resolver::System),
            };
            let report = probes::oneshot::run(&opts).await?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&probes::oneshot::to_json(&url, &report))?
                );
            } else {
                print!("{}", probes::oneshot::format_table(&url, &report));
            }
            Ok(if report.results.iter().all(|r| r.success()) {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Cmd::Agent { config } => {
            probes::agent::run(&config, |addr| println!("listening on {addr}")).await?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Validate { .. } => unreachable!("handled before the runtime starts"),
    }
}
