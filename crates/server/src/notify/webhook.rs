//! Signed webhooks: a JSON POST whose body is signed with the subscription's secret
//! (`Skjold-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`), so the
//! receiver can check that it came from this server and is not a replay. Targets are checked
//! before every delivery: https only, and no loopback, private or link-local address unless
//! the operator allows it (`[webhooks] allow_private_targets`).

use hmac::{Hmac, Mac};
use sha2::Sha256;

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("{0}")]
    Target(String),
    #[error("the receiver did not answer: {0}")]
    Unreachable(String),
    #[error("the receiver answered {0}")]
    Refused(u16),
}

/// The signature header's value for `body` sent at `unix_seconds`.
pub fn signature(secret: &str, unix_seconds: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{unix_seconds}.").as_bytes());
    mac.update(body);
    format!(
        "t={unix_seconds},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

/// Checks a webhook URL's form (the application layer's rule) and where its name leads now:
/// a name that resolves into the operator's network is refused like a literal address.
pub async fn check_target(url: &str, allow_private: bool) -> Result<url::Url, WebhookError> {
    let parsed = skjold_app::subscriptions::check_webhook_url(url, allow_private)
        .map_err(WebhookError::Target)?;
    if allow_private {
        return Ok(parsed);
    }
    let host = parsed.host_str().unwrap_or_default().to_string();
    let port = parsed.port_or_known_default().unwrap_or(443);
    let addrs = tokio::net::lookup_host((host.trim_matches(['[', ']']), port))
        .await
        .map_err(|e| WebhookError::Unreachable(format!("{host}: {e}")))?;
    for addr in addrs {
        if skjold_app::subscriptions::is_internal_address(addr.ip()) {
            return Err(WebhookError::Target(format!(
                "{host} resolves to a private address; webhooks may not go there"
            )));
        }
    }
    Ok(parsed)
}

/// Posts `body` to the target, signed; a 2xx answer is delivered.
pub async fn deliver(
    client: &reqwest::Client,
    url: &str,
    secret: &str,
    event: &str,
    unix_seconds: i64,
    body: Vec<u8>,
    allow_private: bool,
) -> Result<(), WebhookError> {
    let target = check_target(url, allow_private).await?;
    let res = client
        .post(target)
        .header("content-type", "application/json")
        .header("user-agent", "Skjold-Webhook/1")
        .header("skjold-event", event)
        .header("skjold-signature", signature(secret, unix_seconds, &body))
        .body(body)
        .send()
        .await
        .map_err(|e| WebhookError::Unreachable(e.without_url().to_string()))?;
    if res.status().is_success() {
        Ok(())
    } else {
        Err(WebhookError::Refused(res.status().as_u16()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn targets_inside_the_operators_network_are_refused() {
        for bad in [
            "http://example.com/hook",
            "https://127.0.0.1/hook",
            "https://10.1.2.3/hook",
            "https://192.168.1.1/",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/",
            "https://[fd00::1]/",
            "https://localhost/",
            "https://user:pw@example.com/",
            "ftp://example.com/",
        ] {
            assert!(check_target(bad, false).await.is_err(), "{bad}");
        }
        assert!(check_target("http://127.0.0.1:9/x", true).await.is_ok());
    }

    #[test]
    fn the_signature_covers_time_and_body() {
        let a = signature("s3cret", 1_700_000_000, b"{}");
        assert!(a.starts_with("t=1700000000,v1="));
        assert_ne!(a, signature("s3cret", 1_700_000_001, b"{}"));
        assert_ne!(a, signature("s3cret", 1_700_000_000, b"{ }"));
        assert_ne!(a, signature("other", 1_700_000_000, b"{}"));
    }
}
