//! What the embedding runtime tells the Web APIs about the isolate they run
//! in: its deployment name (for logs) and policy switches. Stored as runtime
//! userdata so any binding can read it without globals.

use rquickjs::JsLifetime;

/// Per-isolate facts provided by the host, stored with `Ctx::store_userdata`.
#[derive(Debug, Clone, Default, JsLifetime)]
pub struct HostInfo {
    /// Deployment (worker) name, attached to every log line.
    pub deployment: String,
    /// Whether outbound `fetch` may reach loopback and private addresses.
    pub allow_private_fetch: bool,
}

/// Returns the host info stored in `ctx`, or defaults when none was stored
/// (as in unit tests).
pub fn host_info(ctx: &rquickjs::Ctx<'_>) -> HostInfo {
    ctx.userdata::<HostInfo>()
        .map(|h| h.clone())
        .unwrap_or_default()
}
