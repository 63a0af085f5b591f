//! `probe`: speed-test server, one-off measurement, monitoring agent and config checker.
//!
//! Exit codes:
//! - 0: success (server/agent shut down cleanly, all measurements succeeded, config valid)
//! - 1: findings (`probe run`: at least one measurement failed; `probe validate`: config invalid)
//! - 2: error (bad arguments, config invalid at agent start, cannot bind, I/O failure)

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
        /// Largest download or upload per request, bytes.
        #[arg(long, default_value_t = 1 << 30)]
        max_bytes_per_request: u64,
        /// Concurrent download/upload transfers.
        #[arg(long, default_value_t = 64)]
        max_concurrent_tests: usize,
        /// Requests per second per client address.
        #[arg(long, default_value_t = 200.0)]
        max_requests_per_second: f64,
        /// Payload bytes per second per client address (downloads and uploads), unlimited if
        /// not given.
        #[arg(long)]
        max_client_bytes_per_second: Option<f64>,
        /// PEM certificate chain for HTTPS (with --tls-key).
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// PEM private key for HTTPS.
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Do not run the UDP echo.
        #[arg(long)]
        no_udp_echo: bool,
    },
    /// Measure once against a `probe serve` or LibreSpeed server and print the results.
    Run {
        /// Server base URL, e.g. http://speed.example:8080/
        #[arg(long)]
        server: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Tests to run (comma-separated).
        #[arg(
            long,
            default_value = "latency,download,upload,loss",
            value_delimiter = ','
        )]
        tests: Vec<String>,
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
        /// Server kind instead of auto-detection: probe or librespeed.
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
        return Ok(match probes::config::load(file) {
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
                ExitCode::from(1)
            }
        });
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
            tls_cert,
            tls_key,
            no_udp_echo,
        } => {
            let cfg = probes::serve::ServeConfig {
                listen,
                max_bytes_per_request,
                max_concurrent_tests,
                max_requests_per_second_per_client: max_requests_per_second,
                max_client_bytes_per_second: max_client_bytes_per_second.filter(|r| *r > 0.0),
                tls: tls_cert.zip(tls_key),
                udp_echo: !no_udp_echo,
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
                Some("probe") => Some(ServerKind::Probe),
                Some("librespeed") => Some(ServerKind::Librespeed),
                Some(k) => anyhow::bail!("--kind {k}: use probe or librespeed"),
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
            let (kind, results) = probes::oneshot::run(&opts).await?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&probes::oneshot::to_json(&url, kind, &results))?
                );
            } else {
                print!("{}", probes::oneshot::format_table(&url, kind, &results));
            }
            Ok(if results.iter().all(|r| r.success()) {
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
