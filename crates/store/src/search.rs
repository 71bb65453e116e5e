//! Word-prefix search terms. A record is indexed by the words of its searchable fields; a
//! query matches records that have, for every query word, a word starting with it.

/// The longest indexed word; longer words are cut (a prefix of them still matches).
const MAX_TOKEN: usize = 48;

/// The index words for a record's searchable text.
pub(crate) fn tokens<'a>(texts: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut out = Vec::new();
    for text in texts {
        let lower = text.to_lowercase();
        if lower.contains('@') {
            // An e-mail address is found by its whole text as well as by its parts.
            push(&mut out, lower.trim());
        }
        if is_phone_like(&lower) {
            let digits: String = lower.chars().filter(char::is_ascii_digit).collect();
            push(&mut out, &digits);
        }
        for word in lower.split(|c: char| !c.is_alphanumeric()) {
            push(&mut out, word);
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The words of a query, normalised like the index.
pub(crate) fn query_words(q: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in q.to_lowercase().split_whitespace() {
        if part.contains('@') {
            push(&mut out, part);
        } else if is_phone_like(part) {
            let digits: String = part.chars().filter(char::is_ascii_digit).collect();
            push(&mut out, &digits);
        } else {
            for word in part.split(|c: char| !c.is_alphanumeric()) {
                push(&mut out, word);
            }
        }
    }
    out.dedup();
    out.truncate(8);
    out
}

/// The exclusive upper bound of the range of words that start with `prefix`, in byte order.
pub(crate) fn prefix_end(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}

fn is_phone_like(s: &str) -> bool {
    s.chars().filter(char::is_ascii_digit).count() >= 3
        && s.chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c))
}

fn push(out: &mut Vec<String>, word: &str) {
    if word.is_empty() {
        return;
    }
    let cut: String = word.chars().take(MAX_TOKEN).collect();
    out.push(cut);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_words_emails_and_phone_digits() {
        let t = tokens(["Åse Nordmann-Berg", "ase@Example.com", "+47 22 33-44"]);
        for w in [
            "åse",
            "nordmann",
            "berg",
            "ase@example.com",
            "example",
            "com",
            "47223344",
        ] {
            assert!(t.contains(&w.to_string()), "{w} missing from {t:?}");
        }
    }

    #[test]
    fn query_words_match_index_words() {
        assert_eq!(query_words("  Nord  ÅSE "), ["nord", "åse"]);
        assert_eq!(query_words("+47 22"), ["47", "22"]);
        assert_eq!(query_words("+47-22-33"), ["472233"]);
        assert_eq!(query_words("'; DROP TABLE x;--"), ["drop", "table", "x"]);
        assert!(query_words("   ").is_empty());
    }

    #[test]
    fn prefix_range_contains_exactly_the_prefixed_words() {
        let end = prefix_end("ber");
        for w in ["ber", "berg", "berzzz", "berå"] {
            assert!(w >= "ber" && w < end.as_str(), "{w}");
        }
        for w in ["be", "bes", "c"] {
            assert!(!(w >= "ber" && w < end.as_str()), "{w}");
        }
    }
}
