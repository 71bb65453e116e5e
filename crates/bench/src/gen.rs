//! Deterministic, realistic CRM records. Record `i` of part `p` of a kind depends only on
//! (seed, kind, part, i), so a load can be split, resumed or repeated and gives the same data.

use crate::names::{self, City};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use skjold_domain::crm::{
    ActivityInput, ActivityKind, CompanyInput, PersonInput, SaleInput, SaleStage, SaleStatus,
};

/// What a generated person may link to: a company already stored.
#[derive(Debug, Clone)]
pub struct CompanyRef {
    pub id: String,
    pub name: String,
    /// The e-mail domain of its staff, e.g. `nordlogistics.no`.
    pub domain: String,
    pub city: Option<String>,
    pub country: Option<String>,
}

/// What a generated activity or sale may link to: a person already stored.
#[derive(Debug, Clone)]
pub struct PersonRef {
    pub id: String,
    pub company_id: Option<String>,
}

#[derive(Clone, Copy)]
#[repr(u64)]
enum Kind {
    Company = 1,
    Person = 2,
    Activity = 3,
    Sale = 4,
    Query = 5,
}

pub struct Generator {
    seed: u64,
    part: u64,
    first: Vec<&'static str>,
    last: Vec<&'static str>,
    cities: Vec<City>,
    titles: Vec<&'static str>,
    streets: Vec<String>,
    words: Vec<&'static str>,
    trades: Vec<&'static str>,
    products: Vec<&'static str>,
    subjects: Vec<&'static str>,
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// An index into a list of `n` where the first entries are much more common than the last
/// (as real names are): the square of a uniform draw.
fn skewed(rng: &mut ChaCha8Rng, n: usize) -> usize {
    let u: f64 = rng.gen();
    ((u * u * n as f64) as usize).min(n - 1)
}

fn pick<'a, T>(rng: &mut ChaCha8Rng, list: &'a [T]) -> &'a T {
    &list[rng.gen_range(0..list.len())]
}

fn digits(rng: &mut ChaCha8Rng, n: usize) -> String {
    (0..n)
        .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
        .collect()
}

fn tld(country: &str) -> &'static str {
    match country {
        "Norway" => "no",
        "Sweden" => "se",
        "Denmark" => "dk",
        "Finland" => "fi",
        "Iceland" => "is",
        "Germany" => "de",
        "Austria" => "at",
        "Switzerland" => "ch",
        "Netherlands" => "nl",
        "Belgium" => "be",
        "United Kingdom" => "co.uk",
        "Ireland" => "ie",
        "France" => "fr",
        "Spain" => "es",
        "Italy" => "it",
        "Poland" => "pl",
        "Czechia" => "cz",
        "Estonia" => "ee",
        "Latvia" => "lv",
        "Lithuania" => "lt",
        _ => "com",
    }
}

const MAIL_PROVIDERS: &[&str] = &[
    "gmail.com",
    "outlook.com",
    "hotmail.com",
    "online.no",
    "telia.com",
    "yahoo.com",
    "icloud.com",
    "gmx.de",
    "web.de",
    "proton.me",
];

/// A phone number in the country's international form, e.g. `+47 912 34 567`.
fn phone(rng: &mut ChaCha8Rng, cc: &str) -> String {
    match cc {
        "47" | "45" => format!(
            "+{cc} {}{} {} {}",
            rng.gen_range(2..10),
            digits(rng, 2),
            digits(rng, 2),
            digits(rng, 3)
        ),
        "46" => format!(
            "+46 7{} {} {} {}",
            digits(rng, 1),
            digits(rng, 3),
            digits(rng, 2),
            digits(rng, 2)
        ),
        "44" => format!("+44 7{} {}", digits(rng, 3), digits(rng, 6)),
        _ => format!(
            "+{cc} {}{} {}",
            rng.gen_range(1..10),
            digits(rng, 2),
            digits(rng, 6)
        ),
    }
}

impl Generator {
    pub fn new(seed: u64, part: u64) -> Self {
        Self {
            seed,
            part,
            first: names::words(names::FIRST_NAMES),
            last: names::words(names::LAST_NAMES),
            cities: names::cities(),
            titles: names::entries(names::TITLES),
            streets: names::streets(),
            words: names::words(names::COMPANY_WORDS),
            trades: names::words(names::COMPANY_TRADES),
            products: names::entries(names::PRODUCTS),
            subjects: names::entries(names::SUBJECTS),
        }
    }

    fn rng(&self, kind: Kind, index: u64) -> ChaCha8Rng {
        let k = splitmix(self.seed ^ ((kind as u64) << 56) ^ (self.part << 40));
        ChaCha8Rng::seed_from_u64(splitmix(k ^ splitmix(index)))
    }

    fn postal_code(&self, rng: &mut ChaCha8Rng, city: &City) -> String {
        let width: usize = match city.country {
            "Norway" | "Denmark" | "Switzerland" | "Austria" | "Belgium" => 4,
            "Iceland" => 3,
            _ => 5,
        };
        if city.country == "United Kingdom" || city.country == "Ireland" {
            return format!(
                "{}{} {}{}",
                city.postal_prefix,
                rng.gen_range(1..20),
                rng.gen_range(1..10),
                char::from(b'A' + rng.gen_range(0..26u8))
            );
        }
        let rest = width.saturating_sub(city.postal_prefix.len());
        format!("{}{}", city.postal_prefix, digits(rng, rest))
    }

    /// Company `i`, and the e-mail domain its people use.
    pub fn company(&self, i: u64) -> (CompanyInput, String) {
        let mut rng = self.rng(Kind::Company, i);
        let city = pick(&mut rng, &self.cities).clone();
        let word = *pick(&mut rng, &self.words);
        let trade = *pick(&mut rng, &self.trades);
        let suffix = *pick(&mut rng, names::company_suffixes(city.country));
        let (name, stem) = match rng.gen_range(0..10) {
            0..=5 => (
                format!("{word} {trade} {suffix}"),
                format!("{}{}", names::ascii_lower(word), names::ascii_lower(trade)),
            ),
            6 | 7 => {
                let a = self.last[skewed(&mut rng, self.last.len())];
                let b = self.last[skewed(&mut rng, self.last.len())];
                (
                    format!("{a} & {b} {suffix}"),
                    format!("{}{}", names::ascii_lower(a), names::ascii_lower(b)),
                )
            }
            _ => (
                format!("{word}{} {suffix}", trade.to_lowercase()),
                format!("{}{}", names::ascii_lower(word), names::ascii_lower(trade)),
            ),
        };
        // A number keeps domains of namesakes apart, as real ones are.
        let domain = if rng.gen_bool(0.5) {
            format!("{stem}.{}", tld(city.country))
        } else {
            format!("{stem}{}.{}", i % 1000, tld(city.country))
        };
        let org_number = match city.country {
            "Norway" => Some(format!("9{} MVA", digits(&mut rng, 8))),
            "Sweden" => Some(format!(
                "556{}-{}",
                digits(&mut rng, 3),
                digits(&mut rng, 4)
            )),
            "Denmark" => Some(format!("DK{}", digits(&mut rng, 8))),
            "Germany" => Some(format!("HRB {}", digits(&mut rng, 6))),
            "United Kingdom" => Some(digits(&mut rng, 8)),
            _ => rng.gen_bool(0.5).then(|| digits(&mut rng, 9)),
        };
        let category = *pick(
            &mut rng,
            &[
                "Customer", "Customer", "Prospect", "Partner", "Supplier", "Reseller",
            ],
        );
        let input = CompanyInput {
            name,
            org_number,
            address: Some(format!(
                "{} {}",
                pick(&mut rng, &self.streets),
                rng.gen_range(1..200)
            )),
            postal_code: Some(self.postal_code(&mut rng, &city)),
            city: Some(city.name.to_string()),
            country: Some(city.country.to_string()),
            phone: Some(phone(&mut rng, city.phone_cc)),
            email: Some(format!(
                "{}@{domain}",
                pick(&mut rng, &["post", "info", "sales", "contact", "office"])
            )),
            website: Some(format!("https://www.{domain}")),
            category: Some(category.to_string()),
            owner_id: None,
            notes: rng
                .gen_bool(0.1)
                .then(|| format!("Key account since {}.", 2000 + rng.gen_range(0..26))),
        };
        (input, domain)
    }

    /// Person `i`; most work at one of `companies` (chosen deterministically from `i`).
    pub fn person(&self, i: u64, companies: &[CompanyRef]) -> PersonInput {
        let mut rng = self.rng(Kind::Person, i);
        let first = self.first[skewed(&mut rng, self.first.len())];
        let last = self.last[skewed(&mut rng, self.last.len())];
        let has_first = rng.gen_bool(0.97);
        let company = (!companies.is_empty() && rng.gen_bool(0.85))
            .then(|| &companies[rng.gen_range(0..companies.len())]);
        let local = if has_first {
            format!("{}.{}", names::ascii_lower(first), names::ascii_lower(last))
        } else {
            names::ascii_lower(last)
        };
        let city_pick = pick(&mut rng, &self.cities).clone();
        let (city, country) = match company {
            Some(c) if rng.gen_bool(0.8) => (c.city.clone(), c.country.clone()),
            _ => (
                Some(city_pick.name.to_string()),
                Some(city_pick.country.to_string()),
            ),
        };
        let cc = self
            .cities
            .iter()
            .find(|c| Some(c.country) == country.as_deref())
            .map_or(city_pick.phone_cc, |c| c.phone_cc);
        let mut emails = Vec::new();
        match company {
            Some(c) => {
                emails.push(format!("{local}@{}", c.domain));
                if rng.gen_bool(0.2) {
                    emails.push(format!(
                        "{local}{}@{}",
                        rng.gen_range(1..100),
                        pick(&mut rng, MAIL_PROVIDERS)
                    ));
                }
            }
            None => {
                if rng.gen_bool(0.9) {
                    emails.push(format!(
                        "{local}{}@{}",
                        rng.gen_range(1..100),
                        pick(&mut rng, MAIL_PROVIDERS)
                    ));
                }
            }
        }
        let mut phones = vec![phone(&mut rng, cc)];
        if rng.gen_bool(0.3) {
            phones.push(phone(&mut rng, cc));
        }
        let has_address = rng.gen_bool(0.6);
        PersonInput {
            first_name: has_first.then(|| first.to_string()),
            last_name: last.to_string(),
            title: rng
                .gen_bool(0.7)
                .then(|| pick(&mut rng, &self.titles).to_string()),
            company_id: company.map(|c| c.id.clone()),
            emails,
            phones,
            address: has_address.then(|| {
                format!(
                    "{} {}",
                    pick(&mut rng, &self.streets),
                    rng.gen_range(1..200)
                )
            }),
            postal_code: has_address.then(|| self.postal_code(&mut rng, &city_pick)),
            city,
            country,
            owner_id: None,
            notes: rng.gen_bool(0.05).then(|| {
                format!(
                    "Met at the {} fair; interested in {}.",
                    pick(&mut rng, &self.cities).name,
                    pick(&mut rng, &self.products)
                )
            }),
        }
    }

    /// Activity `i`, linked to one of `persons` (and that person's company) when given.
    pub fn activity(&self, i: u64, persons: &[PersonRef]) -> ActivityInput {
        let mut rng = self.rng(Kind::Activity, i);
        let kind = *pick(
            &mut rng,
            &[
                ActivityKind::Task,
                ActivityKind::Task,
                ActivityKind::Call,
                ActivityKind::Call,
                ActivityKind::Appointment,
                ActivityKind::Note,
            ],
        );
        // Around a fixed date, so the data does not depend on when it is generated.
        let day = rng.gen_range(0..540i64) - 360;
        let date = chrono_like_date(2026, 1, 1, day);
        let hour = rng.gen_range(8..17);
        let minute = *pick(&mut rng, &[0, 15, 30, 45]);
        let at = format!("{date}T{hour:02}:{minute:02}:00Z");
        let person = (!persons.is_empty() && rng.gen_bool(0.9))
            .then(|| &persons[rng.gen_range(0..persons.len())]);
        let (starts_at, ends_at, due_at) = match kind {
            ActivityKind::Appointment => (
                Some(at.clone()),
                Some(format!("{date}T{:02}:{minute:02}:00Z", hour + 1)),
                None,
            ),
            ActivityKind::Task => (None, None, Some(at.clone())),
            ActivityKind::Call | ActivityKind::Note => (Some(at.clone()), None, None),
        };
        ActivityInput {
            kind,
            subject: pick(&mut rng, &self.subjects).to_string(),
            starts_at,
            ends_at,
            due_at,
            done: day < 0 && rng.gen_bool(0.9),
            company_id: person.and_then(|p| p.company_id.clone()),
            person_id: person.map(|p| p.id.clone()),
            sale_id: None,
            owner_id: None,
            notes: rng.gen_bool(0.3).then(|| {
                format!(
                    "Agreed to talk again about {}.",
                    pick(&mut rng, &self.products)
                )
            }),
        }
    }

    /// Sale `i`, for one of `companies` (and often one of its people).
    pub fn sale(&self, i: u64, companies: &[CompanyRef], persons: &[PersonRef]) -> SaleInput {
        let mut rng = self.rng(Kind::Sale, i);
        let product = *pick(&mut rng, &self.products);
        let company =
            (!companies.is_empty()).then(|| &companies[rng.gen_range(0..companies.len())]);
        let person = company.and_then(|c| {
            // A person of that company if one is at hand among a few tries; else none.
            (0..8).find_map(|_| {
                let p = persons.get(rng.gen_range(0..persons.len().max(1)))?;
                (p.company_id.as_deref() == Some(c.id.as_str())).then(|| p.id.clone())
            })
        });
        let stage = *pick(
            &mut rng,
            &[
                SaleStage::Lead,
                SaleStage::Qualified,
                SaleStage::Proposal,
                SaleStage::Negotiation,
                SaleStage::Closing,
            ],
        );
        let probability = match stage {
            SaleStage::Lead => 10,
            SaleStage::Qualified => 25,
            SaleStage::Proposal => 50,
            SaleStage::Negotiation => 70,
            SaleStage::Closing => 90,
        };
        let status = *pick(
            &mut rng,
            &[
                SaleStatus::Open,
                SaleStatus::Open,
                SaleStatus::Open,
                SaleStatus::Won,
                SaleStatus::Lost,
            ],
        );
        let currency = company
            .and_then(|c| {
                self.cities
                    .iter()
                    .find(|x| Some(x.country) == c.country.as_deref())
            })
            .map_or("EUR", |c| c.currency);
        SaleInput {
            title: match company {
                Some(c) => format!("{} — {product}", c.name),
                None => format!("Ny kunde — {product}"),
            },
            company_id: company.map(|c| c.id.clone()),
            person_id: person,
            amount: Some(format!(
                "{}.{:02}",
                rng.gen_range(1..2000) * 500,
                *pick(&mut rng, &[0, 0, 0, 50])
            )),
            currency: currency.to_string(),
            stage,
            probability,
            expected_close: Some(chrono_like_date(2026, 1, 1, rng.gen_range(0..365))),
            status,
            owner_id: None,
            notes: None,
        }
    }

    /// `n` varied search queries as a user types them: name and city prefixes of 2–5
    /// letters, whole first names, a first name with a last-name prefix, phone-number and
    /// e-mail prefixes.
    pub fn queries(&self, n: usize) -> Vec<String> {
        let mut rng = self.rng(Kind::Query, 0);
        (0..n)
            .map(|_| {
                let first = self.first[skewed(&mut rng, self.first.len())];
                let last = self.last[skewed(&mut rng, self.last.len())];
                let prefix = |rng: &mut ChaCha8Rng, w: &str| -> String {
                    let len = rng.gen_range(2..=5).min(w.chars().count());
                    w.chars().take(len).collect::<String>().to_lowercase()
                };
                match rng.gen_range(0..20) {
                    0..=6 => prefix(&mut rng, last),
                    7..=9 => prefix(&mut rng, first),
                    10..=12 => first.to_lowercase(),
                    13..=15 => format!("{} {}", first.to_lowercase(), prefix(&mut rng, last)),
                    16 => {
                        let city = pick(&mut rng, &self.cities).name;
                        prefix(&mut rng, city)
                    }
                    17 => format!("+479{}", digits(&mut rng, 2)),
                    _ => format!(
                        "{}.{}@",
                        names::ascii_lower(first),
                        names::ascii_lower(last)
                    ),
                }
            })
            .collect()
    }
}

/// `y-m-d` plus `days`, as `YYYY-MM-DD`, without a calendar library or the clock.
fn chrono_like_date(y: i32, m: u32, d: u32, days: i64) -> String {
    // Days from civil (Howard Hinnant's algorithm) and back.
    fn to_days(y: i64, m: i64, d: i64) -> i64 {
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }
    fn from_days(z: i64) -> (i64, i64, i64) {
        let z = z + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        (yoe + era * 400 + i64::from(m <= 2), m, d)
    }
    let (yy, mm, dd) = from_days(to_days(i64::from(y), i64::from(m), i64::from(d)) + days);
    format!("{yy:04}-{mm:02}-{dd:02}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use skjold_domain::crm::Validate;

    fn refs() -> (Vec<CompanyRef>, Vec<PersonRef>) {
        let g = Generator::new(42, 0);
        let companies: Vec<CompanyRef> = (0..20)
            .map(|i| {
                let (c, domain) = g.company(i);
                CompanyRef {
                    id: uuid::Uuid::new_v4().to_string(),
                    name: c.name,
                    domain,
                    city: c.city,
                    country: c.country,
                }
            })
            .collect();
        let persons = (0..20)
            .map(|i| PersonRef {
                id: uuid::Uuid::new_v4().to_string(),
                company_id: Some(companies[i % 20].id.clone()),
            })
            .collect();
        (companies, persons)
    }

    #[test]
    fn generated_records_pass_validation_and_repeat() {
        let g = Generator::new(42, 0);
        let (companies, persons) = refs();
        for i in 0..2000 {
            let (mut c, _) = g.company(i);
            c.validate()
                .unwrap_or_else(|e| panic!("company {i}: {e:?} {c:?}"));
            let mut p = g.person(i, &companies);
            p.validate()
                .unwrap_or_else(|e| panic!("person {i}: {e:?} {p:?}"));
            let mut a = g.activity(i, &persons);
            a.validate()
                .unwrap_or_else(|e| panic!("activity {i}: {e:?} {a:?}"));
            let mut s = g.sale(i, &companies, &persons);
            s.validate()
                .unwrap_or_else(|e| panic!("sale {i}: {e:?} {s:?}"));
        }
        let a = g.person(7, &companies);
        let b = Generator::new(42, 0).person(7, &companies);
        assert_eq!(a.last_name, b.last_name);
        assert_eq!(a.emails, b.emails);
        assert_ne!(
            format!("{:?}", Generator::new(42, 1).person(7, &companies)),
            format!("{a:?}")
        );
    }

    #[test]
    fn dates_are_calendar_dates() {
        assert_eq!(chrono_like_date(2026, 1, 1, 0), "2026-01-01");
        assert_eq!(chrono_like_date(2026, 1, 1, -1), "2025-12-31");
        assert_eq!(chrono_like_date(2026, 1, 1, 59), "2026-03-01");
        assert_eq!(chrono_like_date(2024, 2, 28, 1), "2024-02-29");
    }

    #[test]
    fn queries_vary() {
        let q = Generator::new(42, 0).queries(200);
        let distinct: std::collections::BTreeSet<_> = q.iter().collect();
        assert!(distinct.len() > 120, "{}", distinct.len());
    }
}
