//! junit.xml: one testcase per threshold expression, failed ones with the observed value.

use std::fmt::Write as _;

use super::observe::Outcome;
use crate::scenario::Scenario;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub fn render(scn: &Scenario, outcomes: &[Outcome], wall_s: f64) -> String {
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
        esc(&scn.name),
        outcomes.len()
    );
    for o in outcomes {
        let name = esc(&format!("{}: {}", o.metric, o.expr));
        let _ = write!(
            s,
            "    <testcase classname=\"{}.thresholds\" name=\"{name}\" time=\"0\"",
            esc(&scn.name)
        );
        if o.pass {
            s.push_str("/>\n");
        } else {
            let observed = o
                .observed
                .map_or("nothing observed".to_owned(), |v| format!("observed {v}"));
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
