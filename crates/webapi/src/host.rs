//! What the embedding runtime tells the Web APIs about the isolate they run
//! in: its deployment name (for logs), policy switches and the node's shared
//! stores. Stored as runtime userdata so any binding can read it without
//! globals.

use std::sync::Arc;

use rquickjs::JsLifetime;

use crate::cache::CacheStore;

/// Per-isolate facts provided by the host, stored with `Ctx::store_userdata`.
#[derive(Debug, Clone, Default, JsLifetime)]
pub struct HostInfo {
    /// Deployment (worker) name, attached to every log line.
    pub deployment: String,
    /// Whether outbound `fetch` may reach loopback and private addresses.
    pub allow_private_fetch: bool,
    /// The node's Cache API storage; `None` uses a process-wide in-memory store.
    pub cache: Option<Arc<dyn CacheStore>>,
    /// The namespace of this worker's cache entries (its name), so workers on
    /// one node never see each other's entries.
    pub cache_namespace: String,
}

/// Returns the host info stored in `ctx`, or defaults when none was stored
/// (as in unit tests).
pub fn host_info(ctx: &rquickjs::Ctx<'_>) -> HostInfo {
    ctx.userdata::<HostInfo>()
        .map(|h| h.clone())
        .unwrap_or_default()
}
