//! Search words: how a record's text and a query are normalised so that they meet.
//!
//! Both databases index the same text (`search_docs.words`, see [`crate::search_index`]):
//! the record's words, lowercased and with accents folded (`Åse` → `ase`), separated by
//! single spaces. Folding happens here, in Rust, not in a database tokenizer, so that SQLite
//! FTS5 and PostgreSQL see identical words and a query is normalised by the same code as the
//! text it looks for. An e-mail address is a word of its own (and its parts are words too);
//! a phone number is also the word of its digits, so `+47 22` and `4722` find
//! `+47 22 33 44 55`.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// The longest indexed word; longer words are cut (a prefix of them still matches).
const MAX_TOKEN: usize = 48;

/// At most so many words of a query count; more would only make a slower query.
const MAX_QUERY_WORDS: usize = 8;

/// Characters besides letters and digits that an e-mail word keeps. They are the FTS5
/// tokenizer's `tokenchars` (migration 0013): with them an address is one token there.
const EMAIL_CHARS: &str = "@._+-";

/// Lowercase, accents removed: `Åse` → `ase`, `Ærø` → `aero`, `Straße` → `strasse`.
pub(crate) fn fold(text: &str) -> String {
    if text.is_ascii() {
        return text.to_ascii_lowercase();
    }
    let mut out = String::with_capacity(text.len());
    for c in text.nfd() {
        if is_combining_mark(c) {
            continue;
        }
        for l in c.to_lowercase() {
            // Letters that Unicode does not decompose into a base letter and a mark.
            match l {
                'ø' => out.push('o'),
                'æ' => out.push_str("ae"),
                'œ' => out.push_str("oe"),
                'ß' => out.push_str("ss"),
                'đ' | 'ð' => out.push('d'),
                'ł' => out.push('l'),
                'þ' => out.push_str("th"),
                'ı' => out.push('i'),
                other => out.push(other),
            }
        }
    }
    out
}

/// The index words for a record's searchable text, sorted, each once.
pub(crate) fn tokens<'a>(texts: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut out = Vec::new();
    for text in texts {
        let folded = fold(text);
        if folded.contains('@') {
            // An e-mail address is found by its whole text as well as by its parts.
            push(&mut out, &email_word(folded.trim()));
        }
        if is_phone_like(&folded) {
            let digits: String = folded.chars().filter(char::is_ascii_digit).collect();
            push(&mut out, &digits);
        }
        for word in folded.split(|c: char| !c.is_alphanumeric()) {
            push(&mut out, word);
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The indexed text of a record: its [`tokens`], separated by single spaces.
pub(crate) fn words<'a>(texts: impl IntoIterator<Item = &'a str>) -> String {
    tokens(texts).join(" ")
}

/// The words of a query, normalised like the index, each once, at most
/// [`MAX_QUERY_WORDS`].
pub(crate) fn query_words(q: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in fold(q).split_whitespace() {
        if part.contains('@') {
            push(&mut out, &email_word(part));
        } else if is_phone_like(part) {
            let digits: String = part.chars().filter(char::is_ascii_digit).collect();
            push(&mut out, &digits);
        } else {
            for word in part.split(|c: char| !c.is_alphanumeric()) {
                push(&mut out, word);
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|w| seen.insert(w.clone()));
    out.truncate(MAX_QUERY_WORDS);
    out
}

/// Words of the legacy index (before migration 0013: lowercased, not folded) in today's
/// form, for journal after-images written then.
pub(crate) fn legacy_words<'a>(tokens: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = Vec::new();
    for t in tokens {
        let folded = fold(t);
        if folded.contains('@') {
            push(&mut out, &email_word(&folded));
        } else {
            push(&mut out, &folded);
        }
    }
    out.sort();
    out.dedup();
    out.join(" ")
}

/// Which matches a search part asks the index for. A record matches `Exact` when every
/// query word is one of its words, and `Prefix` when every query word starts one of its
/// words but not all are whole words: exact matches come first, as a user expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    Exact,
    Prefix,
}

impl Part {
    pub(crate) const BOTH: [Part; 2] = [Part::Exact, Part::Prefix];

    /// The rank in the result order (the cursor carries it).
    pub(crate) fn rank(self) -> u8 {
        match self {
            Part::Exact => 0,
            Part::Prefix => 1,
        }
    }
}

/// An FTS5 query for the records of `entity` in `part`. Built only from normalised words,
/// each quoted: nothing a user types is FTS5 syntax here.
pub(crate) fn fts5_query(entity: &str, words: &[String], part: Part) -> String {
    let quote = |w: &str| format!("\"{}\"", w.replace('"', "\"\""));
    let exact: Vec<String> = words
        .iter()
        .map(|w| format!("words : {}", quote(w)))
        .collect();
    let kind = format!("entity : {}", quote(entity));
    match part {
        Part::Exact => format!("{kind} AND {}", exact.join(" AND ")),
        Part::Prefix => {
            let prefix: Vec<String> = words
                .iter()
                .map(|w| format!("words : {} *", quote(w)))
                .collect();
            format!(
                "({kind} AND {}) NOT ({})",
                prefix.join(" AND "),
                exact.join(" AND ")
            )
        }
    }
}

/// The PostgreSQL `tsquery` (in its text form, for a cast) for the records of `entity` in
/// `part`. Every lexeme is quoted, so the words are taken as they are.
pub(crate) fn tsquery(entity: &str, words: &[String], part: Part) -> String {
    let quote = |w: &str| format!("'{}'", w.replace('\\', "\\\\").replace('\'', "''"));
    let exact: Vec<String> = words.iter().map(|w| quote(w)).collect();
    let kind = quote(&format!("#{entity}"));
    match part {
        Part::Exact => format!("{kind} & {}", exact.join(" & ")),
        Part::Prefix => {
            let prefix: Vec<String> = words.iter().map(|w| format!("{}:*", quote(w))).collect();
            format!("{kind} & {} & !({})", prefix.join(" & "), exact.join(" & "))
        }
    }
}

fn email_word(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric() || EMAIL_CHARS.contains(*c))
        .collect()
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
            "ase",
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
    fn case_and_accents_fold() {
        for q in ["Åse", "åse", "ASE", "ase", "ÅSE"] {
            assert_eq!(query_words(q), ["ase"], "{q}");
        }
        assert_eq!(fold("Søren Ærø Straße Łódź"), "soren aero strasse lodz");
        assert_eq!(fold("Café"), fold("Cafe\u{301}"));
    }

    #[test]
    fn query_words_match_index_words() {
        assert_eq!(query_words("  Nord  ÅSE "), ["nord", "ase"]);
        assert_eq!(query_words("+47 22"), ["47", "22"]);
        assert_eq!(query_words("+47-22-33"), ["472233"]);
        assert_eq!(query_words("'; DROP TABLE x;--"), ["drop", "table", "x"]);
        assert_eq!(query_words("ann ann"), ["ann"]);
        assert!(query_words("   ").is_empty());
    }

    #[test]
    fn queries_quote_every_word_and_carry_no_user_syntax() {
        for q in [
            "\"a\" OR b*",
            "NEAR(a b)",
            "-x ^y (z)",
            "a:b 'c' \\d",
            "x@y\"z.com",
        ] {
            let words = query_words(q);
            for part in Part::BOTH {
                let f = fts5_query("person", &words, part);
                // Outside the quoted words only our own operators remain.
                let mut outside = String::new();
                let mut inside = false;
                for c in f.chars() {
                    if c == '"' {
                        inside = !inside;
                    } else if !inside {
                        outside.push(c);
                    }
                }
                for t in outside.split_whitespace() {
                    let t = t.trim_matches(['(', ')']);
                    assert!(
                        ["", "AND", "NOT", "*", ":", "words", "entity"].contains(&t),
                        "{q:?} gave {f:?}"
                    );
                }
                // Every lexeme is quoted; the words hold no quote to break out with.
                let t = tsquery("person", &words, part);
                assert_eq!(t.matches('\'').count() % 2, 0, "{t}");
            }
        }
    }

    #[test]
    fn legacy_tokens_become_todays_words() {
        assert_eq!(
            legacy_words(["åse", "ase@example.com", "nordmann"]),
            "ase ase@example.com nordmann"
        );
    }
}
