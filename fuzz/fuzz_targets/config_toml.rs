//! The configuration file (TOML), as `skjold serve` reads it, through the same checks.
//! Property: nothing panics; nonsense is an error, never a crash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skjold_server::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Config::from_toml_str(text);
});
