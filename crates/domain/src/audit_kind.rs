//! The kinds of audit record the code writes, as a type.
//!
//! Every producer of an audit record names its kind with an [`AuditKind`], so a kind cannot
//! be misspelt and the list of kinds is the enum itself: the web UI's event filter offers
//! [`AuditKind::ALL`], and a test holds the kinds table of `docs/audit.md` to it. Stored
//! records keep their kind as text ([`AuditRecord::kind`](crate::audit::AuditRecord::kind)):
//! a trail may hold kinds that are no longer written, and its hashes are over the text.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// How much an audit event matters to whoever reviews the trail, least first.
///
/// - **Info**: routine use — a request, a sign-in or sign-out, a read, a check that passed.
/// - **Notice**: a deliberate change to who may do what, to security settings, or to data as
///   a whole (accounts, roles, teams, tokens, settings, tenants, exports, restores, retention):
///   legitimate as a rule, and what a periodic review looks through.
/// - **Warning**: a refusal or a failure that may be an attack or needs an operator — failed
///   sign-ins, locks and bans, a suspected cloned passkey, a failed snapshot or restore.
/// - **Critical**: the trail or the backups can no longer be trusted, or the trail is about
///   to stop taking records — a damaged chain, a failed backup verification or restore drill,
///   a low disk under the audit files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Info,
    Notice,
    Warning,
    Critical,
}

impl Severity {
    /// Every severity, least first.
    pub const ALL: &'static [Severity] = &[
        Severity::Info,
        Severity::Notice,
        Severity::Warning,
        Severity::Critical,
    ];

    /// `info`, `notice`, `warning` or `critical`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Notice => "notice",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::ALL
            .iter()
            .copied()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| format!("unknown severity `{s}`"))
    }
}

impl Serialize for Severity {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A kind string that names no [`AuditKind`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownAuditKind(pub String);

impl fmt::Display for UnknownAuditKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown audit kind `{}`", self.0)
    }
}

impl std::error::Error for UnknownAuditKind {}

macro_rules! audit_kinds {
    ($(
        $(#[doc = $doc:literal])*
        $variant:ident = $text:literal, $severity:ident, $detail:literal;
    )*) => {
        /// The kind of an audit record: what happened. Its text ([`AuditKind::as_str`]) is what
        /// records store and searches filter by; it never changes for a kind once written.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum AuditKind {
            $(
                $(#[doc = $doc])*
                #[doc = concat!("\n\n`", $text, "` (", stringify!($severity), "); detail: ", $detail)]
                $variant,
            )*
        }

        impl AuditKind {
            /// Every kind, in the order of the table in `docs/audit.md`.
            pub const ALL: &'static [AuditKind] = &[$(AuditKind::$variant,)*];

            /// The kind as records store it, e.g. `auth.sign_in.failed`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(AuditKind::$variant => $text,)*
                }
            }

            /// How much the event matters to a reviewer.
            pub const fn severity(self) -> Severity {
                match self {
                    $(AuditKind::$variant => Severity::$severity,)*
                }
            }

            /// What the record's `detail` holds, in one line.
            pub const fn detail(self) -> &'static str {
                match self {
                    $(AuditKind::$variant => $detail,)*
                }
            }
        }
    };
}

audit_kinds! {
    /// Every HTTPS request, and every request to the plain-HTTP redirect listener.
    HttpAccess = "http.access", Info,
        "none; `{listener: \"http\"}` for the redirect listener (the request is in the record's own fields)";
    /// Requests that authenticated no one, refused by the per-address limit or the low-disk
    /// guard, or static files served without signing in: one record per address, chain and minute.
    AccessSummarised = "access.summarised", Notice,
        "`{minute, count, first, last, paths, reasons}`: up to 10 sample paths, counts per reason";
    /// The audit filesystem's free space fell below the threshold (once per crossing).
    SystemDiskLow = "system.disk_low", Critical,
        "`{available_bytes, total_bytes, min_free_bytes, min_free_percent}`";
    /// A user signed in (API, passkey or web form).
    AuthSignInSucceeded = "auth.sign_in.succeeded", Info,
        "`{via, enrolment_required}`";
    /// A sign-in was refused, or a signed-in user's current password was wrong.
    AuthSignInFailed = "auth.sign_in.failed", Warning,
        "`{reason, via}` (`locked_until` with reason `locked`)";
    /// Failures locked a username.
    AuthAccountLocked = "auth.account_locked", Warning,
        "`{until, lock_count, known_user, failures, via}`";
    /// Failures from one client address started a ban.
    AuthAddressBanned = "auth.address_banned", Warning,
        "`{until, via}`";
    /// An administrator lifted a sign-in lock.
    AuthLockLifted = "auth.lock_lifted", Notice,
        "`{username}`";
    /// A user ended one of their sessions.
    AuthSessionRevoked = "auth.session_revoked", Info,
        "`{session}` (and `via`)";
    /// An administrator or the operator ended all of a user's access.
    UserSessionsRevoked = "user.sessions_revoked", Notice,
        "`{user_id, username, ended, api_tokens, invites, via}`";
    /// A user confirmed their password or authenticator code inside a session.
    AuthStepUp = "auth.step_up", Info,
        "`{via}`";
    /// A user confirmed a TOTP authenticator.
    AuthTotpEnabled = "auth.totp_enabled", Notice,
        "none, or `{via}`";
    /// A user turned TOTP off.
    AuthTotpDisabled = "auth.totp_disabled", Notice,
        "`{proof}` (which proof was given) and `via`";
    /// A user made new recovery codes.
    AuthRecoveryCodesRegenerated = "auth.recovery_codes_regenerated", Notice,
        "none, or `{via}`";
    /// A recovery code was used at sign-in.
    AuthRecoveryCodeUsed = "auth.recovery_code_used", Notice,
        "`{via}`";
    /// A user added a passkey.
    AuthPasskeyAdded = "auth.passkey_added", Notice,
        "`{passkey, name}` (and `via`)";
    /// A user renamed a passkey.
    AuthPasskeyRenamed = "auth.passkey_renamed", Info,
        "`{passkey, name}` (and `via`)";
    /// A user removed a passkey.
    AuthPasskeyRemoved = "auth.passkey_removed", Notice,
        "`{passkey, name}` (and `via`)";
    /// A passkey's signature counter did not go up: the authenticator may have been copied.
    AuthPasskeyCloneSuspected = "auth.passkey_clone_suspected", Warning,
        "`{passkey, name, via}`";
    /// A user was required (or no longer required) to use a second factor.
    UsersTwoFactorRequired = "users.two_factor_required", Notice,
        "`{user, username, required}` (and `via`)";
    /// An invitation link was made.
    UserInvited = "user.invited", Notice,
        "`{user_id, username, expires_at}` (and `via`; never the link)";
    /// An invitation was withdrawn.
    UserInviteWithdrawn = "user.invite_withdrawn", Notice,
        "`{user_id, username}` (and `via`)";
    /// An invitation was used.
    UserInviteAccepted = "user.invite_accepted", Notice,
        "`{user_id, username, via}`";
    /// An API token was made.
    ApiTokenCreated = "api_token.created", Notice,
        "`{token_id, name, scopes, expires_at}`, plus `for_user_id`, `for_username` for a service user's";
    /// An API token was revoked.
    ApiTokenRevoked = "api_token.revoked", Notice,
        "`{token_id}`, plus `for_user_id`, `for_username` for a service user's";
    /// The tenant's password policy changed.
    SettingsPasswordPolicyChanged = "settings.password_policy_changed", Notice,
        "`{before, after}` (and `via`)";
    /// The tenant's session settings changed.
    SettingsSessionsChanged = "settings.sessions_changed", Notice,
        "`{before, after}` (and `via`)";
    /// The tenant's second-factor setting changed.
    SettingsTwoFactorChanged = "settings.two_factor_changed", Notice,
        "`{before, after}` (and `via`)";
    /// An identity provider for single sign-on was registered.
    SettingsIdentityProviderCreated = "settings.identity_provider_created", Notice,
        "`{provider_id, name, kind, issuer, require_mfa, jit_role, sso_only}` (never the secret)";
    /// An identity provider's settings changed.
    SettingsIdentityProviderChanged = "settings.identity_provider_changed", Notice,
        "`{provider_id, name, changed}` (`client_secret` named when replaced, never shown)";
    /// An identity provider was removed, with its links.
    SettingsIdentityProviderDeleted = "settings.identity_provider_deleted", Notice,
        "`{provider_id, name}`";
    /// The tenant's SSO-only policy changed.
    SettingsSsoOnlyChanged = "settings.sso_only_changed", Notice,
        "`{before, after}` (and `via`)";
    /// A provider's account was linked to a user (at a first single sign-on).
    AuthSsoLinked = "auth.sso.linked", Notice,
        "`{provider_id, provider, subject, by}` (`by`: `email` or `jit`)";
    /// A user's link to a provider was removed.
    AuthSsoUnlinked = "auth.sso.unlinked", Notice,
        "`{provider_id, provider, user_id}`";
    /// A user signed out.
    AuthSignOut = "auth.sign_out", Info,
        "none";
    /// A user was made (by an administrator, the CLI or at start-up).
    UserCreated = "user.created", Notice,
        "`{user_id, username, role}`, plus `by` for the operator";
    /// A user's status became disabled.
    UserDisabled = "user.disabled", Notice,
        "`{user_id, username, role: {from, to, from_name, to_name}, status: {from, to}}`";
    /// A user's status became active.
    UserEnabled = "user.enabled", Notice,
        "`{user_id, username, role: {from, to, from_name, to_name}, status: {from, to}}`";
    /// A user's role changed (and not their status).
    UserRoleChanged = "user.role_changed", Notice,
        "`{user_id, username, role: {from, to, from_name, to_name}, status: {from, to}}`";
    /// A user was changed, neither role nor status.
    UserChanged = "user.changed", Notice,
        "`{user_id, username, role: {from, to, from_name, to_name}, status: {from, to}}`";
    /// A role was made.
    RoleCreated = "role.created", Notice,
        "`{before, after}`: each `null` or `{id, name, description, rights, visibility}`";
    /// A role was changed.
    RoleChanged = "role.changed", Notice,
        "`{before, after}`: each `null` or `{id, name, description, rights, visibility}`";
    /// A role was deleted.
    RoleDeleted = "role.deleted", Notice,
        "`{before, after}`: each `null` or `{id, name, description, rights, visibility}`";
    /// A team was made.
    TeamCreated = "team.created", Notice,
        "`{before, after}`: each `null` or `{id, name, description}`";
    /// A team was changed.
    TeamChanged = "team.changed", Notice,
        "`{before, after}`: each `null` or `{id, name, description}`";
    /// A team was deleted.
    TeamDeleted = "team.deleted", Notice,
        "`{before, after}`: `before` lists the team's `members`";
    /// A user joined a team.
    TeamMemberAdded = "team.member_added", Notice,
        "`{team_id, team, user_id, before: {member}, after: {member}}`";
    /// A user left a team.
    TeamMemberRemoved = "team.member_removed", Notice,
        "`{team_id, team, user_id, before: {member}, after: {member}}`";
    /// A user changed their profile.
    UserProfileUpdated = "user.profile_updated", Info,
        "`{changed}`: the fields that changed (and `via`)";
    /// A user changed their own password.
    UserPasswordChanged = "user.password_changed", Notice,
        "`{}` (and `via`)";
    /// An administrator or the operator set a user's password.
    UserPasswordReset = "user.password_reset", Notice,
        "`{user_id, username, via}`";
    /// A tenant was made.
    TenantCreated = "tenant.created", Notice,
        "`{tenant, name}`";
    /// A tenant was suspended.
    TenantSuspended = "tenant.suspended", Notice,
        "`{tenant}`";
    /// A suspended tenant was resumed.
    TenantResumed = "tenant.resumed", Notice,
        "`{tenant}`";
    /// The operator listed the tenants.
    TenantListed = "tenant.listed", Info,
        "`{via, count}`";
    /// An operator announced a maintenance window.
    MaintenanceScheduled = "ops.maintenance.scheduled", Notice,
        "`{id, summary, starts_at, ends_at, components, emergency, reason, via}`";
    /// An operator cancelled an announced maintenance window.
    MaintenanceCancelled = "ops.maintenance.cancelled", Notice,
        "`{id, summary, via}`";
    /// An operator opened an incident.
    IncidentOpened = "ops.incident.opened", Warning,
        "`{id, title, status, impact, components, via}`";
    /// An operator added an update to an incident's timeline (or resolved it).
    IncidentUpdated = "ops.incident.updated", Notice,
        "`{id, status, via}`";
    /// An operator wrote an incident's post-incident review.
    IncidentReviewed = "ops.incident.reviewed", Info,
        "`{id, via}`";
    /// An operator set or cleared a component's state on the status page.
    StatusOverridden = "ops.status.overridden", Notice,
        "`{component, state, reason, via}` (`state` null when cleared)";
    /// A tenant's administrator or an operator subscribed an address or a webhook to the
    /// status page's announcements.
    StatusSubscribed = "status.subscribed", Notice,
        "`{id, kind, target, via}` (a webhook's URL without its query)";
    /// A subscription to the status page's announcements was removed.
    StatusUnsubscribed = "status.unsubscribed", Notice,
        "`{id, kind, target, via}` (`via: \"link\"` for the unsubscribe link)";
    /// An operator API token was made.
    OperatorTokenCreated = "ops.token.created", Warning,
        "`{id, name, via}`";
    /// An operator API token was revoked.
    OperatorTokenRevoked = "ops.token.revoked", Notice,
        "`{id, name, via}`";
    /// The operator listed a tenant's users.
    UserListed = "user.listed", Info,
        "`{via, count}`";
    /// The operator searched a chain.
    AuditSearched = "audit.searched", Info,
        "`{via, from, to, user, ip, event, records}`";
    /// The trail was exported as CSV or JSON lines.
    AuditExported = "audit.exported", Notice,
        "`{format, from, to, user, ip, event}` (and `via`)";
    /// CRM records were exported as CSV or JSON lines.
    RecordsExported = "records.exported", Notice,
        "`{type, format, q, filters, sort}` (and `via`)";
    /// The chains were verified (daily job or CLI).
    AuditVerified = "audit.verified", Info,
        "`{chains, intact, damaged}` (job) or `{via, chains, damaged}` (CLI)";
    /// The daily verification found damage in a chain.
    AuditVerifyFailed = "audit.verify.failed", Critical,
        "`{chain, kind, location, detail, damage_count}`";
    /// Retention removed a chain's old days; the anchor the rest verifies from.
    AuditPurged = "audit.purged", Notice,
        "`{before_day, through_seq, through_hash}`";
    /// The operator ran the snapshots of every tenant.
    BackupRun = "backup.run", Info,
        "`{failed}`: how many snapshots failed";
    /// A tenant was restored.
    BackupRestored = "backup.restored", Notice,
        "the outcome: `{tenant, into, at, snapshot, snapshot_at, replayed, …, tables}`";
    /// A restore asked for from the API or web UI failed.
    BackupRestoreFailed = "backup.restore.failed", Warning,
        "`{job, at, into, error}`";
    /// Nightly snapshots failed.
    BackupSnapshotFailed = "backup.snapshot.failed", Warning,
        "`{failed}`: the tenants whose snapshot failed";
    /// The daily restore drill of a tenant failed.
    BackupDrillFailed = "backup.drill.failed", Critical,
        "the drill's record: `{id, tenant, point, snapshot, outcome, error, …}`";
    /// The operator checked the backups and they were sound.
    BackupVerified = "backup.verified", Info,
        "`{checked, problems}`";
    /// The operator checked the backups and found problems.
    BackupVerifyFailed = "backup.verify.failed", Critical,
        "`{checked, problems}`";
}

impl AuditKind {
    /// The kind whose text is `s`, if the code writes it.
    pub fn parse(s: &str) -> Option<AuditKind> {
        AuditKind::ALL.iter().copied().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for AuditKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuditKind {
    type Err = UnknownAuditKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AuditKind::parse(s).ok_or_else(|| UnknownAuditKind(s.to_string()))
    }
}

impl From<AuditKind> for String {
    fn from(kind: AuditKind) -> String {
        kind.as_str().to_string()
    }
}

impl AsRef<str> for AuditKind {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Serialize for AuditKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for AuditKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, HashSet};

    #[test]
    fn every_kind_has_a_well_formed_unique_text_and_a_detail() {
        let mut texts = HashSet::new();
        for &kind in AuditKind::ALL {
            let text = kind.as_str();
            assert!(texts.insert(text), "{text} twice");
            let well_formed = text.split('.').count() >= 2
                && text.split('.').all(|part| {
                    !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                });
            assert!(well_formed, "{text}");
            assert!(
                !kind.detail().is_empty(),
                "{text} says what its detail holds"
            );
        }
        assert_eq!(AuditKind::ALL.len(), texts.len());
    }

    #[test]
    fn kinds_parse_from_and_print_as_their_text() {
        for &kind in AuditKind::ALL {
            assert_eq!(kind.as_str().parse::<AuditKind>(), Ok(kind));
            assert_eq!(AuditKind::parse(kind.as_str()), Some(kind));
            assert_eq!(kind.to_string(), kind.as_str());
            assert_eq!(String::from(kind), kind.as_str());
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::json!(kind.as_str())
            );
            assert_eq!(
                serde_json::from_value::<AuditKind>(serde_json::json!(kind.as_str())).unwrap(),
                kind
            );
        }
        assert_eq!(
            "auth.sign_in.maybe".parse::<AuditKind>(),
            Err(UnknownAuditKind("auth.sign_in.maybe".into()))
        );
        assert_eq!(AuditKind::parse("HTTP.ACCESS"), None);
        assert_eq!(AuditKind::parse(""), None);
    }

    /// Texts other code and stored records rely on do not change.
    #[test]
    fn the_texts_are_the_stored_ones() {
        assert_eq!(AuditKind::HttpAccess.as_str(), crate::audit::ACCESS);
        assert_eq!(AuditKind::HttpAccess.as_str(), "http.access");
        assert_eq!(AuditKind::AuthSignInFailed.as_str(), "auth.sign_in.failed");
        assert_eq!(
            AuditKind::UsersTwoFactorRequired.as_str(),
            "users.two_factor_required"
        );
        assert_eq!(
            AuditKind::BackupRestoreFailed.as_str(),
            "backup.restore.failed"
        );
        assert_eq!(AuditKind::AuditVerifyFailed.as_str(), "audit.verify.failed");
    }

    #[test]
    fn attacks_and_broken_trails_are_warnings_or_worse() {
        for kind in [
            AuditKind::AuthSignInFailed,
            AuditKind::AuthAccountLocked,
            AuditKind::AuthAddressBanned,
            AuditKind::AuthPasskeyCloneSuspected,
            AuditKind::SystemDiskLow,
            AuditKind::BackupRestoreFailed,
            AuditKind::BackupSnapshotFailed,
            AuditKind::BackupDrillFailed,
            AuditKind::BackupVerifyFailed,
            AuditKind::AuditVerifyFailed,
        ] {
            assert!(kind.severity() >= Severity::Warning, "{kind}");
        }
        assert_eq!(AuditKind::AuditVerifyFailed.severity(), Severity::Critical);
        assert_eq!(AuditKind::HttpAccess.severity(), Severity::Info);
        for &severity in Severity::ALL {
            assert_eq!(severity.as_str().parse::<Severity>(), Ok(severity));
        }
        // Every kind whose text says it failed is at least a warning.
        for &kind in AuditKind::ALL {
            if kind.as_str().ends_with(".failed") {
                assert!(kind.severity() >= Severity::Warning, "{kind}");
            }
        }
    }

    /// The kinds table of `docs/audit.md` (the one whose header starts `| `kind` |`): each
    /// row names one or more kinds in its first column and their severity in the second.
    fn documented_kinds() -> BTreeMap<String, String> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/audit.md");
        let doc = std::fs::read_to_string(path).expect("docs/audit.md");
        let mut lines = doc.lines().skip_while(|l| !l.starts_with("| `kind` |"));
        let header = lines.next().expect("docs/audit.md has the kinds table");
        let columns: Vec<&str> = header.split('|').map(str::trim).collect();
        assert_eq!(
            columns.get(2).copied(),
            Some("Severity"),
            "the second column of the kinds table is the severity"
        );
        let mut out = BTreeMap::new();
        for row in lines.skip(1).take_while(|l| l.starts_with('|')) {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let (names, severity) = (cells[1], cells[2]);
            let kinds: Vec<&str> = names
                .split('`')
                .skip(1)
                .step_by(2)
                .filter(|s| !s.is_empty())
                .collect();
            assert!(
                !kinds.is_empty(),
                "a row of the kinds table names no kind: {row}"
            );
            for kind in kinds {
                let before = out.insert(kind.to_string(), severity.to_string());
                assert!(before.is_none(), "{kind} has two rows in docs/audit.md");
            }
        }
        out
    }

    #[test]
    fn the_kinds_table_in_docs_audit_md_is_the_enum() {
        let documented = documented_kinds();
        for &kind in AuditKind::ALL {
            match documented.get(kind.as_str()) {
                Some(severity) => assert_eq!(
                    severity,
                    kind.severity().as_str(),
                    "docs/audit.md gives {kind} another severity"
                ),
                None => panic!("docs/audit.md has no row for {kind}"),
            }
        }
        for name in documented.keys() {
            assert!(
                AuditKind::parse(name).is_some(),
                "docs/audit.md names `{name}`, which is no AuditKind"
            );
        }
    }
}
