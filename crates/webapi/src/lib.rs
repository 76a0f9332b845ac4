//! Web Standard APIs for Outpost isolates.
//!
//! This crate owns every global a handler sees beyond the ECMAScript language
//! itself: `Request`, `Response`, `Headers`, `URL`, encoding, timers, console,
//! events, crypto randomness. Each API group is one module exposing
//! `init(ctx)`, which installs that group's globals into a context; [`install`]
//! calls them all in dependency order. The substance is Rust (the `url`,
//! `encoding_rs`, `http` crates); JavaScript glue is kept to the places where a
//! spec algorithm is JS-shaped and cold.
//!
//! Nothing here touches the file system, processes or environment variables.
//! The one way out of the isolate is `fetch` (outbound HTTP), which refuses
//! non-public addresses unless [`host::HostInfo`] allows them (dev mode).

pub mod blob;
pub mod body;
pub mod buffer;
pub mod cache;
pub mod compression;
pub mod console;
pub mod crypto_random;
pub mod crypto_subtle;
pub mod encoding;
pub mod error;
pub mod events;
pub mod fetch;
pub mod formdata;
mod glue;
pub mod headers;
pub mod host;
pub mod html_rewriter;
pub mod intl;
mod lazy;
pub mod misc;
pub mod request;
pub mod response;
pub mod scheduler;
pub mod streams;
pub mod timers;
pub mod url;
pub mod urlpattern;
pub mod webidl;
pub mod websocket;

#[cfg(test)]
mod fuzz;
#[cfg(test)]
pub(crate) mod testing;

use rquickjs::{Ctx, Result};

/// Installs every Web API global into `ctx`.
///
/// Call once per fresh context, before any user code runs.
pub fn install(ctx: &Ctx<'_>) -> Result<()> {
    misc::init(ctx)?;
    events::init(ctx)?;
    scheduler::init(ctx)?;
    encoding::init(ctx)?;
    streams::init(ctx)?;
    compression::init(ctx)?;
    crypto_random::init(ctx)?;
    crypto_subtle::init(ctx)?;
    url::init(ctx)?;
    urlpattern::init(ctx)?;
    console::init(ctx)?;
    timers::init(ctx)?;
    headers::init(ctx)?;
    blob::init(ctx)?;
    formdata::init(ctx)?;
    request::init(ctx)?;
    response::init(ctx)?;
    html_rewriter::init(ctx)?;
    intl::init(ctx)?;
    fetch::init(ctx)?;
    websocket::init(ctx)?;
    cache::init(ctx)?;
    Ok(())
}
