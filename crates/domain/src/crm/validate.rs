//! Field checks shared by the record inputs. Each normalises what it accepts (trimming,
//! empty-to-none) so that stored data has one form.

use crate::{clock, Email, FieldErrors};
use chrono::NaiveDate;

pub trait Validate {
    /// Normalises the value in place and names every field that is wrong.
    fn validate(&mut self) -> Result<(), FieldErrors>;
}

pub(crate) const SHORT: usize = 200;
pub(crate) const LONG: usize = 20_000;

pub(crate) fn required(errs: &mut FieldErrors, field: &str, value: &mut String, max: usize) {
    *value = value.trim().to_string();
    if value.is_empty() {
        errs.add(field, "must not be empty");
    } else if value.chars().count() > max {
        errs.add(field, format!("has at most {max} characters"));
    } else if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        errs.add(field, "must not contain control characters");
    }
}

pub(crate) fn optional(
    errs: &mut FieldErrors,
    field: &str,
    value: &mut Option<String>,
    max: usize,
) {
    if let Some(v) = value {
        let t = v.trim();
        if t.is_empty() {
            *value = None;
            return;
        }
        *v = t.to_string();
        if v.chars().count() > max {
            errs.add(field, format!("has at most {max} characters"));
        } else if v.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
            errs.add(field, "must not contain control characters");
        }
    }
}

pub(crate) fn email(errs: &mut FieldErrors, field: &str, value: &mut Option<String>) {
    optional(errs, field, value, 254);
    if let Some(v) = value {
        if let Err(e) = Email::parse(v) {
            errs.add(field, e);
        }
    }
}

pub(crate) fn emails(errs: &mut FieldErrors, field: &str, values: &mut Vec<String>) {
    values.retain(|v| !v.trim().is_empty());
    if values.len() > 10 {
        errs.add(field, "holds at most 10 entries");
    }
    for (i, v) in values.iter_mut().enumerate() {
        *v = v.trim().to_string();
        if let Err(e) = Email::parse(v) {
            errs.add(format!("{field}[{i}]"), e);
        }
    }
}

fn phone_ok(v: &str) -> bool {
    v.chars().count() <= 40
        && v.chars().any(|c| c.is_ascii_digit())
        && v.chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c))
}

pub(crate) fn phone(errs: &mut FieldErrors, field: &str, value: &mut Option<String>) {
    optional(errs, field, value, 40);
    if let Some(v) = value {
        if !phone_ok(v) {
            errs.add(
                field,
                "a phone number uses digits, spaces and + - ( ) . only",
            );
        }
    }
}

pub(crate) fn phones(errs: &mut FieldErrors, field: &str, values: &mut Vec<String>) {
    values.retain(|v| !v.trim().is_empty());
    if values.len() > 10 {
        errs.add(field, "holds at most 10 entries");
    }
    for (i, v) in values.iter_mut().enumerate() {
        *v = v.trim().to_string();
        if !phone_ok(v) {
            errs.add(
                format!("{field}[{i}]"),
                "a phone number uses digits, spaces and + - ( ) . only",
            );
        }
    }
}

pub(crate) fn website(errs: &mut FieldErrors, field: &str, value: &mut Option<String>) {
    optional(errs, field, value, 500);
    if let Some(v) = value {
        let lower = v.to_ascii_lowercase();
        if !(lower.starts_with("https://") || lower.starts_with("http://"))
            || v.contains(char::is_whitespace)
        {
            errs.add(field, "must be an http:// or https:// address");
        }
    }
}

pub(crate) fn record_id(errs: &mut FieldErrors, field: &str, value: &mut Option<String>) {
    if let Some(v) = value {
        *v = v.trim().to_string();
        if uuid::Uuid::try_parse(v).is_err() {
            errs.add(field, "is not a valid id");
        }
    }
}

pub(crate) fn timestamp(errs: &mut FieldErrors, field: &str, value: &mut Option<String>) {
    if let Some(v) = value {
        match clock::parse_timestamp(v.trim()) {
            Some(t) => *v = clock::format_timestamp(t),
            None => errs.add(field, "must be an RFC 3339 time, e.g. 2026-05-01T09:30:00Z"),
        }
    }
}

pub(crate) fn date(errs: &mut FieldErrors, field: &str, value: &mut Option<String>) {
    if let Some(v) = value {
        match NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d") {
            Ok(d) => *v = d.format("%Y-%m-%d").to_string(),
            Err(_) => errs.add(field, "must be a date in the form YYYY-MM-DD"),
        }
    }
}

/// Money as a decimal string with at most two decimals, normalised to exactly two.
/// Kept as text so no binary float ever touches an amount.
pub(crate) fn amount(errs: &mut FieldErrors, field: &str, value: &mut Option<String>) {
    let Some(v) = value else { return };
    let t = v.trim();
    let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
    let ok = !whole.is_empty()
        && whole.len() <= 13
        && whole.chars().all(|c| c.is_ascii_digit())
        && frac.len() <= 2
        && frac.chars().all(|c| c.is_ascii_digit())
        && !(t.contains('.') && frac.is_empty());
    if !ok {
        errs.add(
            field,
            "must be a non-negative decimal with at most two decimals, e.g. \"12500.00\"",
        );
        return;
    }
    let whole = whole.trim_start_matches('0');
    let whole = if whole.is_empty() { "0" } else { whole };
    *v = format!("{whole}.{frac:0<2}");
}

pub(crate) fn currency(errs: &mut FieldErrors, field: &str, value: &mut String) {
    *value = value.trim().to_ascii_uppercase();
    if value.len() != 3 || !value.chars().all(|c| c.is_ascii_uppercase()) {
        errs.add(
            field,
            "must be a three-letter ISO 4217 code such as EUR or NOK",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amt(s: &str) -> Result<String, FieldErrors> {
        let mut errs = FieldErrors::new();
        let mut v = Some(s.to_string());
        amount(&mut errs, "amount", &mut v);
        errs.into_result().map(|_| v.unwrap())
    }

    #[test]
    fn amounts_are_normalised_or_refused() {
        assert_eq!(amt("12500").unwrap(), "12500.00");
        assert_eq!(amt("0012.5").unwrap(), "12.50");
        assert_eq!(amt("0").unwrap(), "0.00");
        for bad in ["", "-1", "1.234", "1,5", "1e5", "12.", ".5", "abc"] {
            assert!(amt(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn optional_text_is_trimmed_and_emptied() {
        let mut errs = FieldErrors::new();
        let mut v = Some("   ".to_string());
        optional(&mut errs, "x", &mut v, 10);
        assert_eq!(v, None);
        let mut v = Some(" a\u{0}b ".to_string());
        optional(&mut errs, "x", &mut v, 10);
        assert_eq!(errs.0.len(), 1);
    }
}
