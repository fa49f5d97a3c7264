//! The report as JUnit XML, for CI: one test case per output, per region
//! and for the structure outside the regions.

use std::fmt::Write as _;

use super::report::{Check, VerifyReport};
use super::table::{num, worst};

impl VerifyReport {
    /// JUnit XML: one test suite, one test case per output; a failing
    /// output carries a `failure` element listing its failed checks, and a
    /// verify that could not run is one test case with an `error` element.
    pub fn to_junit(&self) -> String {
        let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let skipped = usize::from(self.end_to_end.is_some());
        let (tests, failures, errors) = match &self.error {
            Some(_) => (1, 0, 1),
            None => (
                self.outputs.len() + self.regions.len() + 1 + skipped,
                self.outputs.iter().filter(|o| !o.passed).count()
                    + self.regions.iter().filter(|r| !r.passed).count()
                    + usize::from(!self.structure.is_empty()),
                0,
            ),
        };
        let time = format!("{:.3}", self.elapsed_ms / 1e3);
        let _ = writeln!(
            s,
            "<testsuites name=\"acon-onnx verify\" tests=\"{tests}\" failures=\"{failures}\" \
             errors=\"{errors}\" skipped=\"{skipped}\" time=\"{time}\">"
        );
        let _ = writeln!(
            s,
            "  <testsuite name=\"verify {}\" tests=\"{tests}\" failures=\"{failures}\" \
             errors=\"{errors}\" skipped=\"{skipped}\" time=\"{time}\">",
            xml(&self.original)
        );
        let _ = writeln!(s, "    <properties>");
        let mut props = vec![
            ("original", self.original.clone()),
            (
                "converted",
                self.converted
                    .clone()
                    .unwrap_or_else(|| "(in memory)".into()),
            ),
            ("tolerance", self.tolerance.level.clone()),
            ("inputs", self.inputs.source.to_owned()),
        ];
        if let Some(seed) = self.inputs.seed {
            props.push(("seed", seed.to_string()));
        }
        for (k, v) in props {
            let _ = writeln!(s, "      <property name=\"{k}\" value=\"{}\"/>", xml(&v));
        }
        let _ = writeln!(s, "    </properties>");
        let classname = xml(&format!("acon-onnx.verify.{}", self.original));
        if let Some(error) = &self.error {
            let _ = writeln!(
                s,
                "    <testcase name=\"verify\" classname=\"{classname}\" time=\"{time}\">\n      \
                 <error message=\"{}\" type=\"error\">{}</error>\n    </testcase>",
                xml(error.lines().next().unwrap_or("")),
                xml(error)
            );
        }
        if let Some(note) = self.end_to_end.as_ref().filter(|_| self.error.is_none()) {
            let _ = writeln!(
                s,
                "    <testcase name=\"outputs (end to end)\" classname=\"{classname}\" \
                 time=\"0\">\n      <skipped message=\"{}\"/>\n    </testcase>",
                xml(note)
            );
        }
        for o in &self.outputs {
            let _ = write!(
                s,
                "    <testcase name=\"{}\" classname=\"{classname}\" time=\"0\">",
                xml(&o.name)
            );
            if o.passed {
                s.push_str("</testcase>\n");
                continue;
            }
            let failed: Vec<&Check> = o.checks.iter().filter(|c| !c.passed).collect();
            let details: Vec<String> = failed.iter().map(|c| check_line(c)).collect();
            let _ = write!(
                s,
                "\n      <failure message=\"{}\" type=\"not-equivalent\">{}</failure>\n    \
                 </testcase>\n",
                xml(&format!(
                    "output `{}`: {} of {} checks failed; {}",
                    o.name,
                    failed.len(),
                    o.checks.len(),
                    details.first().cloned().unwrap_or_default()
                )),
                xml(&details.join("\n"))
            );
        }
        if self.error.is_none() {
            for r in &self.regions {
                let name = if r.graph.is_empty() {
                    format!("region {} ({})", r.output, r.op_type)
                } else {
                    format!("region {}/{} ({})", r.graph, r.output, r.op_type)
                };
                let _ = write!(
                    s,
                    "    <testcase name=\"{}\" classname=\"{classname}\" time=\"0\">",
                    xml(&name)
                );
                if r.passed {
                    s.push_str("</testcase>\n");
                    continue;
                }
                let why = r.problem.clone().unwrap_or_else(|| {
                    let failed = r.checks.iter().filter(|c| !c.passed).count();
                    format!(
                        "{failed} of {} local checks failed; look at node `{}`",
                        r.checks.len(),
                        r.node
                    )
                });
                let _ = write!(
                    s,
                    "\n      <failure message=\"{}\" type=\"region\">{}</failure>\n    \
                     </testcase>\n",
                    xml(&why),
                    xml(&why)
                );
            }
            let _ = write!(
                s,
                "    <testcase name=\"structure outside the regions\" classname=\"{classname}\" \
                 time=\"0\">"
            );
            if self.structure.is_empty() {
                s.push_str("</testcase>\n");
            } else {
                let lines: Vec<String> = self
                    .structure
                    .iter()
                    .map(|d| format!("{} {}: {}", d.graph, d.field, d.detail))
                    .collect();
                let _ = write!(
                    s,
                    "\n      <failure message=\"{}\" type=\"structure\">{}</failure>\n    \
                     </testcase>\n",
                    xml(&format!("{} differences outside the regions", lines.len())),
                    xml(&lines.join("\n"))
                );
            }
        }
        let _ = writeln!(s, "  </testsuite>\n</testsuites>");
        s
    }
}

/// One line describing a check, for JUnit failure text.
fn check_line(c: &Check) -> String {
    match (&c.comparison, &c.problem) {
        (_, Some(problem)) => format!("sample {}, {}: {problem}", c.sample, c.title()),
        (Some(cmp), None) => format!(
            "sample {}, {}: {} of {} elements beyond atol {:e} rtol {:e}, {} NaN/Inf \
             mismatches; max abs {}, max rel {}, max ulp {}; worst {}; smallest passing atol {}",
            c.sample,
            c.title(),
            cmp.beyond_tolerance,
            cmp.elements,
            cmp.atol,
            cmp.rtol,
            cmp.nan_inf_mismatches,
            num(cmp.max_abs_error),
            num(cmp.max_rel_error),
            cmp.max_ulp,
            worst(c, cmp),
            cmp.min_passing_atol
                .map(num)
                .unwrap_or_else(|| "none".into())
        ),
        (None, None) => format!("sample {}, {}", c.sample, c.title()),
    }
}

fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 has no way to write other control characters.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escapes_markup() {
        assert_eq!(xml("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    }
}
