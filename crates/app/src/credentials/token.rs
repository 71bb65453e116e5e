use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A new bearer token: 256 random bits, URL-safe, with a prefix that makes a leaked token
/// easy to recognise in a secret scanner.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!(
        "skj_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// The prefix of an API token (an integration's credential), which tells it apart from a
/// session token in the `Authorization` header.
pub const API_TOKEN_PREFIX: &str = "skjapi_";

/// A new API token: 256 random bits like a session token, with its own prefix.
pub fn new_api_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!(
        "{API_TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// What the store keeps of a token: its SHA-256, hex. A stolen database yields no usable
/// token, and lookups by hash do not compare secrets byte by byte.
pub fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The public id of a session: derived from its token hash (so no column is needed), and
/// useless for signing in (the hash of a hash).
pub fn session_id(token_hash: &str) -> String {
    hash_token(&format!("session-id:{token_hash}"))[..32].to_string()
}

/// Constant-time equality for secrets.
pub fn tokens_equal(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashes_stable() {
        let t = new_token();
        assert!(t.starts_with("skj_") && t.len() == 4 + 43);
        assert_ne!(t, new_token());
        assert_eq!(hash_token(&t), hash_token(&t));
        assert_eq!(hash_token(&t).len(), 64);
        assert!(tokens_equal("abc", "abc"));
        assert!(!tokens_equal("abc", "abd"));
    }
}
