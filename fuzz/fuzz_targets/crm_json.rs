//! Request bodies of the CRM records, as the API reads them: bytes → JSON value
//! (`parse_json_bytes`) → the record's `*Input` (`parse_json`) → `Validate`; and a partial
//! update (`PATCH`) merged into a valid record and checked again, as the store does.
//! Properties: nothing panics; validation is idempotent (a value it accepted and
//! normalised is accepted again, unchanged).
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{json, Map, Value};
use skjold_domain::crm::{Activity, Company, Entity, Person, Sale, Validate};
use skjold_domain::{parse_json, parse_json_bytes};

fn check<E: Entity>(body: &Value, base: Value) {
    // Create: the body as it came.
    if let Ok(mut input) = parse_json::<E::Input>(body.clone()) {
        if input.validate().is_ok() {
            let once = serde_json::to_value(&input).unwrap();
            let mut again: E::Input = parse_json(once.clone())
                .unwrap_or_else(|e| panic!("a validated input does not parse again: {e:?}"));
            if let Err(e) = again.validate() {
                panic!("a validated input fails validation again: {once} {e:?}");
            }
            assert_eq!(
                once,
                serde_json::to_value(&again).unwrap(),
                "not idempotent"
            );
        }
    }
    // Update: the body's fields merged into a valid record.
    if let Value::Object(patch) = body {
        let mut merged: Map<String, Value> = base.as_object().unwrap().clone();
        for (k, v) in patch {
            merged.insert(k.clone(), v.clone());
        }
        if let Ok(mut input) = parse_json::<E::Input>(Value::Object(merged)) {
            let _ = input.validate();
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(body) = parse_json_bytes::<Value>(data) else {
        return;
    };
    check::<Company>(
        &body,
        json!({"name": "Nordlys Energi AS", "city": "Tromsø"}),
    );
    check::<Person>(
        &body,
        json!({"last_name": "Nordmann", "first_name": "Kari"}),
    );
    check::<Activity>(&body, json!({"kind": "note", "subject": "Call back"}));
    check::<Sale>(&body, json!({"title": "Solar roof", "amount": 1200}));
});
