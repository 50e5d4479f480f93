//! Typed errors of the learner.

use thiserror::Error;

/// Everything that can go wrong when building, driving, saving or loading a network.
#[derive(Debug, Error)]
pub enum BrainError {
    /// A parameter is out of its valid range; `field` is the dotted path to it.
    #[error("invalid parameter `{field}` = {value}: {reason}")]
    InvalidParam {
        /// Dotted path of the field, e.g. `layers.Hidden.inhib.gi`.
        field: String,
        /// The offending value, printed.
        value: String,
        /// What the valid range is.
        reason: String,
    },
    /// An input or outcome vector contained NaN or an infinity.
    #[error("non-finite value in {what} at index {index}: {value}")]
    NonFinite {
        /// Which input it was (layer name and role).
        what: String,
        /// Position of the first bad element.
        index: usize,
        /// The bad value.
        value: f32,
    },
    /// An input vector does not match the layer size.
    #[error("{what}: expected {expected} values, got {got}")]
    Shape {
        /// Which input it was.
        what: String,
        /// Layer size.
        expected: usize,
        /// Length that was passed.
        got: usize,
    },
    /// No layer of that name exists.
    #[error("no layer named `{0}`")]
    UnknownLayer(String),
    /// The network was driven out of order (e.g. plus phase before minus phase).
    #[error("theta-cycle call out of order: {0}")]
    Order(String),
    /// The network's state became non-finite during a cycle (a bug or an extreme parameter).
    #[error("network state became non-finite in layer `{layer}` ({var})")]
    Diverged {
        /// Layer where it was detected.
        layer: String,
        /// Variable that went bad.
        var: &'static str,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// File that failed.
        path: String,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A saved network could not be decoded.
    #[error("{path}: not a thetabox network file ({reason})")]
    Decode {
        /// File that failed.
        path: String,
        /// Decoder message.
        reason: String,
    },
    /// A RON configuration could not be parsed.
    #[error("{path}:{line}:{col}: {msg}")]
    Config {
        /// File name (or `<string>`).
        path: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        col: usize,
        /// Parser message.
        msg: String,
    },
}

/// Result alias for the brain module.
pub type Result<T> = std::result::Result<T, BrainError>;

/// Returns an error unless `v` is finite and inside `[lo, hi]`.
pub(crate) fn check_range(field: &str, v: f32, lo: f32, hi: f32) -> Result<()> {
    if !v.is_finite() || v < lo || v > hi {
        return Err(BrainError::InvalidParam {
            field: field.to_string(),
            value: format!("{v}"),
            reason: format!("must be a finite number in [{lo}, {hi}]"),
        });
    }
    Ok(())
}

/// Returns an error unless `v` is finite and strictly positive.
pub(crate) fn check_pos(field: &str, v: f32) -> Result<()> {
    if !v.is_finite() || v <= 0.0 {
        return Err(BrainError::InvalidParam {
            field: field.to_string(),
            value: format!("{v}"),
            reason: "must be a finite number > 0".into(),
        });
    }
    Ok(())
}

/// Checks that `xs` holds `len` finite values.
pub fn check_vector(what: &str, xs: &[f32], len: usize) -> Result<()> {
    if xs.len() != len {
        return Err(BrainError::Shape {
            what: what.to_string(),
            expected: len,
            got: xs.len(),
        });
    }
    check_finite(what, xs)
}

/// Returns an error naming the first non-finite element of `xs`.
pub fn check_finite(what: &str, xs: &[f32]) -> Result<()> {
    match xs.iter().position(|x| !x.is_finite()) {
        Some(index) => Err(BrainError::NonFinite {
            what: what.to_string(),
            index,
            value: xs[index],
        }),
        None => Ok(()),
    }
}
