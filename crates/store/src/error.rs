use skjold_domain::FieldErrors;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// The request conflicts with what is stored (a taken name, linked records).
    #[error("{0}")]
    Conflict(String),
    #[error("invalid input: {}", describe(.0))]
    Invalid(#[from] FieldErrors),
    #[error("configuration: {0}")]
    Config(String),
    // The inner errors are shown in the message and deliberately not chained as a
    // `source`, so a one-line report does not say the same thing twice.
    #[error("database: {0}")]
    Database(sqlx::Error),
    #[error("migration: {0}")]
    Migrate(sqlx::migrate::MigrateError),
    #[error("stored data is damaged: {0}")]
    Corrupt(String),
    #[error("i/o: {0}")]
    Io(std::io::Error),
    /// The change's audit event could not be recorded before commit, so it was rolled back.
    #[error("not audited: {0}")]
    Unaudited(String),
    /// An I/O error on a known file or directory, which the message names.
    #[error("{}: {error}", path.display())]
    IoAt {
        path: std::path::PathBuf,
        error: std::io::Error,
    },
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Database(e)
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Migrate(e)
    }
}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        StoreError::Io(e)
    }
}

fn describe(e: &FieldErrors) -> String {
    e.0.iter()
        .map(|f| format!("{} {}", f.field, f.message))
        .collect::<Vec<_>>()
        .join("; ")
}

impl StoreError {
    pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
        matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
    }
}
