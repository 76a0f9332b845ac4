//! The isolate runtime: runs one deployment version's JavaScript in a
//! sandboxed QuickJS runtime with Web Standard APIs.
//!
//! - [`bundle`]: the modules of a deployment and their bytecode;
//! - [`pool`]: fresh runtimes prepared ahead of cold starts;
//! - [`isolate`]: starting an isolate and the phases of a request through it;
//! - [`limits`]: memory, CPU, wall-clock and stack limits and CPU metering;
//! - [`body`]: response bodies as the host sends them;
//! - [`wire`]: bundles as one canonical, content-addressed byte blob, and
//!   compiled bundles kept per engine version;
//! - [`error`]: what can go wrong in each phase.
//!
//! Isolates are `!Send`: an executor thread owns its isolates and drives
//! them on its own `LocalSet`.

pub mod body;
pub mod bundle;
pub mod error;
pub mod isolate;
pub mod limits;
pub mod pool;
pub mod wire;

pub use body::ResponseBody;
pub use bundle::{Bundle, CompiledBundle};
pub use error::{BuildError, DispatchError, LimitKind, StartError};
pub use isolate::{EnvBinding, EnvValue, HandlerFormat, HostRequest, Isolate, WorkerSpec};
pub use limits::Limits;
pub use pool::{Fresh, WarmPool};
pub use wire::{content_hash, engine_version, WireError};
