//! Errors of the isolate runtime, one enum per phase: building a bundle,
//! starting an isolate, and dispatching a request.

use std::time::Duration;

/// A bundle could not be built from its sources.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A module file could not be read.
    #[error("cannot read module `{path}`: {source}")]
    Read {
        /// The file that failed.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// An import could not be resolved.
    #[error("cannot resolve import `{specifier}` from `{importer}`: {reason}")]
    Resolve {
        /// The importing module.
        importer: String,
        /// The specifier as written.
        specifier: String,
        /// Why it failed.
        reason: String,
    },
    /// A module failed to compile; `message` carries `file:line:column`.
    #[error("{message}")]
    Compile {
        /// Error text with location.
        message: String,
    },
}

/// Which per-isolate limit a script exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKind {
    /// Too much CPU time in one request.
    Cpu(Duration),
    /// The isolate's heap limit.
    Memory(usize),
    /// Too much wall-clock time in one request.
    Wall(Duration),
    /// The JS stack (deep recursion).
    Stack,
}

impl std::fmt::Display for LimitKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LimitKind::Cpu(d) => write!(f, "Worker exceeded CPU time limit ({} ms)", d.as_millis()),
            LimitKind::Memory(b) => write!(
                f,
                "Worker exceeded memory limit ({} MiB)",
                b / (1024 * 1024)
            ),
            LimitKind::Wall(d) => write!(
                f,
                "Worker exceeded wall-clock time limit ({} s)",
                d.as_secs()
            ),
            LimitKind::Stack => f.write_str("Worker exceeded stack limit (too much recursion)"),
        }
    }
}

/// A request could not be answered by the handler.
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    /// A limit was hit; the isolate is discarded.
    #[error("{0}")]
    Limit(LimitKind),
    /// The handler threw or rejected.
    #[error("Uncaught {message}")]
    Uncaught {
        /// `Name: message` of the thrown value.
        message: String,
        /// Its stack, when it has one.
        stack: Option<String>,
    },
    /// The handler returned something that is not a `Response`.
    #[error("{0}")]
    BadResponse(String),
    /// The isolate was already discarded after an earlier failure.
    #[error("isolate is no longer usable")]
    Poisoned,
    /// The engine failed in a way that is not the script's fault.
    #[error("engine error: {0}")]
    Engine(String),
}

impl DispatchError {
    /// Whether the isolate must be thrown away after this error.
    pub fn poisons_isolate(&self) -> bool {
        matches!(
            self,
            DispatchError::Limit(_) | DispatchError::Poisoned | DispatchError::Engine(_)
        )
    }
}

/// An isolate could not be started from a bundle.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The module's top level threw.
    #[error("worker failed to start: {0}")]
    TopLevel(String),
    /// No handler in any supported format was found.
    #[error("no handler found: export default {{ fetch(request, env, ctx) }}, export default function (request), or addEventListener('fetch', ...) expected")]
    NoHandler,
    /// A limit was hit during start-up.
    #[error("{0}")]
    Limit(LimitKind),
    /// The engine failed.
    #[error("engine error: {0}")]
    Engine(String),
}
