//! Errors raised by Web API bindings, with the JavaScript error class each
//! one surfaces as declared in one place ([`WebApiError::throw`]).

use rquickjs::{Ctx, Exception};

/// An error a Web API binding reports to JavaScript.
#[derive(Debug, thiserror::Error)]
pub enum WebApiError {
    /// An argument of the wrong type or shape (JS `TypeError`).
    #[error("{0}")]
    Type(String),
    /// A numeric argument out of range (JS `RangeError`).
    #[error("{0}")]
    Range(String),
    /// A `DOMException` with the spec's name (`"AbortError"`, `"SyntaxError"`, ...).
    #[error("{name}: {message}")]
    Dom {
        /// The DOMException name from the spec's error names table.
        name: &'static str,
        /// Human-readable detail.
        message: String,
    },
}

impl WebApiError {
    /// Shorthand for a `TypeError`.
    pub fn type_error(msg: impl Into<String>) -> Self {
        Self::Type(msg.into())
    }

    /// Shorthand for a `RangeError`.
    pub fn range_error(msg: impl Into<String>) -> Self {
        Self::Range(msg.into())
    }

    /// Shorthand for a `DOMException` named `name`.
    pub fn dom(name: &'static str, msg: impl Into<String>) -> Self {
        Self::Dom {
            name,
            message: msg.into(),
        }
    }

    /// Raises this error as a pending JS exception and returns the
    /// `rquickjs::Error` that propagates it.
    pub fn throw(self, ctx: &Ctx<'_>) -> rquickjs::Error {
        match self {
            Self::Type(m) => Exception::throw_type(ctx, &m),
            Self::Range(m) => Exception::throw_range(ctx, &m),
            Self::Dom { name, message } => Exception::throw_dom(ctx, name, &message),
        }
    }
}

/// Converts a `Result<T, WebApiError>` into an `rquickjs::Result<T>` by throwing.
pub trait OrThrow<T> {
    /// Throws the error, if any, into `ctx`.
    fn or_throw(self, ctx: &Ctx<'_>) -> rquickjs::Result<T>;
}

impl<T> OrThrow<T> for Result<T, WebApiError> {
    fn or_throw(self, ctx: &Ctx<'_>) -> rquickjs::Result<T> {
        self.map_err(|e| e.throw(ctx))
    }
}
