//! Query strings of the API (`?q=…&limit=…&cursor=…`), parsed by the function the
//! `ApiQuery` extractor calls, into each query struct: record lists and search, delete
//! options, audit search. Property: nothing panics; a rejection names a parameter.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skjold_server::parsers::{parse_query, AuditParams, DeleteParams, ListParams};
use skjold_server::ApiError;

fn check<T: serde::de::DeserializeOwned>(q: &str) {
    match parse_query::<T>(q) {
        Ok(_) => {}
        Err(ApiError::Invalid(errs)) => assert!(!errs.is_empty(), "a rejection without a field"),
        Err(other) => panic!("a query string got {other:?} instead of a 422"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(q) = std::str::from_utf8(data) else {
        return;
    };
    check::<ListParams>(q);
    check::<DeleteParams>(q);
    check::<AuditParams>(q);
});
