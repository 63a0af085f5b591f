//! Probe agent library: speed-test server, probers, scheduler and Prometheus exporter.
//!
//! The `probe` binary is a thin command line over this library:
//! - [`serve`] is the speed-test server (`probe serve`),
//! - [`probers`] hold one module per measurement behind the [`probers::Prober`] trait,
//! - [`runner`] owns success, duration and the timeout budget of every run,
//! - [`config`] parses and validates the agent's TOML configuration,
//! - [`metrics`] defines every exported metric in one place,
//! - [`agent`] schedules runs and serves `/metrics`, handing the heap a run used back to the
//!   kernel afterwards ([`memory`]),
//! - [`remote_write`] pushes results to a Prometheus remote-write receiver (agents behind NAT),
//! - [`detect`] tells a server's kind and finds a LibreSpeed install's backend,
//! - [`oneshot`] is the one-off measurement behind `probe run`,
//! - [`ndt7`] is M-Lab's ndt7 protocol, spoken by [`serve::ndt7`] and [`probers::ndt7`].
//!
//! # Throughput figures are goodput
//! Download and upload rates are application payload bytes (HTTP body bytes) divided by the
//! measurement time after the ramp-up (grace period) is excluded. TCP/IP headers, TLS records and
//! HTTP framing are not counted, so on a link shaped to `R` bit/s the best possible figure is
//! `R / 8 × MSS / frame` (1448 / 1514 bytes with TCP timestamps on Ethernet).

pub mod agent;
pub mod auth;
pub mod config;
pub mod detect;
pub mod dns;
pub mod duration;
pub mod endpoint;
pub mod files;
pub mod listener;
pub mod memory;
pub mod metrics;
pub mod ndt7;
pub mod net;
pub mod oneshot;
pub mod probers;
pub mod protocol;
pub mod reason;
pub mod remote_write;
pub mod runner;
pub mod scope;
pub mod serve;
pub mod tcp_info;

pub use reason::FailureReason;
