//! The `[backup]` section of `skjold.toml`, and its checks.

use crate::BackupError;
use chrono::NaiveTime;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The settings as written, before checking.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackupSettings {
    /// The operator's age X25519 public keys (`age1…`); every backup file is encrypted to
    /// all of them. Without any, no backup is taken (and the server says so loudly).
    pub recipients: Vec<String>,
    /// When the nightly snapshot runs, `HH:MM` in UTC.
    pub snapshot_time: String,
    /// How often the journal is shipped, in seconds (1-300).
    pub ship_interval_seconds: u64,
    /// Exactly two destinations; empty means `<data_dir>/backups/a` and `<data_dir>/backups/b`.
    pub destinations: Vec<DestinationSettings>,
    /// The server's age identity file (private key), for restore drills and restores asked
    /// for through the API/UI. Keep it on the server only, never beside the backups: whoever
    /// has both can read every backup. Unset: drills are skipped and the API cannot restore.
    pub identity_file: Option<PathBuf>,
    /// With no `recipients`: whether the server makes a key of its own on its first start
    /// (`data_dir/backup-identity.txt`) and backs up to it. `false` with no recipients
    /// leaves backups off, as before this setting existed.
    pub generate_key: bool,
}

impl Default for BackupSettings {
    fn default() -> Self {
        Self {
            recipients: Vec::new(),
            snapshot_time: "02:30".into(),
            ship_interval_seconds: 5,
            destinations: Vec::new(),
            identity_file: None,
            generate_key: true,
        }
    }
}

/// Where the key the backups are encrypted to comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackupKey {
    /// The operator's `backup.recipients`.
    Configured,
    /// The identity the server generated in the data directory (`created`: at this start).
    Generated { path: PathBuf, created: bool },
    /// No recipients, and no generated identity yet: the server makes it when it starts
    /// ([`BackupConfig::adopt_generated_key`]); until then backups are off.
    /// `identity_file`: a configured `backup.identity_file`, checked against that key then.
    ToGenerate {
        path: PathBuf,
        identity_file: Option<PathBuf>,
    },
    /// No recipients and `generate_key = false`: backups are off.
    Off,
}

/// One destination: `kind` is `fs`, `s3` or `azblob`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DestinationSettings {
    pub name: String,
    pub kind: String,
    /// fs: the directory; s3/azblob: a prefix inside the bucket or container.
    pub root: Option<String>,
    pub bucket: Option<String>,
    pub container: Option<String>,
    pub region: Option<String>,
    pub endpoint: Option<String>,
    pub access_key_id: Option<String>,
    #[serde(default, skip_serializing)]
    pub secret_access_key: Option<SecretString>,
    pub secret_access_key_file: Option<PathBuf>,
    pub account_name: Option<String>,
    #[serde(default, skip_serializing)]
    pub account_key: Option<SecretString>,
    pub account_key_file: Option<PathBuf>,
}

impl DestinationSettings {
    /// A local directory destination.
    pub fn fs(name: &str, root: &Path) -> Self {
        Self {
            name: name.into(),
            kind: "fs".into(),
            root: Some(root.display().to_string()),
            bucket: None,
            container: None,
            region: None,
            endpoint: None,
            access_key_id: None,
            secret_access_key: None,
            secret_access_key_file: None,
            account_name: None,
            account_key: None,
            account_key_file: None,
        }
    }
}

/// The checked settings.
#[derive(Clone)]
pub struct BackupConfig {
    pub recipients: Vec<age::x25519::Recipient>,
    pub snapshot_time: NaiveTime,
    pub ship_interval: std::time::Duration,
    pub destinations: Vec<DestinationSettings>,
    /// Scratch space for encrypted files on their way out (`<data_dir>/backups/tmp`).
    pub work_dir: PathBuf,
    /// The checked `backup.identity_file`: exists, holds a key of one of the recipients,
    /// and is not inside a local destination.
    pub identity_file: Option<PathBuf>,
    /// Where the key the backups are encrypted to comes from.
    pub key: BackupKey,
}

impl std::fmt::Debug for BackupConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackupConfig")
            .field("recipients", &self.recipients.len())
            .field("key", &self.key)
            .field("snapshot_time", &self.snapshot_time)
            .field("ship_interval", &self.ship_interval)
            .field("identity_file", &self.identity_file)
            .field(
                "destinations",
                &self
                    .destinations
                    .iter()
                    .map(|d| format!("{}:{}", d.name, d.kind))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

fn invalid(key: &str, message: impl Into<String>) -> BackupError {
    BackupError::Config(format!("{key}: {}", message.into()))
}

impl BackupSettings {
    /// Checks the settings; messages name the key (`backup.…`).
    pub fn check(&self, data_dir: &Path) -> Result<BackupConfig, BackupError> {
        let recipients = self
            .recipients
            .iter()
            .map(|r| {
                age::x25519::Recipient::from_str(r.trim()).map_err(|_| {
                    invalid(
                        "backup.recipients",
                        format!("'{r}' is not an age X25519 public key (age1…)"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let snapshot_time =
            NaiveTime::parse_from_str(self.snapshot_time.trim(), "%H:%M").map_err(|_| {
                invalid(
                    "backup.snapshot_time",
                    format!("'{}' is not a time like 02:30 (UTC)", self.snapshot_time),
                )
            })?;
        if !(1..=300).contains(&self.ship_interval_seconds) {
            return Err(invalid(
                "backup.ship_interval_seconds",
                "must be between 1 and 300",
            ));
        }
        let destinations = if self.destinations.is_empty() {
            // The data dir may be given relative to the working directory.
            let root = std::path::absolute(data_dir.join("backups"))
                .map_err(|e| invalid("data_dir", format!("{}: {e}", data_dir.display())))?;
            vec![
                DestinationSettings::fs("a", &root.join("a")),
                DestinationSettings::fs("b", &root.join("b")),
            ]
        } else {
            self.destinations.clone()
        };
        if destinations.len() != 2 {
            return Err(invalid(
                "backup.destinations",
                format!(
                    "exactly two destinations are needed, {} are configured",
                    destinations.len()
                ),
            ));
        }
        for d in &destinations {
            let ok = !d.name.is_empty()
                && d.name.len() <= 32
                && d.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !ok {
                return Err(invalid(
                    "backup.destinations.name",
                    format!("'{}' is not a name of a-z, 0-9 and '-'", d.name),
                ));
            }
            crate::dest::Destination::open(d)?;
        }
        if destinations[0].name == destinations[1].name {
            return Err(invalid(
                "backup.destinations.name",
                "the two destinations need different names",
            ));
        }
        if destinations[0].kind == destinations[1].kind
            && destinations[0].root == destinations[1].root
            && destinations[0].bucket == destinations[1].bucket
            && destinations[0].container == destinations[1].container
            && destinations[0].endpoint == destinations[1].endpoint
        {
            return Err(invalid(
                "backup.destinations",
                "the two destinations are the same place; backups must be kept in two",
            ));
        }
        let mut recipients = recipients;
        let key = if !recipients.is_empty() {
            BackupKey::Configured
        } else if !self.generate_key {
            BackupKey::Off
        } else {
            // No key of the operator's: the one the server generated, once it has.
            let path = crate::default_key::default_identity_path(data_dir)?;
            match crate::default_key::read_default_identity(&path)
                .map_err(|e| invalid("backup.recipients", format!("the generated key: {e}")))?
            {
                Some(public) => {
                    recipients.push(public);
                    BackupKey::Generated {
                        path,
                        created: false,
                    }
                }
                None => BackupKey::ToGenerate {
                    path,
                    identity_file: self.identity_file.clone(),
                },
            }
        };
        let identity_file = match (&self.identity_file, &key) {
            // Checked against the key once it is made (adopt_generated_key).
            (Some(_), BackupKey::ToGenerate { .. }) => None,
            (Some(p), _) => Some(check_identity_file(p, &recipients, &destinations)?),
            // The generated key is also the server's own, for drills and API restores; it
            // obeys the same rule (never inside a local destination).
            (None, BackupKey::Generated { path, .. }) => {
                Some(check_identity_file(path, &recipients, &destinations)?)
            }
            (None, _) => None,
        };
        Ok(BackupConfig {
            recipients,
            snapshot_time,
            ship_interval: std::time::Duration::from_secs(self.ship_interval_seconds),
            destinations,
            work_dir: data_dir.join("backups").join("tmp"),
            identity_file,
            key,
        })
    }
}

impl BackupConfig {
    /// Whether backups are taken: some key to encrypt to is known.
    pub fn is_on(&self) -> bool {
        !self.recipients.is_empty()
    }

    /// At the server's start: with no recipients configured (and `generate_key` left on),
    /// makes the server's own identity unless it exists, and backs up to it. An operator who
    /// set `recipients`, or `generate_key = false`, gets nothing generated.
    pub fn adopt_generated_key(
        &mut self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), BackupError> {
        let BackupKey::ToGenerate {
            path,
            identity_file: configured,
        } = &self.key
        else {
            return Ok(());
        };
        let (path, configured) = (path.clone(), configured.clone());
        let (public, created) = crate::default_key::ensure_default_identity(&path, now)?;
        let recipients = vec![public];
        let identity_file = check_identity_file(
            configured.as_deref().unwrap_or(&path),
            &recipients,
            &self.destinations,
        )?;
        self.recipients = recipients;
        self.identity_file = Some(identity_file);
        self.key = BackupKey::Generated { path, created };
        Ok(())
    }
}

/// The identity file must exist, decrypt what the server writes (its key is one of the
/// recipients), and not sit inside a local destination, where a thief of the backups would
/// find the key with them.
fn check_identity_file(
    path: &Path,
    recipients: &[age::x25519::Recipient],
    destinations: &[DestinationSettings],
) -> Result<PathBuf, BackupError> {
    const KEY: &str = "backup.identity_file";
    let path =
        std::path::absolute(path).map_err(|e| invalid(KEY, format!("{}: {e}", path.display())))?;
    let ids =
        crate::crypt::Identities::from_file(&path).map_err(|e| invalid(KEY, e.to_string()))?;
    let wanted: Vec<String> = recipients.iter().map(|r| r.to_string()).collect();
    if !ids.public_keys().iter().any(|k| wanted.contains(k)) {
        return Err(invalid(
            KEY,
            format!(
                "{} holds no key of backup.recipients, so it cannot decrypt the backups",
                path.display()
            ),
        ));
    }
    for d in destinations.iter().filter(|d| d.kind == "fs") {
        let Some(root) = d.root.as_deref().map(Path::new) else {
            continue;
        };
        let root = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
        if path.starts_with(&root) {
            return Err(invalid(
                KEY,
                format!(
                    "{} is inside the backup destination '{}'; the private key must never live beside the backups",
                    path.display(),
                    d.name
                ),
            ));
        }
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_need_a_key_and_refuse_nonsense_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let key = age::x25519::Identity::generate().to_public().to_string();
        let ok = BackupSettings {
            recipients: vec![key.clone()],
            ..Default::default()
        };
        let c = ok.check(dir.path()).unwrap();
        assert_eq!(c.destinations.len(), 2);
        assert_eq!(c.snapshot_time.to_string(), "02:30:00");

        let bad = |f: &dyn Fn(&mut BackupSettings)| {
            let mut s = ok.clone();
            f(&mut s);
            s.check(dir.path()).unwrap_err().to_string()
        };
        assert!(bad(&|s| s.recipients = vec!["age1nonsense".into()]).contains("backup.recipients"));
        assert!(bad(&|s| s.snapshot_time = "25:00".into()).contains("backup.snapshot_time"));
        assert!(bad(&|s| s.ship_interval_seconds = 0).contains("backup.ship_interval_seconds"));
        let one = DestinationSettings::fs("a", &dir.path().join("x"));
        assert!(bad(&|s| s.destinations = vec![one.clone()]).contains("exactly two"));
        assert!(bad(&|s| s.destinations = vec![one.clone(), {
            let mut o = one.clone();
            o.name = "b".into();
            o
        }])
        .contains("same place"));
        let mut s3 = one.clone();
        s3.kind = "s3".into();
        s3.name = "b".into();
        assert!(bad(&|s| s.destinations = vec![one.clone(), s3.clone()]).contains("bucket"));

        // The identity file: must decrypt the backups and not live beside them.
        let own = age::x25519::Identity::generate();
        let ok = BackupSettings {
            recipients: vec![own.to_public().to_string()],
            ..Default::default()
        };
        let key_file = dir.path().join("key.txt");
        std::fs::write(
            &key_file,
            format!(
                "{}\n",
                secrecy::ExposeSecret::expose_secret(&own.to_string())
            ),
        )
        .unwrap();
        let mut s = ok.clone();
        s.identity_file = Some(key_file.clone());
        assert_eq!(s.check(dir.path()).unwrap().identity_file, Some(key_file));
        let stranger = dir.path().join("stranger.txt");
        std::fs::write(
            &stranger,
            format!(
                "{}\n",
                secrecy::ExposeSecret::expose_secret(
                    &age::x25519::Identity::generate().to_string()
                )
            ),
        )
        .unwrap();
        s.identity_file = Some(stranger);
        assert!(s
            .check(dir.path())
            .unwrap_err()
            .to_string()
            .contains("holds no key"));
        let beside = dir.path().join("backups").join("a");
        std::fs::create_dir_all(&beside).unwrap();
        std::fs::write(
            beside.join("key.txt"),
            format!(
                "{}\n",
                secrecy::ExposeSecret::expose_secret(&own.to_string())
            ),
        )
        .unwrap();
        s.identity_file = Some(beside.join("key.txt"));
        assert!(s
            .check(dir.path())
            .unwrap_err()
            .to_string()
            .contains("beside the backups"));
        s.identity_file = Some(dir.path().join("missing.txt"));
        assert!(s
            .check(dir.path())
            .unwrap_err()
            .to_string()
            .contains("backup.identity_file"));
    }

    #[test]
    fn without_recipients_the_server_generates_a_key_once_and_only_then() {
        let now = chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = std::path::absolute(dir.path().join("backup-identity.txt")).unwrap();
        // Before the first start: nothing yet, backups off, nothing written by a check.
        let mut c = BackupSettings::default().check(dir.path()).unwrap();
        assert!(!c.is_on());
        assert!(matches!(c.key, BackupKey::ToGenerate { .. }));
        assert!(!path.exists());
        // The start makes it and backs up to it; the server's own identity is that file.
        c.adopt_generated_key(now).unwrap();
        assert!(c.is_on());
        assert_eq!(
            c.key,
            BackupKey::Generated {
                path: path.clone(),
                created: true
            }
        );
        assert_eq!(c.identity_file.as_deref(), Some(path.as_path()));
        let text = std::fs::read_to_string(&path).unwrap();
        // Later: the same key, read, not made again.
        let mut later = BackupSettings::default().check(dir.path()).unwrap();
        assert_eq!(
            later.key,
            BackupKey::Generated {
                path: path.clone(),
                created: false
            }
        );
        later.adopt_generated_key(now).unwrap();
        assert_eq!(later.recipients[0].to_string(), c.recipients[0].to_string());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);

        // The operator's recipients: exactly as before, nothing generated.
        let other = tempfile::tempdir().unwrap();
        let key = age::x25519::Identity::generate().to_public().to_string();
        let mut own = BackupSettings {
            recipients: vec![key.clone()],
            ..Default::default()
        }
        .check(other.path())
        .unwrap();
        own.adopt_generated_key(now).unwrap();
        assert_eq!(own.key, BackupKey::Configured);
        assert_eq!(own.recipients.len(), 1);
        assert_eq!(own.recipients[0].to_string(), key);
        assert!(own.identity_file.is_none());
        assert!(!other.path().join("backup-identity.txt").exists());

        // generate_key = false: off, as before.
        let mut off = BackupSettings {
            generate_key: false,
            ..Default::default()
        }
        .check(other.path())
        .unwrap();
        off.adopt_generated_key(now).unwrap();
        assert_eq!(off.key, BackupKey::Off);
        assert!(!off.is_on());
        assert!(!other.path().join("backup-identity.txt").exists());
    }

    #[test]
    fn the_generated_key_obeys_the_identity_rule() {
        // A destination that holds the data dir would hold the key beside the backups.
        let now = chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let settings = BackupSettings {
            destinations: vec![
                DestinationSettings::fs("a", dir.path()),
                DestinationSettings::fs("b", &dir.path().join("elsewhere")),
            ],
            ..Default::default()
        };
        let mut c = settings.check(dir.path()).unwrap();
        let e = c.adopt_generated_key(now).unwrap_err().to_string();
        assert!(e.contains("beside the backups"), "{e}");
    }
}
