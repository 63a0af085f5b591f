//! DNS resolution time of the target's host name, with the configured resolver.

use super::{ProbeContext, ProbeFuture, ProbeOutput, Prober, TestKind};
use crate::reason::{FailureReason, ProbeError};

/// The DNS prober.
#[derive(Debug)]
pub struct DnsProber;

impl Prober for DnsProber {
    fn test(&self) -> TestKind {
        TestKind::Dns
    }

    fn probe<'a>(&'a self, ctx: &'a ProbeContext) -> ProbeFuture<'a> {
        Box::pin(async move {
            let host = ctx.endpoints.host();
            if host.parse::<std::net::IpAddr>().is_ok() {
                return Err(ProbeError::new(
                    FailureReason::Dns,
                    format!("target host {host} is an IP address; nothing to resolve"),
                ));
            }
            let (_, secs) = ctx
                .resolver
                .resolve(&host, ctx.endpoints.port(), ctx.settings.connect_timeout)
                .await?;
            Ok(ProbeOutput {
                dns_lookup_seconds: Some(secs),
                ..Default::default()
            })
        })
    }
}
