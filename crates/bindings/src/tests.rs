//! JS-level tests of the D1 and KV bindings, after the examples and edge
//! cases of Cloudflare's D1 and KV documentation.

mod d1;
mod isolate;
mod kv;
mod local;
