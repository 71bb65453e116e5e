//! The list of common passwords shipped with the binary (see `data/README.md` for where it
//! comes from): embedded gzip'd, inflated once on first use, searched by bisection.

use flate2::read::GzDecoder;
use std::io::Read;
use std::sync::OnceLock;

static LIST_GZ: &[u8] = include_bytes!("../../data/common-passwords.txt.gz");

/// The inflated list: one buffer of sorted, lowercased lines and where each line starts.
struct List {
    text: String,
    starts: Vec<u32>,
}

impl List {
    fn line(&self, i: usize) -> &str {
        let start = self.starts[i] as usize;
        let end = self
            .starts
            .get(i + 1)
            .map(|&s| s as usize - 1)
            .unwrap_or(self.text.len());
        self.text[start..end].trim_end_matches('\n')
    }

    fn contains(&self, needle: &str) -> bool {
        let (mut lo, mut hi) = (0usize, self.starts.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.line(mid).as_bytes().cmp(needle.as_bytes()) {
                std::cmp::Ordering::Equal => return true,
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
            }
        }
        false
    }
}

fn list() -> &'static List {
    static LIST: OnceLock<List> = OnceLock::new();
    LIST.get_or_init(|| {
        let mut text = String::with_capacity(3 << 20);
        // The file is part of the binary and checked by the tests below; a failure here
        // would be a broken build, and an empty list would silently weaken the policy.
        GzDecoder::new(LIST_GZ)
            .read_to_string(&mut text)
            .expect("the embedded common-password list inflates");
        let mut starts = Vec::with_capacity(200_000);
        let mut at = 0usize;
        for line in text.split_inclusive('\n') {
            if !line.trim_end_matches('\n').is_empty() {
                starts.push(at as u32);
            }
            at += line.len();
        }
        List { text, starts }
    })
}

/// How many passwords the list holds.
pub fn common_password_count() -> usize {
    list().starts.len()
}

/// Whether the password (compared in lowercase) is on the list of common passwords.
pub fn is_common_password(password: &str) -> bool {
    list().contains(&password.to_lowercase())
}

/// Inflates the list now rather than at the first password change.
pub fn preload_common_passwords() {
    let _ = list();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_large_sorted_and_found() {
        assert!(common_password_count() >= 100_000);
        let l = list();
        for i in 1..l.starts.len() {
            assert!(l.line(i - 1) < l.line(i), "sorted and unique at line {i}");
        }
        for p in [
            "password",
            "PassWord1",
            "12345678",
            "iloveyou",
            "qwertyuiop",
        ] {
            assert!(is_common_password(p), "{p} is common");
        }
        // The first and last entries are reachable by the bisection.
        assert!(is_common_password(l.line(0)));
        assert!(is_common_password(l.line(l.starts.len() - 1)));
        assert!(!is_common_password("vintage-otter-kerosene-91"));
        assert!(!is_common_password(""));
    }
}
