//! Bounded failure reasons: the only values the `reason` and `result` labels can take.

use std::error::Error as StdError;
use std::io;

/// Why a probe run failed. The set is closed so label cardinality stays bounded.
///
/// The one list of reasons: `--json` output, the `reason`/`result` labels and the README all
/// use [`FailureReason::as_str`] (serialization goes through it too).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FailureReason {
    /// The run's timeout budget ran out.
    Timeout,
    /// The target actively refused the TCP connection (or UDP port unreachable).
    ConnectionRefused,
    /// No route to the host or network.
    Unreachable,
    /// The peer reset or closed the connection before the exchange completed.
    ConnectionReset,
    /// Name resolution failed.
    Dns,
    /// TLS handshake or certificate verification failed.
    Tls,
    /// The server answered with a non-success HTTP status.
    HttpStatus,
    /// The server answered with something that is not the expected protocol.
    Protocol,
    /// Transfer stopped making progress.
    Stalled,
    /// The measurement window carried fewer bytes than the test's `min_bytes` (or none), or
    /// the transfer ended before a window after the ramp-up.
    NoData,
    /// The per-test byte cap was reached before a measurement was possible.
    ByteCap,
    /// The daily data budget does not cover the test.
    BudgetExhausted,
    /// Any other local I/O error.
    Io,
}

impl FailureReason {
    /// Every reason, in label order.
    pub const ALL: [FailureReason; 13] = [
        FailureReason::Timeout,
        FailureReason::ConnectionRefused,
        FailureReason::Unreachable,
        FailureReason::ConnectionReset,
        FailureReason::Dns,
        FailureReason::Tls,
        FailureReason::HttpStatus,
        FailureReason::Protocol,
        FailureReason::Stalled,
        FailureReason::NoData,
        FailureReason::ByteCap,
        FailureReason::BudgetExhausted,
        FailureReason::Io,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureReason::Timeout => "timeout",
            FailureReason::ConnectionRefused => "connection_refused",
            FailureReason::Unreachable => "unreachable",
            FailureReason::ConnectionReset => "connection_reset",
            FailureReason::Dns => "dns",
            FailureReason::Tls => "tls",
            FailureReason::HttpStatus => "http_status",
            FailureReason::Protocol => "protocol",
            FailureReason::Stalled => "stalled",
            FailureReason::NoData => "no_data",
            FailureReason::ByteCap => "byte_cap",
            FailureReason::BudgetExhausted => "budget_exhausted",
            FailureReason::Io => "io_error",
        }
    }
}

impl serde::Serialize for FailureReason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl std::fmt::Display for FailureReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed probe: a bounded reason for the metrics plus a free-text message for logs.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{reason}: {message}")]
pub struct ProbeError {
    /// Bounded reason (label value).
    pub reason: FailureReason,
    /// Human-readable detail; never exported as a label.
    pub message: String,
}

impl ProbeError {
    /// Build an error from a reason and a message.
    pub fn new(reason: FailureReason, message: impl Into<String>) -> Self {
        ProbeError {
            reason,
            message: message.into(),
        }
    }

    /// Classify any error by walking its source chain.
    pub fn from_error(context: &str, err: &(dyn StdError + 'static)) -> Self {
        let reason = classify(err);
        let mut message = format!("{context}: {err}");
        let mut src = err.source();
        while let Some(s) = src {
            message.push_str(": ");
            message.push_str(&s.to_string());
            src = s.source();
        }
        ProbeError { reason, message }
    }

    /// Classify an I/O error.
    pub fn from_io(context: &str, err: &io::Error) -> Self {
        Self::from_error(context, err)
    }
}

/// Map an I/O error kind to a reason.
pub fn classify_io(e: &io::Error) -> Option<FailureReason> {
    use io::ErrorKind as K;
    if let Some(inner) = e.get_ref() {
        if inner.downcast_ref::<rustls::Error>().is_some() {
            return Some(FailureReason::Tls);
        }
    }
    let r = match e.kind() {
        K::ConnectionRefused => FailureReason::ConnectionRefused,
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => {
            FailureReason::ConnectionReset
        }
        K::TimedOut => FailureReason::Timeout,
        K::AddrNotAvailable => FailureReason::Unreachable,
        K::InvalidData => FailureReason::Protocol,
        _ => match e.raw_os_error() {
            Some(libc::EHOSTUNREACH | libc::ENETUNREACH | libc::EHOSTDOWN | libc::ENETDOWN) => {
                FailureReason::Unreachable
            }
            _ => return None,
        },
    };
    Some(r)
}

/// Walk an error's source chain and pick the most specific reason.
pub fn classify(err: &(dyn StdError + 'static)) -> FailureReason {
    let mut found: Option<FailureReason> = None;
    // A connect error on an https URL that no I/O error explains happened in the handshake
    // (reqwest flattens rustls' error into text, e.g. "received corrupt message" when the
    // port speaks plain HTTP).
    let mut https_connect = false;
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        if e.downcast_ref::<rustls::Error>().is_some() {
            return FailureReason::Tls;
        }
        if let Some(pe) = e.downcast_ref::<ProbeError>() {
            return pe.reason;
        }
        if let Some(io) = e.downcast_ref::<io::Error>() {
            if let Some(r) = classify_io(io) {
                found = Some(r);
            }
        }
        if let Some(h) = e.downcast_ref::<hyper::Error>() {
            if h.is_parse() || h.is_parse_status() {
                found = found.or(Some(FailureReason::Protocol));
            } else if h.is_incomplete_message() || h.is_closed() || h.is_canceled() {
                found = found.or(Some(FailureReason::ConnectionReset));
            } else if h.is_timeout() {
                found = found.or(Some(FailureReason::Timeout));
            }
        }
        if let Some(r) = e.downcast_ref::<reqwest::Error>() {
            if r.is_connect() && r.url().is_some_and(|u| u.scheme() == "https") {
                https_connect = true;
            }
            if r.is_timeout() {
                found = found.or(Some(FailureReason::Timeout));
            } else if r.is_decode() {
                found = found.or(Some(FailureReason::Protocol));
            } else if r.is_status() {
                found = found.or(Some(FailureReason::HttpStatus));
            }
        }
        cur = e.source();
    }
    if found.is_none() && https_connect {
        return FailureReason::Tls;
    }
    found.unwrap_or_else(|| {
        // Some layers (reqwest's connector) flatten their causes into messages, so fall back to
        // the text of the whole chain.
        let mut text = err.to_string();
        let mut src = err.source();
        while let Some(s) = src {
            text.push_str(": ");
            text.push_str(&s.to_string());
            src = s.source();
        }
        let lower = text.to_ascii_lowercase();
        if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake") {
            FailureReason::Tls
        } else if lower.contains("dns error") || lower.contains("failed to lookup address") {
            FailureReason::Dns
        } else if text.contains("connection closed") || text.contains("IncompleteMessage") {
            FailureReason::ConnectionReset
        } else if text.contains("invalid HTTP") || text.contains("parse") {
            FailureReason::Protocol
        } else {
            FailureReason::Io
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_unique_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for r in FailureReason::ALL {
            assert!(seen.insert(r.as_str()));
            assert!(r
                .as_str()
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '_'));
        }
    }

    #[test]
    fn json_uses_the_label_values() {
        for r in FailureReason::ALL {
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
        assert_eq!(serde_json::to_value(FailureReason::Io).unwrap(), "io_error");
    }

    #[test]
    fn io_kinds_map_to_reasons() {
        let e = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(classify(&e), FailureReason::ConnectionRefused);
        let e = io::Error::from_raw_os_error(libc::EHOSTUNREACH);
        assert_eq!(classify(&e), FailureReason::Unreachable);
        let e = io::Error::from(io::ErrorKind::ConnectionReset);
        assert_eq!(classify(&e), FailureReason::ConnectionReset);
    }
}
