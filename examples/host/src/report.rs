//! Plain-text reports of a check, a plan and SSO candidates.

use std::fmt::Write as _;

use directory_core::CheckReport;
use recipient_reconcile::{Operation, Plan};

/// Every probe of a `check()`, with the fix for each problem.
pub fn check_report(provider: &str, report: &CheckReport) -> String {
    let mut out = format!("check {provider}:\n");
    for p in &report.probes {
        match &p.result {
            Ok(()) => {
                let _ = writeln!(out, "  ok       {}", p.name);
            }
            Err(e) => {
                let _ = writeln!(out, "  PROBLEM  {}\n           {e}", p.name);
            }
        }
    }
    let problems = report.problems().count();
    let _ = match problems {
        0 => writeln!(out, "  all {} probes passed", report.probes.len()),
        n => writeln!(out, "  {n} problem(s): fix them and run again"),
    };
    out
}

/// The plan per location: counts, then up to `examples` operations each.
pub fn plan_summary(plan: &Plan, examples: usize) -> String {
    let mut out = String::new();
    let c = &plan.counts;
    let _ = writeln!(
        out,
        "plan from {}: {} creates, {} updates, {} reactivations, {} deactivations, {} unchanged, {} conflicts, {} skips (hash {})",
        plan.provider, c.creates, c.updates, c.reactivations, c.deactivations, c.unchanged, c.conflicts, c.skips,
        short(&plan.hash)
    );
    for lp in &plan.locations {
        let c = &lp.counts;
        let _ = writeln!(
            out,
            "  {:<12} {:>6} records | +{} create  ~{} update  ^{} reactivate  -{} deactivate  ={} unchanged  !{} conflicts",
            lp.location_name, c.records, c.creates, c.updates, c.reactivations, c.deactivations, c.unchanged, c.conflicts
        );
        for op in lp.operations.iter().take(examples) {
            let _ = writeln!(out, "      {}", describe(op));
        }
        if lp.operations.len() > examples {
            let _ = writeln!(out, "      ... and {} more", lp.operations.len() - examples);
        }
        for conflict in lp.conflicts.iter().take(examples) {
            let _ = writeln!(out, "      conflict: {conflict}");
        }
        for skip in lp.skips.iter().take(examples) {
            let who = skip
                .record_id
                .as_deref()
                .or(skip.user_id.as_deref())
                .unwrap_or("-");
            let _ = writeln!(out, "      skip    {who:<36} ({})", skip.reason);
        }
    }
    for conflict in &plan.conflicts {
        let _ = writeln!(out, "  conflict: {conflict}");
    }
    for w in &plan.warnings {
        let _ = writeln!(out, "  warning: {w}");
    }
    out
}

/// The SSO user candidates: proposed, never created.
pub fn candidates(plan: &Plan, examples: usize) -> String {
    let mut out = format!(
        "SSO user candidates (assigned to the SSO app, not yet users; the host decides): {}\n",
        plan.sso_candidates.len()
    );
    for c in plan.sso_candidates.iter().take(examples) {
        let _ = writeln!(out, "  {:<40} {}", c.email, c.display_name);
    }
    if plan.sso_candidates.len() > examples {
        let _ = writeln!(
            out,
            "  ... and {} more",
            plan.sso_candidates.len() - examples
        );
    }
    out
}

fn describe(op: &Operation) -> String {
    match op {
        Operation::Create(c) => format!("create  {:<36} ({})", c.email, c.reason),
        Operation::Update(c) => {
            let fields: Vec<String> = c
                .changes
                .iter()
                .map(|f| {
                    format!(
                        "{}: {} -> {}",
                        f.field,
                        f.old.as_deref().unwrap_or("-"),
                        f.new.as_deref().unwrap_or("-")
                    )
                })
                .collect();
            format!(
                "update  {:<36} {} ({})",
                c.record_id,
                fields.join(", "),
                c.reason
            )
        }
        Operation::Reactivate(c) => format!("reactivate {:<33} ({})", c.record_id, c.reason),
        Operation::Deactivate(d) => format!("deactivate {:<33} ({})", d.record_id, d.reason),
    }
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}
