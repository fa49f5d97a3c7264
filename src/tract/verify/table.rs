//! The report as the text table `verify` prints on stdout.

use std::fmt::Write as _;

use super::report::{Check, VerifyReport};
use crate::compare::Comparison;

impl VerifyReport {
    /// The readable table printed on stdout.
    pub fn to_table(&self) -> String {
        let mut s = String::new();
        let against = match &self.converted {
            Some(c) => format!("`{c}`"),
            None => "its in-memory conversion".to_owned(),
        };
        let recognised = match self.recognised.len() {
            0 => String::new(),
            n => format!(", {n} of them recognised in standard ops"),
        };
        let _ = writeln!(
            s,
            "verify `{}` ({} ACON node{} on native kernels{recognised}) against {against}",
            self.original,
            self.native_nodes,
            if self.native_nodes == 1 { "" } else { "s" }
        );
        for b in &self.recognised {
            let _ = writeln!(
                s,
                "  recognised {} `{}`{}",
                b.op_type,
                b.output,
                b.module
                    .as_ref()
                    .map(|m| format!(" from {m}"))
                    .unwrap_or_default()
            );
        }
        let mut bounds: Vec<String> = vec![];
        for o in &self.outputs {
            let rule = o
                .checks
                .last()
                .filter(|c| c.rule.contains('×'))
                .map(|c| format!(" ({})", c.rule))
                .unwrap_or_default();
            let b = format!(
                "{} atol {} rtol {}{rule}",
                o.dtype,
                bound(o.atol),
                bound(o.rtol)
            );
            if !bounds.contains(&b) {
                bounds.push(b);
            }
        }
        let _ = writeln!(
            s,
            "tolerance {}{}{}; inputs: {}",
            self.tolerance.level,
            if bounds.is_empty() { "" } else { ": " },
            bounds.join(", "),
            match self.inputs.source {
                _ if self.end_to_end.is_some() => "none run (the model cannot be run)".to_owned(),
                "random" => format!(
                    "random, seed {}, {} sample{}",
                    self.inputs.seed.unwrap_or(0),
                    self.samples.len(),
                    if self.samples.len() == 1 { "" } else { "s" }
                ),
                "data" => format!("{} test data set(s)", self.samples.len()),
                other => other.to_owned(),
            }
        );
        s.push('\n');
        let header = [
            "output",
            "sample",
            "check",
            "max abs",
            "max rel",
            "mean abs",
            "ulp",
            "beyond",
            "nan/inf",
            "min atol",
            "worst element (actual vs expected)",
            "result",
        ];
        let mut rows: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
        for o in &self.outputs {
            for c in &o.checks {
                let result = if c.passed { "ok" } else { "FAIL" }.to_owned();
                let row = match &c.comparison {
                    Some(cmp) => vec![
                        o.name.clone(),
                        c.sample.to_string(),
                        c.title(),
                        num(cmp.max_abs_error),
                        num(cmp.max_rel_error),
                        num(cmp.mean_abs_error),
                        cmp.max_ulp.to_string(),
                        format!("{}/{}", cmp.beyond_tolerance, cmp.elements),
                        cmp.nan_inf_mismatches.to_string(),
                        cmp.min_passing_atol
                            .map(num)
                            .unwrap_or_else(|| "none".into()),
                        worst(c, cmp),
                        result,
                    ],
                    None => {
                        let mut r = vec![o.name.clone(), c.sample.to_string(), c.title()];
                        r.extend(std::iter::repeat_n("-".to_owned(), 7));
                        r.push(c.problem.clone().unwrap_or_default());
                        r.push(result);
                        r
                    }
                };
                rows.push(row);
            }
        }
        if rows.len() > 1 {
            s.push_str(&render(&rows));
            s.push('\n');
        }
        if !self.regions.is_empty() {
            s.push_str(&self.regions_table());
            s.push('\n');
        }
        if let Some(note) = &self.alignment_note {
            let _ = writeln!(s, "note: {note}\n");
        }
        if let Some(note) = &self.end_to_end {
            let _ = writeln!(s, "end to end: {note}\n");
        }
        for d in &self.structure {
            let _ = writeln!(
                s,
                "structure: {}{}: {}",
                if d.graph.is_empty() {
                    String::new()
                } else {
                    format!("in `{}`, ", d.graph)
                },
                d.field,
                d.detail
            );
        }
        if !self.structure.is_empty() {
            s.push('\n');
        }
        let verdict = if self.equivalent {
            "equivalent"
        } else {
            "NOT EQUIVALENT"
        };
        let regions_passed = self.regions.iter().filter(|r| r.passed).count();
        let structure = if self.alignment_note.is_some() {
            "structure not compared".to_owned()
        } else if self.structure.is_empty() {
            "the rest identical".to_owned()
        } else {
            format!("{} differences outside the regions", self.structure.len())
        };
        let checks = if self.end_to_end.is_some() {
            "outputs not compared".to_owned()
        } else {
            format!(
                "{} of {} checks passed",
                self.summary.passed, self.summary.checks
            )
        };
        let _ = writeln!(
            s,
            "{verdict}: {checks}, {regions_passed} of {} regions proved, {structure} ({:.0} ms)",
            self.regions.len(),
            self.elapsed_ms
        );
        s
    }

    /// One row per region check: where it is, what fed it, the worst error.
    fn regions_table(&self) -> String {
        let header = [
            "region", "op", "input", "range", "max abs", "max rel", "beyond", "result",
        ];
        let mut rows: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
        for r in &self.regions {
            let name = if r.graph.is_empty() {
                r.output.clone()
            } else {
                format!("{}/{}", r.graph, r.output)
            };
            // A region without figures: its name, its op, and why.
            let bare = |result: String| {
                let mut row = vec![name.clone(), r.op_type.clone()];
                row.extend(std::iter::repeat_n("-".to_owned(), 5));
                row.push(result);
                row
            };
            if let Some(problem) = &r.problem {
                rows.push(bare(format!("FAIL: {problem}")));
                continue;
            }
            if r.checks.is_empty() {
                rows.push(bare(
                    "not fed (no sample reaches it, and its shape is unknown)".into(),
                ));
                continue;
            }
            for c in &r.checks {
                let input = match c.sample {
                    Some(i) => format!("sample {i}"),
                    None => c.input.to_owned(),
                };
                let range = c
                    .range
                    .map(|[lo, hi]| format!("[{}, {}]", num(lo), num(hi)))
                    .unwrap_or_else(|| "-".into());
                let result = if c.passed {
                    "ok".to_owned()
                } else {
                    format!(
                        "FAIL{}",
                        c.problem
                            .as_ref()
                            .map(|p| format!(": {p}"))
                            .unwrap_or_else(|| format!(": look at node `{}`", r.node))
                    )
                };
                let (abs, rel, beyond) = match &c.comparison {
                    Some(cmp) => (
                        num(cmp.max_abs_error),
                        num(cmp.max_rel_error),
                        format!("{}/{}", cmp.beyond_tolerance, cmp.elements),
                    ),
                    None => ("-".into(), "-".into(), "-".into()),
                };
                rows.push(vec![
                    name.clone(),
                    r.op_type.clone(),
                    input,
                    range,
                    abs,
                    rel,
                    beyond,
                    result,
                ]);
            }
        }
        render(&rows)
    }
}

/// A bound as given (`1e-5`), or to three digits when computed.
fn bound(v: f64) -> String {
    let short = format!("{v:.2e}");
    if short.parse::<f64>() == Ok(v) {
        format!("{v:e}")
    } else {
        short
    }
}

/// Rows as columns two spaces apart, the last column unpadded.
fn render(rows: &[Vec<String>]) -> String {
    let mut s = String::new();
    let columns = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                let pad = widths[i] - cell.chars().count();
                line.push_str(cell);
                line.push_str(&" ".repeat(pad + 2));
            }
        }
        let _ = writeln!(s, "{}", line.trim_end());
    }
    s
}

pub(super) fn num(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.is_infinite() {
        "inf".into()
    } else {
        format!("{v:.2e}")
    }
}

pub(super) fn worst(c: &Check, cmp: &Comparison) -> String {
    match (&c.worst_coords, cmp.worst_actual, cmp.worst_expected) {
        (Some(at), Some(a), Some(e)) => {
            let at: Vec<String> = at.iter().map(|i| i.to_string()).collect();
            format!("[{}] {} vs {}", at.join(","), value(a), value(e))
        }
        _ => "-".into(),
    }
}

/// A value with 7 significant digits.
fn value(v: f64) -> String {
    if v == 0.0 || (1e-3..1e5).contains(&v.abs()) || !v.is_finite() {
        format!("{v:.7}")
    } else {
        format!("{v:.6e}")
    }
}
