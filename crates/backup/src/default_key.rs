//! Backups on from the first start: when the operator names no `backup.recipients`, the
//! server makes an age X25519 identity of its own in `data_dir/backup-identity.txt` and
//! encrypts the backups to it, so that a fresh installation is backed up from its first
//! night. The file is created once (mode 0600, atomically: a complete file or none) and
//! reused at every later start; it is never overwritten. The private key is never logged.
//!
//! This is a start, not a safe place: the key lives on the server beside the data, so the
//! server says at every start (and `skjold doctor` repeats) that it must be copied off the
//! server and a second recipient added.

use crate::BackupError;
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The generated identity's file name inside the data directory.
pub const DEFAULT_IDENTITY_FILE: &str = "backup-identity.txt";

/// Where the generated identity lives: `data_dir/backup-identity.txt`, made absolute (the
/// data dir may be given relative to the working directory).
pub fn default_identity_path(data_dir: &Path) -> Result<PathBuf, BackupError> {
    std::path::absolute(data_dir.join(DEFAULT_IDENTITY_FILE))
        .map_err(|e| BackupError::Config(format!("data_dir: {}: {e}", data_dir.display())))
}

/// The public key of the generated identity at `path`, if the file is there.
pub fn read_default_identity(path: &Path) -> Result<Option<age::x25519::Recipient>, BackupError> {
    if !path.exists() {
        return Ok(None);
    }
    let ids = crate::crypt::Identities::from_file(path)?;
    let keys = ids.public_keys();
    let [key] = keys.as_slice() else {
        return Err(BackupError::Config(format!(
            "{} should hold exactly one age key (the one Skjold generated), it holds {}",
            path.display(),
            keys.len()
        )));
    };
    key.parse()
        .map(Some)
        .map_err(|_| BackupError::Crypto(format!("{}: not an age X25519 key", path.display())))
}

/// Makes the identity at `path` unless a file is already there; returns its public key and
/// whether this call created it. The key is written to a private temporary file beside the
/// target (mode 0600), synced, and linked into place only if no file of that name exists, so
/// a crash leaves either no file or a complete one, and two starts racing keep the first.
pub fn ensure_default_identity(
    path: &Path,
    now: DateTime<Utc>,
) -> Result<(age::x25519::Recipient, bool), BackupError> {
    if let Some(existing) = read_default_identity(path)? {
        return Ok((existing, false));
    }
    let dir = path.parent().ok_or_else(|| {
        BackupError::Config(format!("{} has no parent directory", path.display()))
    })?;
    let identity = age::x25519::Identity::generate();
    let public = identity.to_public();
    // tempfile creates the file with mode 0600 on Unix.
    let mut tmp = tempfile::Builder::new()
        .prefix(".backup-identity-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    write!(
        tmp,
        "# Skjold's generated backup key: every backup is encrypted to it.\n\
         # Copy this file off the server (a password manager, an offline safe) and add a\n\
         # second recipient of your own (docs/operations.md).\n\
         # created: {}\n\
         # public key: {public}\n\
         {}\n",
        now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        identity.to_string().expose_secret()
    )?;
    tmp.as_file().sync_all()?;
    match tmp.persist_noclobber(path) {
        Ok(_) => {}
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {
            // Another start won the race: use its key.
            return read_default_identity(path)?
                .map(|k| (k, false))
                .ok_or_else(|| BackupError::Config(format!("{} vanished", path.display())));
        }
        Err(e) => return Err(e.error.into()),
    }
    // The new name is durable only once the directory is.
    std::fs::File::open(dir)?.sync_all()?;
    Ok((public, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_once_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = default_identity_path(dir.path()).unwrap();
        let now = DateTime::from_timestamp(1_790_000_000, 0).unwrap();
        let (first, created) = ensure_default_identity(&path, now).unwrap();
        assert!(created);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(&first.to_string()), "{text}");
        let (again, created) = ensure_default_identity(&path, now).unwrap();
        assert!(!created);
        assert_eq!(again.to_string(), first.to_string());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(DEFAULT_IDENTITY_FILE)]);
    }

    #[test]
    fn a_damaged_file_is_refused_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = default_identity_path(dir.path()).unwrap();
        // A key with one character changed: refused by line, and its text never quoted.
        let key = age::x25519::Identity::generate();
        let damaged = key.to_string().expose_secret().replacen('Q', "q", 1) + "x";
        std::fs::write(&path, format!("{damaged}\n")).unwrap();
        let now = DateTime::from_timestamp(1_790_000_000, 0).unwrap();
        let e = ensure_default_identity(&path, now).unwrap_err().to_string();
        assert!(e.contains("line 1"), "{e}");
        assert!(!e.contains(&damaged[16..]), "{e}");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{damaged}\n")
        );
    }
}
