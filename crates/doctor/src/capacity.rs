//! Capacity: a space that runs out within 30 days at its trend (the samples of the daily
//! `capacity.sample` job; the same forecast as `skjold capacity`).

use crate::{Finding, Installation, Severity};

const CHECK: &str = "capacity.forecast";

pub(crate) async fn check(inst: &Installation<'_>) -> Vec<Finding> {
    let report = match skjold_store::capacity::report(inst.router.catalog(), inst.now).await {
        Ok(r) => r,
        Err(e) => {
            return vec![Finding::new(
                CHECK,
                Severity::Warning,
                format!("the capacity samples cannot be read: {e}"),
                "check the catalog database (skjold capacity shows the same)",
            )]
        }
    };
    if report.is_empty() {
        return vec![Finding::new(
            CHECK,
            Severity::Info,
            "no capacity samples yet: the server takes one a day",
            "nothing to do; `skjold capacity --sample` takes one now (docs/operations.md#capacity)",
        )];
    }
    let soon: Vec<Finding> = report
        .iter()
        .filter_map(|s| {
            let days = s.warning_days()?;
            let (w, t) = s.deciding()?;
            Some(Finding::new(
                CHECK,
                Severity::Warning,
                format!(
                    "{} runs out in {} days at its {}-day trend (confidence {}, R² {:.2} over {} samples)",
                    s.subject,
                    days.floor(),
                    w.days,
                    t.confidence().as_str(),
                    t.r_squared,
                    t.samples
                ),
                "free space or grow it before then; `skjold capacity` shows where the growth comes from (docs/operations.md#capacity)",
            ))
        })
        .collect();
    if !soon.is_empty() {
        return soon;
    }
    vec![Finding::ok(
        CHECK,
        format!(
            "no space runs out within 30 days at its trend ({} subjects sampled)",
            report.len()
        ),
    )]
}
