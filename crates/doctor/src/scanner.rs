//! The malware scanner of uploaded documents. This version has no document archive and so
//! no scanner and no setting for one: said as information, not as a fault.

use crate::{Finding, Severity};

pub(crate) fn check() -> Finding {
    Finding::new(
        "scanner",
        Severity::Info,
        "antivirus scanning is not available in this version (there are no document uploads to scan yet)",
        "nothing to do now; a ClamAV scanner comes with the document archive",
    )
}
