//! A tenant's own session timeouts and token lifetime (the tenant setting `sessions`).

/// A tenant's own session timeouts (the setting `sessions`); absent fields fall back to the
/// server's configuration.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(deny_unknown_fields)]
pub struct SessionSettings {
    /// Minutes without use after which a session ends, 1–1440; `null`: the server's default.
    #[serde(default)]
    pub idle_minutes: Option<i64>,
    /// Hours after sign-in after which a session ends however busy, 1–720; `null`: the
    /// server's default.
    #[serde(default)]
    pub absolute_hours: Option<i64>,
    /// The longest an API token may live, in days, 1–3650; `null`: 365.
    #[serde(default)]
    pub token_max_days: Option<i64>,
}

impl SessionSettings {
    pub const NAME: &'static str = "sessions";

    pub fn validate(&self) -> Result<(), crate::FieldErrors> {
        let mut errs = crate::FieldErrors::new();
        if self.idle_minutes.is_some_and(|m| !(1..=1440).contains(&m)) {
            errs.add("idle_minutes", "must be between 1 and 1440, or null");
        }
        if self.absolute_hours.is_some_and(|h| !(1..=720).contains(&h)) {
            errs.add("absolute_hours", "must be between 1 and 720, or null");
        }
        if self
            .token_max_days
            .is_some_and(|d| !(1..=3650).contains(&d))
        {
            errs.add("token_max_days", "must be between 1 and 3650, or null");
        }
        errs.into_result()
    }
}
