//! Hand-written inline SVG line charts (no script, no external reference): linear or
//! logarithmic axes, solid lines for the first run and dashed lines for the second.

use std::fmt::Write as _;

use super::esc;

const W: f64 = 760.0;
const H: f64 = 300.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 44.0;

/// How an axis maps values to pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scale {
    Linear,
    Log,
}

/// One axis: its label, scale, how tick values are written, and fixed ticks (if any).
#[derive(Debug, Clone)]
pub struct Axis {
    pub label: String,
    pub scale: Scale,
    pub fmt: fn(f64) -> String,
    pub ticks: Option<Vec<(f64, String)>>,
    /// Include zero in a linear axis.
    pub from_zero: bool,
    /// Ticks are round in this base: 10, or 1024 for bytes.
    pub base: f64,
}

impl Axis {
    pub fn new(label: &str, scale: Scale, fmt: fn(f64) -> String) -> Self {
        Axis {
            label: label.to_owned(),
            scale,
            fmt,
            ticks: None,
            from_zero: scale == Scale::Linear,
            base: 10.0,
        }
    }
}

/// One line.
#[derive(Debug, Clone)]
pub struct Series {
    pub label: String,
    pub color: &'static str,
    pub dashed: bool,
    pub points: Vec<(f64, f64)>,
}

pub const PALETTE: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
];

fn usable(scale: Scale, v: f64) -> bool {
    v.is_finite() && (scale == Scale::Linear || v > 0.0)
}

fn tr(scale: Scale, v: f64) -> f64 {
    match scale {
        Scale::Linear => v,
        Scale::Log => v.log10(),
    }
}

/// Range of the transformed values, widened when flat.
fn range(axis: &Axis, vals: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for v in vals.filter(|v| usable(axis.scale, *v)) {
        let t = tr(axis.scale, v);
        lo = lo.min(t);
        hi = hi.max(t);
    }
    if lo > hi {
        return None;
    }
    if axis.scale == Scale::Linear && axis.from_zero {
        lo = lo.min(0.0);
        hi = hi.max(0.0);
    }
    if axis.scale == Scale::Log {
        lo = lo.floor();
        hi = hi.ceil();
    }
    if hi - lo < 1e-12 {
        let pad = if lo.abs() > 0.0 { lo.abs() * 0.1 } else { 1.0 };
        lo -= pad;
        hi += pad;
    }
    if axis.scale == Scale::Linear && axis.from_zero && lo >= 0.0 {
        lo = 0.0;
    }
    Some((lo, hi))
}

/// A round tick step for `span`: 1, 2 or 5 times a power of ten, or for `base` 1024 (bytes)
/// the same within the largest power of 1024 below the span.
fn nice_step(span: f64, base: f64) -> f64 {
    let unit = if base > 10.0 && span > 0.0 {
        base.powf((span.log(base)).floor().max(0.0))
    } else {
        1.0
    };
    let raw = span / unit / 5.0;
    let mag = 10f64.powf(raw.log10().floor()) * unit;
    let raw = raw * unit;
    let n = raw / mag;
    mag * if n < 1.5 {
        1.0
    } else if n < 3.5 {
        2.0
    } else if n < 7.5 {
        5.0
    } else {
        10.0
    }
}

/// Tick positions (transformed) and labels.
fn ticks(axis: &Axis, lo: f64, hi: f64) -> Vec<(f64, String)> {
    if let Some(t) = &axis.ticks {
        return t
            .iter()
            .filter(|(v, _)| usable(axis.scale, *v))
            .map(|(v, l)| (tr(axis.scale, *v), l.clone()))
            .filter(|(t, _)| *t >= lo - 1e-9 && *t <= hi + 1e-9)
            .collect();
    }
    match axis.scale {
        Scale::Log => {
            let mut out = Vec::new();
            let mut e = lo.floor();
            while e <= hi + 1e-9 {
                out.push((e, (axis.fmt)(10f64.powf(e))));
                e += 1.0;
            }
            out
        }
        Scale::Linear => {
            let step = nice_step(hi - lo, axis.base);
            let mut out = Vec::new();
            let mut v = (lo / step).ceil() * step;
            while v <= hi + step * 1e-9 {
                out.push((v, (axis.fmt)(v)));
                v += step;
            }
            out
        }
    }
}

/// An SVG line chart; `None` when no series has a point to draw.
pub fn chart(title: &str, x: &Axis, y: &Axis, series: &[Series]) -> Option<String> {
    let pts = || {
        series
            .iter()
            .flat_map(|s| s.points.iter())
            .filter(|(a, b)| usable(x.scale, *a) && usable(y.scale, *b))
    };
    let (x0, x1) = range(x, pts().map(|p| p.0))?;
    let (y0, mut y1) = range(y, pts().map(|p| p.1))?;
    // A linear value axis ends on a tick, so the highest line stays below the frame's top.
    if y.scale == Scale::Linear && y.ticks.is_none() {
        let step = nice_step(y1 - y0, y.base);
        y1 = (y1 / step).ceil() * step;
    }
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    let px = |v: f64| LEFT + (tr(x.scale, v) - x0) / (x1 - x0) * pw;
    let py = |v: f64| TOP + ph - (tr(y.scale, v) - y0) / (y1 - y0) * ph;
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" role="img" aria-label="{t}"><title>{t}</title>"##,
        t = esc(title)
    );
    let _ = write!(
        s,
        r##"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="#fff" stroke="#999"/>"##
    );
    for (t, label) in ticks(x, x0, x1) {
        let gx = LEFT + (t - x0) / (x1 - x0) * pw;
        let _ = write!(
            s,
            r##"<line x1="{gx:.1}" y1="{TOP}" x2="{gx:.1}" y2="{:.1}" stroke="#e4e4e4"/><text x="{gx:.1}" y="{:.1}" text-anchor="middle" class="tick">{}</text>"##,
            TOP + ph,
            TOP + ph + 15.0,
            esc(&label)
        );
    }
    for (t, label) in ticks(y, y0, y1) {
        let gy = TOP + ph - (t - y0) / (y1 - y0) * ph;
        let _ = write!(
            s,
            r##"<line x1="{LEFT}" y1="{gy:.1}" x2="{:.1}" y2="{gy:.1}" stroke="#e4e4e4"/><text x="{:.1}" y="{:.1}" text-anchor="end" class="tick">{}</text>"##,
            LEFT + pw,
            LEFT - 6.0,
            gy + 4.0,
            esc(&label)
        );
    }
    let _ = write!(
        s,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" class="axis">{}</text><text transform="translate(14 {:.1}) rotate(-90)" text-anchor="middle" class="axis">{}</text>"##,
        LEFT + pw / 2.0,
        H - 6.0,
        esc(&x.label),
        TOP + ph / 2.0,
        esc(&y.label)
    );
    for se in series {
        let mut d = String::new();
        for (a, b) in se
            .points
            .iter()
            .filter(|(a, b)| usable(x.scale, *a) && usable(y.scale, *b))
        {
            let cmd = if d.is_empty() { 'M' } else { 'L' };
            let _ = write!(d, "{cmd}{:.1} {:.1} ", px(*a), py(*b));
        }
        if d.is_empty() {
            continue;
        }
        let dash = if se.dashed {
            r#" stroke-dasharray="6 4""#
        } else {
            ""
        };
        let _ = write!(
            s,
            r#"<path d="{}" fill="none" stroke="{}" stroke-width="1.8"{dash}><title>{}</title></path>"#,
            d.trim_end(),
            se.color,
            esc(&se.label)
        );
    }
    s.push_str("</svg>");
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: f64) -> String {
        format!("{v}")
    }

    #[test]
    fn a_chart_without_points_is_none_and_one_with_points_has_a_path() {
        let x = Axis::new("t", Scale::Linear, ms);
        let y = Axis::new("ms", Scale::Log, ms);
        let mut s = Series {
            label: "p99".into(),
            color: PALETTE[0],
            dashed: false,
            points: vec![(0.0, 0.0)],
        };
        assert!(chart("c", &x, &y, std::slice::from_ref(&s)).is_none());
        s.points.push((1.0, 2.5));
        s.points.push((2.0, 40.0));
        let svg = chart("c", &x, &y, &[s]).unwrap();
        assert!(svg.contains("<path d=\"M"), "{svg}");
        // a log axis from 1 to 100 ms has ticks at 1, 10 and 100
        assert!(svg.contains(">1<") && svg.contains(">10<") && svg.contains(">100<"));
    }

    #[test]
    fn byte_axes_step_in_round_binary_units() {
        assert_eq!(nice_step(48.0 * 1048576.0, 1024.0), 10.0 * 1048576.0);
        assert_eq!(nice_step(48.0, 10.0), 10.0);
        assert_eq!(nice_step(0.9, 10.0), 0.2);
    }
}
