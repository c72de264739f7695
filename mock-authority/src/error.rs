//! Library errors (thiserror), one enum per group of operations.

/// Building an [`crate::Authority`] or a server failed.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// Key generation or parsing failed.
    #[error("crypto: {0}")]
    Crypto(&'static str),
    /// The configuration is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A certificate could not be generated or read.
    #[error("TLS: {0}")]
    Tls(String),
    /// I/O (binding the listener, reading or writing files).
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// Reading a configuration file failed.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The YAML or JSON is invalid.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What the parser said (with line and column).
        message: String,
    },
    /// The content is inconsistent.
    #[error("{0}")]
    Invalid(String),
}
