//! Advisories in the shipped dependency list, from an offline copy of the RustSec advisory
//! database (`--advisory-db PATH`, a checkout of github.com/rustsec/advisory-db).
//!
//! The dependency list is the workspace's `Cargo.lock` as this binary was built from it
//! (compiled in), walked from the `skjold` package. Cargo.lock does not mark which of a
//! workspace crate's dependencies are for its tests only, so the walk leaves out the test
//! and benchmark crates of the workspace (`skjold-testkit`, `skjold-bench`) but may still
//! name a crate only the tests use: the list errs on the side of too many, never too few.
//! The advisories that the security suite set aside after review (`deny.toml`'s
//! `[advisories] ignore`, each with its reason, also compiled in) are shown as information
//! with that reason.
//!
//! Each advisory is a Markdown file `crates/<crate>/RUSTSEC-….md` whose front matter (a
//! fenced TOML block) names the crate and the version ranges that are patched or
//! unaffected; a version in none of them is affected. Withdrawn advisories are skipped.

use crate::{Finding, Severity};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

const CARGO_LOCK: &str = include_str!("../../../Cargo.lock");
const DENY_TOML: &str = include_str!("../../../deny.toml");

/// The root of the shipped dependency graph, and the workspace's crates that are not shipped.
const ROOT: &str = "skjold";
const NOT_SHIPPED: &[&str] = &["skjold-testkit", "skjold-bench"];

/// One crate of the shipped dependency list.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Package {
    pub name: String,
    pub version: String,
}

#[derive(Deserialize)]
struct Lock {
    package: Vec<LockPackage>,
}

#[derive(Deserialize)]
struct LockPackage {
    name: String,
    version: String,
    #[serde(default)]
    dependencies: Vec<String>,
}

/// The crates the `skjold` binary is built from (see the module's note).
pub fn shipped_packages() -> Result<Vec<Package>, String> {
    packages_of(CARGO_LOCK, ROOT)
}

fn packages_of(lock_text: &str, root: &str) -> Result<Vec<Package>, String> {
    let lock: Lock = toml::from_str(lock_text).map_err(|e| format!("Cargo.lock: {e}"))?;
    let mut by_name: HashMap<&str, Vec<&LockPackage>> = HashMap::new();
    for p in &lock.package {
        by_name.entry(p.name.as_str()).or_default().push(p);
    }
    // A dependency is written `name`, or `name version` when several versions are locked
    // (and `name version (source)` when several sources are).
    let resolve = |dep: &str| -> Option<&LockPackage> {
        let mut parts = dep.split_whitespace();
        let name = parts.next()?;
        let candidates = by_name.get(name)?;
        match parts.next() {
            Some(version) => candidates.iter().copied().find(|p| p.version == version),
            None => candidates.first().copied(),
        }
    };
    let start = resolve(root).ok_or_else(|| format!("Cargo.lock has no package {root}"))?;
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    let mut todo = vec![start];
    while let Some(p) = todo.pop() {
        if NOT_SHIPPED.contains(&p.name.as_str())
            || !seen.insert((p.name.clone(), p.version.clone()))
        {
            continue;
        }
        todo.extend(p.dependencies.iter().filter_map(|d| resolve(d)));
    }
    Ok(seen
        .into_iter()
        .map(|(name, version)| Package { name, version })
        .collect())
}

#[derive(Deserialize)]
struct AdvisoryFile {
    advisory: Advisory,
    #[serde(default)]
    versions: Versions,
}

#[derive(Deserialize)]
struct Advisory {
    id: String,
    package: String,
    #[serde(default)]
    title: Option<String>,
    /// `unmaintained`, `unsound`, `notice`; absent for a vulnerability.
    #[serde(default)]
    informational: Option<String>,
    #[serde(default)]
    withdrawn: Option<toml::Value>,
}

#[derive(Deserialize, Default)]
struct Versions {
    #[serde(default)]
    patched: Vec<String>,
    #[serde(default)]
    unaffected: Vec<String>,
}

/// One advisory that applies to a shipped crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hit {
    pub id: String,
    pub package: Package,
    pub title: String,
    pub informational: Option<String>,
    pub patched: Vec<String>,
}

/// The front matter of an advisory file: the TOML between the opening ```` ```toml ```` and
/// the next ```` ``` ````. (Old advisories are plain `.toml` files: the whole file.)
fn front_matter(text: &str) -> Option<&str> {
    let rest = text.trim_start().strip_prefix("```toml")?;
    let end = rest.find("\n```")?;
    Some(&rest[..end])
}

fn affects(versions: &Versions, version: &semver::Version) -> Result<bool, String> {
    for req in versions.patched.iter().chain(&versions.unaffected) {
        let req = semver::VersionReq::parse(req).map_err(|e| format!("'{req}': {e}"))?;
        if req.matches(version) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The advisories of `db` that apply to `packages`.
pub(crate) fn scan(db: &Path, packages: &[Package]) -> Result<Vec<Hit>, String> {
    let crates = db.join("crates");
    if !crates.is_dir() {
        return Err(format!(
            "{} is not a RustSec advisory database (it has no crates/ directory)",
            db.display()
        ));
    }
    let mut versions: BTreeMap<&str, Vec<&Package>> = BTreeMap::new();
    for p in packages {
        versions.entry(p.name.as_str()).or_default().push(p);
    }
    let mut hits = Vec::new();
    for (name, locked) in versions {
        let dir = crates.join(name);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        for file in files {
            let ext = file.extension().and_then(|e| e.to_str());
            if !matches!(ext, Some("md") | Some("toml")) {
                continue;
            }
            let text = std::fs::read_to_string(&file)
                .map_err(|e| format!("reading {}: {e}", file.display()))?;
            let toml_text = if ext == Some("md") {
                front_matter(&text)
                    .ok_or_else(|| format!("{}: no TOML front matter", file.display()))?
            } else {
                &text
            };
            let mut adv: AdvisoryFile =
                toml::from_str(toml_text).map_err(|e| format!("{}: {e}", file.display()))?;
            // In the Markdown form the title is the first heading after the front matter.
            if adv.advisory.title.is_none() {
                adv.advisory.title = text
                    .lines()
                    .find_map(|l| l.strip_prefix("# "))
                    .map(|t| t.trim().to_string());
            }
            if adv.advisory.withdrawn.is_some() || adv.advisory.package != name {
                continue;
            }
            for p in &locked {
                let Ok(v) = semver::Version::parse(&p.version) else {
                    continue;
                };
                if affects(&adv.versions, &v).map_err(|e| format!("{}: {e}", file.display()))? {
                    hits.push(Hit {
                        id: adv.advisory.id.clone(),
                        package: (*p).clone(),
                        title: adv.advisory.title.clone().unwrap_or_default(),
                        informational: adv.advisory.informational.clone(),
                        patched: adv.versions.patched.clone(),
                    });
                }
            }
        }
    }
    Ok(hits)
}

/// The advisories the security suite set aside after review: id → reason.
fn set_aside() -> BTreeMap<String, String> {
    // deny.toml is checked by cargo deny in CI and parsed by a test here; should it ever
    // fail to parse, nothing is set aside (every advisory counts).
    parse_set_aside(DENY_TOML).unwrap_or_default()
}

fn parse_set_aside(deny_toml: &str) -> Result<BTreeMap<String, String>, String> {
    #[derive(Deserialize)]
    struct Deny {
        #[serde(default)]
        advisories: DenyAdvisories,
    }
    #[derive(Deserialize, Default)]
    struct DenyAdvisories {
        #[serde(default)]
        ignore: Vec<Ignored>,
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Ignored {
        Id(String),
        WithReason { id: String, reason: String },
    }
    let deny: Deny = toml::from_str(deny_toml).map_err(|e| format!("deny.toml: {e}"))?;
    Ok(deny
        .advisories
        .ignore
        .into_iter()
        .map(|i| match i {
            Ignored::Id(id) => (id, "set aside in deny.toml".to_string()),
            Ignored::WithReason { id, reason } => (id, reason),
        })
        .collect())
}

pub(crate) fn check(db: Option<&Path>) -> Vec<Finding> {
    const CHECK: &str = "advisories";
    let Some(db) = db else {
        return vec![Finding::new(
            CHECK,
            Severity::Info,
            "the shipped dependencies were not checked against the RustSec advisory database",
            "give an offline copy: skjold doctor --advisory-db PATH (git clone https://github.com/rustsec/advisory-db)",
        )];
    };
    let packages = match shipped_packages() {
        Ok(p) => p,
        Err(e) => {
            return vec![Finding::new(
                CHECK,
                Severity::Error,
                format!("the shipped dependency list cannot be read: {e}"),
                "report this; it is built into the binary",
            )]
        }
    };
    findings(&scan(db, &packages), &set_aside(), packages.len(), db)
}

pub(crate) fn findings(
    hits: &Result<Vec<Hit>, String>,
    set_aside: &BTreeMap<String, String>,
    shipped: usize,
    db: &Path,
) -> Vec<Finding> {
    const CHECK: &str = "advisories";
    let hits = match hits {
        Ok(h) => h,
        Err(e) => {
            return vec![Finding::new(
                CHECK,
                Severity::Error,
                format!("the advisory database cannot be read: {e}"),
                "point --advisory-db at a checkout of github.com/rustsec/advisory-db",
            )]
        }
    };
    let mut out = Vec::new();
    for hit in hits {
        let what = format!(
            "{} {}: {} ({})",
            hit.package.name,
            hit.package.version,
            hit.id,
            match &hit.informational {
                Some(kind) => format!("{kind}: {}", hit.title),
                None => format!("vulnerability: {}", hit.title),
            }
        );
        let upgrade = if hit.patched.is_empty() {
            format!("no fixed version of {} exists: assess whether Skjold uses the affected part, and replace the crate or record the exception in deny.toml with its reason", hit.package.name)
        } else {
            format!(
                "upgrade {} to a patched version ({}) and rebuild Skjold",
                hit.package.name,
                hit.patched.join(" or ")
            )
        };
        out.push(match (set_aside.get(&hit.id), &hit.informational) {
            (Some(reason), _) => Finding::new(
                CHECK,
                Severity::Info,
                format!("{what}: set aside after review: {reason}"),
                "nothing to do while the reason holds (deny.toml, docs/security-testing.md)",
            ),
            (None, Some(_)) => Finding::new(CHECK, Severity::Warning, what, upgrade),
            (None, None) => Finding::new(CHECK, Severity::Error, what, upgrade),
        });
    }
    if out.iter().all(|f| f.severity <= Severity::Info) {
        out.insert(
            0,
            Finding::ok(
                CHECK,
                format!(
                    "no advisory of {} applies to the {shipped} shipped crates{}",
                    db.display(),
                    if out.is_empty() {
                        String::new()
                    } else {
                        format!(" but the {} set aside after review", out.len())
                    }
                ),
            ),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCK: &str = r#"
version = 4

[[package]]
name = "skjold"
version = "0.1.0"
dependencies = ["foo 1.2.0", "bar", "skjold-testkit"]

[[package]]
name = "foo"
version = "1.2.0"
source = "registry+https://github.com/rust-lang/crates.io-index"

[[package]]
name = "foo"
version = "2.0.0"
source = "registry+https://github.com/rust-lang/crates.io-index"

[[package]]
name = "bar"
version = "0.3.1"
source = "registry+https://github.com/rust-lang/crates.io-index"
dependencies = ["foo 2.0.0"]

[[package]]
name = "skjold-testkit"
version = "0.1.0"
dependencies = ["testonly"]

[[package]]
name = "testonly"
version = "9.9.9"
source = "registry+https://github.com/rust-lang/crates.io-index"
"#;

    fn advisory(db: &Path, name: &str, id: &str, extra: &str, versions: &str) {
        let dir = db.join("crates").join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join(format!("{id}.md")),
            format!("```toml\n[advisory]\nid = \"{id}\"\npackage = \"{name}\"\ndate = \"2026-01-01\"\n{extra}\n[versions]\n{versions}\n```\n\n# Title\n\nText.\n"),
        )
        .unwrap();
    }

    #[test]
    fn the_walk_follows_versions_and_leaves_out_the_test_crates() {
        let p = packages_of(LOCK, "skjold").unwrap();
        let names: Vec<String> = p
            .iter()
            .map(|p| format!("{} {}", p.name, p.version))
            .collect();
        assert_eq!(
            names,
            ["bar 0.3.1", "foo 1.2.0", "foo 2.0.0", "skjold 0.1.0"]
        );
    }

    #[test]
    fn affected_versions_are_found_by_their_ranges() {
        let db = tempfile::tempdir().unwrap();
        // foo < 1.5 is affected (patched >= 1.5); 2.0.0 is patched.
        advisory(
            db.path(),
            "foo",
            "RUSTSEC-2026-0001",
            "title = \"Bad foo\"",
            "patched = [\">= 1.5.0\"]",
        );
        // bar: unmaintained, no patched version.
        advisory(
            db.path(),
            "bar",
            "RUSTSEC-2026-0002",
            "informational = \"unmaintained\"",
            "patched = []",
        );
        // Withdrawn: skipped.
        advisory(
            db.path(),
            "bar",
            "RUSTSEC-2026-0003",
            "withdrawn = \"2026-02-01\"",
            "patched = []",
        );
        // Not shipped: never looked at.
        advisory(
            db.path(),
            "testonly",
            "RUSTSEC-2026-0004",
            "",
            "patched = []",
        );
        let packages = packages_of(LOCK, "skjold").unwrap();
        let hits = scan(db.path(), &packages).unwrap();
        let ids: Vec<(&str, &str)> = hits
            .iter()
            .map(|h| (h.id.as_str(), h.package.version.as_str()))
            .collect();
        assert_eq!(
            ids,
            [
                ("RUSTSEC-2026-0002", "0.3.1"),
                ("RUSTSEC-2026-0001", "1.2.0")
            ]
        );

        let f = findings(
            &Ok(hits.clone()),
            &BTreeMap::new(),
            packages.len(),
            db.path(),
        );
        let sev: Vec<_> = f.iter().map(|f| f.severity).collect();
        assert_eq!(sev, [Severity::Warning, Severity::Error]);
        assert!(f[1].fix.contains(">= 1.5.0"), "{:?}", f[1]);
        assert!(f[0].finding.contains("unmaintained: Title"), "{:?}", f[0]);
        // Set aside after review: information, with the reason.
        let aside = BTreeMap::from([
            ("RUSTSEC-2026-0001".to_string(), "not reachable".to_string()),
            (
                "RUSTSEC-2026-0002".to_string(),
                "compile time only".to_string(),
            ),
        ]);
        let f = findings(&Ok(hits), &aside, packages.len(), db.path());
        assert_eq!(f[0].severity, Severity::Ok);
        assert!(
            f.iter().skip(1).all(|f| f.severity == Severity::Info),
            "{f:?}"
        );
        assert!(f[2].finding.contains("not reachable"), "{f:?}");
    }

    #[test]
    fn the_shipped_list_is_the_real_lock_file() {
        let p = shipped_packages().unwrap();
        assert!(p.iter().any(|p| p.name == "rustls"));
        assert!(p.iter().any(|p| p.name == "skjold-server"));
        assert!(!p.iter().any(|p| p.name == "skjold-testkit"));
        // deny.toml's reviewed exceptions are read, each with its reason.
        let aside = parse_set_aside(DENY_TOML).unwrap();
        assert!(aside.values().all(|r| !r.is_empty()), "{aside:?}");
        assert_eq!(
            parse_set_aside("[advisories]\nignore = [\"RUSTSEC-1\", { id = \"RUSTSEC-2\", reason = \"why\" }]\n")
                .unwrap(),
            BTreeMap::from([
                ("RUSTSEC-1".to_string(), "set aside in deny.toml".to_string()),
                ("RUSTSEC-2".to_string(), "why".to_string()),
            ])
        );
    }

    #[test]
    fn a_directory_that_is_no_database_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let f = findings(&scan(dir.path(), &[]), &BTreeMap::new(), 0, dir.path());
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Error);
    }
}
