//! The runner: executes one prober under a timeout and owns success, duration and bytes.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::probers::{ProbeContext, ProbeOutput, Prober, TestKind};
use crate::reason::{FailureReason, ProbeError};

/// The outcome of one run, as cached for `/metrics`.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// Target label value.
    pub target: String,
    /// Test.
    pub test: TestKind,
    /// Wall-clock start, seconds since the Unix epoch.
    pub started_unix_seconds: f64,
    /// How long the run took, seconds.
    pub duration_seconds: f64,
    /// Payload bytes moved (both directions).
    pub bytes_used: u64,
    /// Figures or the failure.
    pub outcome: Result<ProbeOutput, ProbeError>,
}

impl RunResult {
    /// Whether the run succeeded.
    pub fn success(&self) -> bool {
        self.outcome.is_ok()
    }

    /// The `result` label: `success` or the failure reason.
    pub fn result_label(&self) -> &'static str {
        match &self.outcome {
            Ok(_) => "success",
            Err(e) => e.reason.as_str(),
        }
    }

    /// A run that failed before it started (no prober, server kind not detected).
    pub fn failed(target: &str, test: TestKind, error: ProbeError) -> Self {
        RunResult {
            target: target.into(),
            test,
            started_unix_seconds: unix_now(),
            duration_seconds: 0.0,
            bytes_used: 0,
            outcome: Err(error),
        }
    }

    /// A run that did not start because the data budget is used up.
    pub fn budget_exhausted(target: &str, test: TestKind, remaining: u64, needed: u64) -> Self {
        RunResult {
            target: target.into(),
            test,
            started_unix_seconds: unix_now(),
            duration_seconds: 0.0,
            bytes_used: 0,
            outcome: Err(ProbeError::new(
                FailureReason::BudgetExhausted,
                format!("daily data budget has {remaining} bytes left, the test may use {needed}"),
            )),
        }
    }
}

pub use crate::duration::unix_now;

/// Run `prober` once with `timeout`; the prober is cancelled (its connections dropped) when
/// the budget runs out.
pub async fn run(prober: &dyn Prober, ctx: &ProbeContext, timeout: Duration) -> RunResult {
    let mut ctx = ctx.clone();
    ctx.bytes_used = Arc::new(AtomicU64::new(0));
    let started = unix_now();
    let t0 = Instant::now();
    // A LibreSpeed target's backend lookup is part of the run and of its time budget.
    let measure = async {
        let mut c = ctx.clone();
        crate::detect::resolve_backend(&mut c).await?;
        prober.probe(&c).await
    };
    let outcome = match tokio::time::timeout(timeout, measure).await {
        Ok(r) => r,
        Err(_) => Err(ProbeError::new(
            FailureReason::Timeout,
            format!(
                "{} test did not finish within {:.1} s",
                prober.test(),
                timeout.as_secs_f64()
            ),
        )),
    };
    let res = RunResult {
        target: ctx.target.clone(),
        test: prober.test(),
        started_unix_seconds: started,
        duration_seconds: t0.elapsed().as_secs_f64(),
        bytes_used: ctx.bytes(),
        outcome,
    };
    match &res.outcome {
        Ok(_) => {
            tracing::info!(target = %res.target, test = %res.test, seconds = res.duration_seconds, bytes = res.bytes_used, "probe succeeded")
        }
        Err(e) => {
            tracing::warn!(target = %res.target, test = %res.test, reason = %e.reason, "probe failed: {}", e.message)
        }
    }
    res
}
