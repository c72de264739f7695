//! junit.xml: one testcase per threshold expression, failed ones with the observed value.

use std::fmt::Write as _;

use super::observe::Outcome;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub fn render(name: &str, outcomes: &[Outcome], wall_s: f64) -> String {
    let failures = outcomes.iter().filter(|o| !o.pass).count();
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        s,
        "<testsuites name=\"loadgen\" tests=\"{}\" failures=\"{failures}\" time=\"{wall_s:.3}\">",
        outcomes.len()
    );
    let _ = writeln!(
        s,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" time=\"{wall_s:.3}\">",
        esc(name),
        outcomes.len()
    );
    for o in outcomes {
        let case = esc(&format!("{}: {}", o.metric, o.expr));
        let _ = write!(
            s,
            "    <testcase classname=\"{}.thresholds\" name=\"{case}\" time=\"0\"",
            esc(name)
        );
        if o.pass {
            s.push_str("/>\n");
        } else {
            let mut observed = o
                .observed
                .map_or("nothing observed".to_owned(), |v| format!("observed {v}"));
            if let Some(w) = o.window {
                observed += &format!(" in the window {}s..{}s", w.from_s, w.to_s);
            }
            if o.aborted {
                observed += " (aborted the run)";
            }
            let _ = writeln!(
                s,
                ">\n      <failure message=\"{}\"/>\n    </testcase>",
                esc(&format!("{observed}; expected {}", o.expr))
            );
        }
    }
    s.push_str("  </testsuite>\n</testsuites>\n");
    s
}
