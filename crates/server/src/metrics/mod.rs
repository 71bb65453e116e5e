//! The server's metrics in the Prometheus / OpenMetrics text format, served on a listener of
//! their own (`metrics_listen`, plain HTTP, loopback by default: they are unauthenticated),
//! never on the HTTPS application.
//!
//! Counters and histograms are counted where things happen ([`http`] for requests, the
//! sign-in code for sign-ins and lockouts); the gauges of the installation's state are read
//! at scrape time ([`gauges`]), the expensive ones at most every [`gauges::REFRESH`]. No
//! label carries a tenant's name, a username, an id, an address or a path with ids in it:
//! routes are their templates (`/:tenant/api/v1/persons/:id`), destinations the names the
//! operator gave them in the configuration.

pub mod gauges;
pub mod http;
pub mod listener;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// How a sign-in proved who it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInMethod {
    Password,
    Passkey,
    /// A second step with a TOTP code (also a wrong code, which may have meant to be a
    /// recovery code: the server cannot tell).
    Totp,
    RecoveryCode,
    /// Single sign-on through an identity provider.
    Sso,
}

impl SignInMethod {
    fn as_str(self) -> &'static str {
        match self {
            SignInMethod::Password => "password",
            SignInMethod::Sso => "sso",
            SignInMethod::Passkey => "passkey",
            SignInMethod::Totp => "totp",
            SignInMethod::RecoveryCode => "recovery_code",
        }
    }
}

/// What a lock shut out: one account (name), or one client address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockoutScope {
    Account,
    Address,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SignInLabels {
    method: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LockoutLabels {
    scope: &'static str,
}

/// Every metric family, in one registry. Cheap to share (`Arc`); counting takes no lock
/// beyond the family's read lock.
pub struct Metrics {
    registry: Registry,
    pub(crate) http: http::HttpMetrics,
    signins: Family<SignInLabels, Counter>,
    lockouts: Family<LockoutLabels, Counter>,
    pub(crate) gauges: gauges::StateGauges,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("skjold");
        let http = http::HttpMetrics::register(&mut registry);
        let signins = Family::<SignInLabels, Counter>::default();
        registry.register(
            "signins",
            "Sign-in attempts that reached a verdict, by the credential checked and the outcome",
            signins.clone(),
        );
        let lockouts = Family::<LockoutLabels, Counter>::default();
        registry.register(
            "lockouts",
            "Locks started: an account locked after failed sign-ins, or a client address banned",
            lockouts.clone(),
        );
        // Present from the start, at zero, so that a dashboard and an alert see the series.
        for method in [
            SignInMethod::Password,
            SignInMethod::Passkey,
            SignInMethod::Totp,
            SignInMethod::RecoveryCode,
            SignInMethod::Sso,
        ] {
            for outcome in ["success", "failure"] {
                let _ = signins.get_or_create(&SignInLabels {
                    method: method.as_str(),
                    outcome,
                });
            }
        }
        for scope in [LockoutScope::Account, LockoutScope::Address] {
            let _ = lockouts.get_or_create(&LockoutLabels {
                scope: scope_str(scope),
            });
        }
        let gauges = gauges::StateGauges::register(&mut registry);
        Self {
            registry,
            http,
            signins,
            lockouts,
            gauges,
        }
    }

    /// A sign-in got in (`success`) or was refused for a wrong credential (`failure`).
    pub fn sign_in(&self, method: SignInMethod, success: bool) {
        self.signins
            .get_or_create(&SignInLabels {
                method: method.as_str(),
                outcome: if success { "success" } else { "failure" },
            })
            .inc();
    }

    /// An account lock or an address ban started.
    pub fn lockout(&self, scope: LockoutScope) {
        self.lockouts
            .get_or_create(&LockoutLabels {
                scope: scope_str(scope),
            })
            .inc();
    }

    /// The registry in the OpenMetrics text format (with its closing `# EOF`).
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

fn scope_str(scope: LockoutScope) -> &'static str {
    match scope {
        LockoutScope::Account => "account",
        LockoutScope::Address => "address",
    }
}
