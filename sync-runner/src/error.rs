//! The runner's error type.

/// What went wrong in the runner itself (not in a sync: a failed sync is a
/// [`RunRecord`](crate::RunRecord) with its error, not an `Error`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A connection cannot be stored as written: the field and what to fix.
    #[error("connection field {field}: {problem}")]
    InvalidConnection {
        /// The field.
        field: String,
        /// What is wrong and how to fix it.
        problem: String,
    },
    /// A sealing key cannot be used as given: its id and what to fix.
    #[error("sealing key {key_id}: {problem}")]
    InvalidKey {
        /// The key's id.
        key_id: String,
        /// What is wrong and how to fix it.
        problem: String,
    },
    /// No connection has this id.
    #[error("no connection {0}")]
    UnknownConnection(String),
    /// The lease was lost (it lapsed and another worker took the connection):
    /// nothing was written.
    #[error(
        "the lease on connection {0} was lost: another worker holds it now, nothing was written"
    )]
    LeaseLost(String),
    /// The connection (or another one on its IdP org) is being synced now.
    #[error("connection {0} is busy (a sync on it or on its IdP org is running): try again later")]
    Busy(String),
    /// No plan is held for review on this connection, or not the one named.
    #[error("no plan {hash} is held for connection {connection_id}")]
    NoHeldPlan {
        /// The connection.
        connection_id: String,
        /// The plan hash asked for.
        hash: String,
    },
    /// A stored snapshot or sync state cannot be read.
    #[error("stored data of connection {connection_id} cannot be read: {problem}")]
    Corrupt {
        /// The connection.
        connection_id: String,
        /// What is wrong.
        problem: String,
    },
    /// The host failed to read or apply records.
    #[error(transparent)]
    Host(#[from] crate::HostError),
    /// The store failed (a database error, for a database store).
    #[error("store: {0}")]
    Store(String),
}

/// The runner's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn invalid(field: &str, problem: impl Into<String>) -> Self {
        Error::InvalidConnection {
            field: field.to_string(),
            problem: problem.into(),
        }
    }
}
