//! The TOTP second factor (RFC 6238: HMAC-SHA1, 6 digits, 30-second steps, one step of
//! clock drift either way), via the `totp-rs` crate, and single-use recovery codes.
//! Enrolment: `POST /me/totp` makes a secret and shows it (base32, an `otpauth://` URI and
//! its QR code as SVG); `POST /me/totp/confirm` with a first code turns it on and answers
//! ten recovery codes, once. Sign-in then needs the code (or a recovery code) as `totp`.

use rand::Rng;
use skjold_store::{StoreError, TenantDb, TotpFactor};
use totp_rs::{Algorithm, Secret, TOTP};

const STEP: u64 = 30;

/// The TOTP of a secret, labelled for authenticator apps.
pub fn totp(secret_b32: &str, issuer: &str, username: &str) -> Option<TOTP> {
    let bytes = Secret::Encoded(secret_b32.to_string()).to_bytes().ok()?;
    let clean = |s: &str| s.replace(':', " ");
    TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        STEP,
        bytes,
        Some(clean(issuer)),
        clean(username),
    )
    .ok()
}

/// A new 160-bit secret, base32 (RFC 4226's recommended size).
pub fn new_secret() -> String {
    let mut bytes = [0u8; 20];
    rand::rngs::OsRng.fill(&mut bytes);
    match Secret::Raw(bytes.to_vec()).to_encoded() {
        Secret::Encoded(s) => s,
        Secret::Raw(_) => String::new(),
    }
}

/// The time step a code belongs to, if it is valid now (±1 step), compared in constant time.
pub fn matching_step(totp: &TOTP, code: &str, now_secs: u64) -> Option<i64> {
    let code = code.trim();
    let mut found = None;
    for delta in [-1i64, 0, 1] {
        let t = (now_secs as i64 + delta * STEP as i64).max(0) as u64;
        if skjold_app::credentials::tokens_equal(&totp.generate(t), code) {
            found = Some((t / STEP) as i64);
        }
    }
    found
}

/// The QR code of a URI as an SVG document.
pub fn qr_svg(uri: &str) -> String {
    match qrcode::QrCode::new(uri.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(200, 200)
            .build(),
        Err(_) => String::new(),
    }
}

/// Ten recovery codes, `xxxx-xxxx-xxxx-xxxx` from 32 characters (80 bits each).
pub fn new_recovery_codes() -> Vec<String> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::rngs::OsRng;
    (0..10)
        .map(|_| {
            (0..4)
                .map(|_| {
                    (0..4)
                        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
                        .collect::<String>()
                })
                .collect::<Vec<_>>()
                .join("-")
        })
        .collect()
}

/// How a recovery code is stored and looked up: normalised, then SHA-256.
pub fn recovery_hash(code: &str) -> String {
    let norm: String = code
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    skjold_app::credentials::hash_token(&format!("recovery:{norm}"))
}

/// Checks a second factor at sign-in: a current TOTP code not used before, or an unused
/// recovery code. Answers which one worked, if any.
pub async fn verify(
    db: &TenantDb,
    user_id: &str,
    username: &str,
    factor: &TotpFactor,
    code: &str,
    now_secs: u64,
) -> Result<Option<&'static str>, StoreError> {
    if let Some(t) = totp(&factor.secret, "Skjold", username) {
        if let Some(step) = matching_step(&t, code, now_secs) {
            // Atomically later than the last accepted step: a replayed code fails here.
            return Ok(db.accept_totp_step(user_id, step).await?.then_some("totp"));
        }
    }
    if code.trim().len() >= 16 && db.use_recovery_code(user_id, &recovery_hash(code)).await? {
        return Ok(Some("recovery_code"));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6238_sha1_vectors() {
        // RFC 6238 appendix B, SHA-1, secret "12345678901234567890", 8 digits there; the
        // last 6 digits are what a 6-digit generator gives.
        let secret = match Secret::Raw(b"12345678901234567890".to_vec()).to_encoded() {
            Secret::Encoded(s) => s,
            Secret::Raw(_) => unreachable!(),
        };
        let t = totp(&secret, "Skjold", "ada").unwrap();
        assert_eq!(t.generate(59), "287082");
        assert_eq!(t.generate(1111111109), "081804");
        assert_eq!(t.generate(1234567890), "005924");
        assert_eq!(matching_step(&t, "287082", 59 + 30), Some(1));
        assert_eq!(matching_step(&t, "287082", 59 + 60), None);
        assert!(new_secret().len() >= 32);
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), 10);
        assert_eq!(codes[0].len(), 19);
        assert_eq!(
            recovery_hash(&codes[0].to_uppercase()),
            recovery_hash(&codes[0])
        );
        assert!(qr_svg("otpauth://totp/x").starts_with("<?xml"));
    }
}
