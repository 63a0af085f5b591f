//! Which kind of server a URL is, and where on it the measurements go: `probe run` detects
//! the kind ([`detect`]); LibreSpeed targets given by URL find their backend ([`find_librespeed`]:
//! the URL itself, or `backend/` below the root of a standard install) and say which and why.
//! Nothing falls back silently: when no probe answers, the error lists what each one got.

use std::time::Duration;

use reqwest::Url;

use crate::endpoint::{Endpoints, ServerKind};
use crate::probers::ProbeContext;
use crate::protocol::ServerInfo;
use crate::reason::ProbeError;

/// What detection found: the kind, the endpoints to use and why.
#[derive(Debug, Clone)]
pub struct Detected {
    /// Server kind.
    pub kind: ServerKind,
    /// Endpoints (a LibreSpeed install's root resolves to its `backend/`).
    pub endpoints: Endpoints,
    /// How the kind was decided, for the report.
    pub why: String,
}

/// GET `url`: the status, or the failure.
async fn status_of(client: &reqwest::Client, url: Url) -> Result<(u16, Vec<u8>), ProbeError> {
    let fut = async {
        let mut r = client
            .get(url.clone())
            .send()
            .await
            .map_err(|e| ProbeError::from_error(&format!("GET {url}"), &e))?;
        let status = r.status().as_u16();
        let body = crate::net::read_bounded(&mut r, 64 << 10).await?;
        Ok((status, body))
    };
    tokio::time::timeout(Duration::from_secs(5), fut)
        .await
        .unwrap_or_else(|_| {
            Err(ProbeError::new(
                crate::FailureReason::Timeout,
                "no answer within 5 s",
            ))
        })
}

/// Find where a LibreSpeed backend answers below `base`: at `base` itself or, for the root of
/// a standard install, at `base/backend/`. Returns the endpoints and why.
pub async fn find_librespeed(
    client: &reqwest::Client,
    base: &Url,
) -> Result<(Endpoints, String), ProbeError> {
    let mut tried = Vec::new();
    let mut last_err = None;
    for prefix in ["", "backend/"] {
        let Ok(root) = base.join(prefix) else {
            continue;
        };
        let e = Endpoints::new(ServerKind::Librespeed, root);
        let url = e.ping_url();
        match status_of(client, url.clone()).await {
            Ok((s, _)) if (200..300).contains(&s) => {
                tried.push(format!("GET {url} answered {s} (LibreSpeed backend)"));
                return Ok((e, tried.join("; ")));
            }
            Ok((s, _)) => tried.push(format!("GET {url} answered {s}")),
            Err(err) => {
                tried.push(format!("GET {url}: {err}"));
                last_err = Some(err);
            }
        }
    }
    let reason = last_err.map_or(crate::FailureReason::HttpStatus, |e| e.reason);
    Err(ProbeError::new(
        reason,
        format!("no LibreSpeed backend at {base}: {}", tried.join("; ")),
    ))
}

/// Decide the server kind: `probe serve` answers `/info`; a LibreSpeed backend answers
/// `empty.php` at the URL or below `backend/`; a Cloudflare-style endpoint answers
/// `__down?bytes=0`. Nothing is assumed: when none answers the error says what each probe got
/// (pass `--kind` to skip detection).
pub async fn detect(ctx: &ProbeContext) -> Result<Detected, ProbeError> {
    let (client, _, _) = ctx.client().await?;
    let base = ctx.endpoints.base.clone();
    let info_url = base.join("info").unwrap_or_else(|_| base.clone());
    let info = status_of(&client, info_url.clone()).await;
    if let Ok((200, body)) = &info {
        if let Ok(i) = serde_json::from_slice::<ServerInfo>(body) {
            if i.server == "probe" {
                return Ok(Detected {
                    kind: ServerKind::Probe,
                    endpoints: Endpoints::new(ServerKind::Probe, base),
                    why: format!("GET {info_url} answered as probe serve {}", i.version),
                });
            }
        }
    }
    let info_note = match &info {
        Ok((s, _)) => format!("GET {info_url} answered {s}, not probe serve"),
        Err(e) => format!("GET {info_url}: {e}"),
    };
    let librespeed = match find_librespeed(&client, &base).await {
        Ok((endpoints, why)) => {
            return Ok(Detected {
                kind: ServerKind::Librespeed,
                endpoints,
                why: format!("{info_note}; {why}"),
            })
        }
        Err(e) => e,
    };
    let cloudflare = Endpoints::new(ServerKind::Cloudflare, base);
    let down = cloudflare.ping_url();
    let cf_note = match status_of(&client, down.clone()).await {
        Ok((s, _)) if (200..300).contains(&s) => {
            return Ok(Detected {
                kind: ServerKind::Cloudflare,
                endpoints: cloudflare,
                why: format!(
                    "{info_note}; {}; GET {down} answered {s} (Cloudflare-style)",
                    librespeed.message
                ),
            })
        }
        Ok((s, _)) => format!("GET {down} answered {s}"),
        Err(e) => format!("GET {down}: {e}"),
    };
    Err(ProbeError::new(
        librespeed.reason,
        format!(
            "cannot tell the server kind ({info_note}; {}; {cf_note}); pass --kind probe, librespeed, url or cloudflare",
            librespeed.message
        ),
    ))
}

/// A LibreSpeed target given by URL: find its backend (once per target; later runs reuse what
/// was found) and point `ctx` at it. Other targets are left as they are. The finding is logged
/// with its reason; when no backend answers the run fails with what each path returned.
pub async fn resolve_backend(ctx: &mut ProbeContext) -> Result<(), ProbeError> {
    let Some(found) = ctx.endpoints.backend.take() else {
        return Ok(());
    };
    if let Some(base) = found.get() {
        ctx.endpoints.base = base.clone();
        return Ok(());
    }
    let (client, _, _) = ctx.client().await?;
    let (e, why) = find_librespeed(&client, &ctx.endpoints.base).await?;
    tracing::info!(target = %ctx.target, backend = %e.base, "LibreSpeed backend found: {why}");
    let _ = found.set(e.base.clone());
    ctx.endpoints.base = e.base;
    Ok(())
}
