//! Charts as inline SVG: axes with round ticks, points and lines with native hover titles
//! (`<title>`), horizontal bars and a heat map. No script is needed to draw them.
use std::fmt::Write;

/// Colours for series, in order (Tableau 10, readable on white and in print).
pub const PALETTE: [&str; 10] = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];

const W: f64 = 640.0;
const H: f64 = 320.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 44.0;

/// Escapes text for HTML and SVG.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// How a point is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// A filled circle.
    Dot,
    /// A hollow circle (stopped early).
    Ring,
    /// A cross (failed or timed out).
    Cross,
}

/// One point of a scatter, with its hover text.
#[derive(Debug, Clone)]
pub struct Point {
    /// Position in data units.
    pub x: f64,
    /// Position in data units.
    pub y: f64,
    /// Index into [`PALETTE`].
    pub colour: usize,
    /// How it is drawn.
    pub mark: Mark,
    /// Shown on hover.
    pub title: String,
}

/// A line through points, in data units.
#[derive(Debug, Clone)]
pub struct Line {
    /// The points, in order.
    pub points: Vec<(f64, f64)>,
    /// A CSS colour.
    pub colour: String,
    /// Drawn as steps (a best-so-far line) rather than straight segments.
    pub steps: bool,
    /// Dashed.
    pub dashed: bool,
}

/// An x-y chart: points, lines, axis labels and a legend.
#[derive(Debug, Clone, Default)]
pub struct Chart {
    /// The x axis' label.
    pub x_label: String,
    /// The y axis' label.
    pub y_label: String,
    /// Scattered points.
    pub points: Vec<Point>,
    /// Lines.
    pub lines: Vec<Line>,
    /// Legend entries: text and a CSS colour.
    pub legend: Vec<(String, String)>,
    /// Force the ranges to include these (say 0 and 1 for a rate).
    pub x_range: Option<(f64, f64)>,
    /// Force the y range.
    pub y_range: Option<(f64, f64)>,
}

/// Round tick values covering `lo..hi`, about `n` of them.
pub fn ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return vec![lo];
    }
    let raw = (hi - lo) / n.max(1) as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * magnitude).find(|s| *s >= raw).unwrap_or(10.0 * magnitude);
    let first = (lo / step).ceil() * step;
    (0..=n * 3).map(|i| first + i as f64 * step).take_while(|v| *v <= hi + step * 1e-9).collect()
}

/// A number for an axis or a hover: few digits, no trailing zeros.
pub fn num(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    let s = if !(1e-3..1e6).contains(&a) { format!("{v:.2e}") } else if a >= 100.0 { format!("{v:.0}") } else if a >= 1.0 { format!("{v:.2}") } else { format!("{v:.4}") };
    if s.contains('.') && !s.contains('e') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn range(values: impl Iterator<Item = f64>, forced: Option<(f64, f64)>) -> (f64, f64) {
    let (mut lo, mut hi) = forced.unwrap_or((f64::INFINITY, f64::NEG_INFINITY));
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !(lo.is_finite() && hi.is_finite()) {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 {
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.05 };
        return (lo - pad, hi + pad);
    }
    let pad = if forced.is_some() { 0.0 } else { (hi - lo) * 0.04 };
    (lo - pad, hi + pad)
}

impl Chart {
    /// The chart as an `<svg>` element, `label` its accessible name.
    pub fn render(&self, label: &str) -> String {
        let xs = self.points.iter().map(|p| p.x).chain(self.lines.iter().flat_map(|l| l.points.iter().map(|p| p.0)));
        let ys = self.points.iter().map(|p| p.y).chain(self.lines.iter().flat_map(|l| l.points.iter().map(|p| p.1)));
        let (x0, x1) = range(xs, self.x_range);
        let (y0, y1) = range(ys, self.y_range);
        let sx = |x: f64| LEFT + (x - x0) / (x1 - x0) * (W - LEFT - RIGHT);
        let sy = |y: f64| TOP + (y1 - y) / (y1 - y0) * (H - TOP - BOTTOM);
        let mut s = format!(r#"<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-label="{}">"#, esc(label));
        axes(&mut s, (x0, x1), (y0, y1), &sx, &sy, &self.x_label, &self.y_label);
        for l in &self.lines {
            let mut d = String::new();
            for (i, &(x, y)) in l.points.iter().enumerate() {
                let (px, py) = (sx(x), sy(y));
                match (i, l.steps) {
                    (0, _) => _ = write!(d, "M{px:.1},{py:.1}"),
                    (_, true) => _ = write!(d, "H{px:.1}V{py:.1}"),
                    (_, false) => _ = write!(d, "L{px:.1},{py:.1}"),
                }
            }
            let dash = if l.dashed { r#" stroke-dasharray="5 4""# } else { "" };
            let _ = write!(s, r#"<path d="{d}" fill="none" stroke="{}" stroke-width="2"{dash}/>"#, l.colour);
        }
        for p in &self.points {
            mark(&mut s, sx(p.x), sy(p.y), PALETTE[p.colour % PALETTE.len()], p.mark, &p.title);
        }
        legend(&mut s, &self.legend);
        s.push_str("</svg>");
        s
    }
}

fn axes(s: &mut String, (x0, x1): (f64, f64), (y0, y1): (f64, f64), sx: &dyn Fn(f64) -> f64, sy: &dyn Fn(f64) -> f64, x_label: &str, y_label: &str) {
    let (bottom, right) = (H - BOTTOM, W - RIGHT);
    let _ = write!(s, r##"<rect x="{LEFT}" y="{TOP}" width="{}" height="{}" fill="#fff" stroke="#ccc"/>"##, right - LEFT, bottom - TOP);
    for t in ticks(x0, x1, 6) {
        let x = sx(t);
        let _ = write!(s, r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{bottom}" stroke="#eee"/><text x="{x:.1}" y="{}" text-anchor="middle" class="tick">{}</text>"##, bottom + 14.0, num(t));
    }
    for t in ticks(y0, y1, 5) {
        let y = sy(t);
        let _ = write!(s, r##"<line x1="{LEFT}" y1="{y:.1}" x2="{right}" y2="{y:.1}" stroke="#eee"/><text x="{}" y="{:.1}" text-anchor="end" class="tick">{}</text>"##, LEFT - 6.0, y + 4.0, num(t));
    }
    let _ = write!(s, r#"<text x="{:.1}" y="{}" text-anchor="middle" class="label">{}</text>"#, (LEFT + right) / 2.0, H - 6.0, esc(x_label));
    let _ = write!(s, r#"<text transform="translate(14,{:.1}) rotate(-90)" text-anchor="middle" class="label">{}</text>"#, (TOP + bottom) / 2.0, esc(y_label));
}

fn mark(s: &mut String, x: f64, y: f64, colour: &str, mark: Mark, title: &str) {
    let title = esc(title);
    match mark {
        Mark::Dot => _ = write!(s, r#"<circle cx="{x:.1}" cy="{y:.1}" r="4" fill="{colour}" fill-opacity="0.8"><title>{title}</title></circle>"#),
        Mark::Ring => _ = write!(s, r#"<circle cx="{x:.1}" cy="{y:.1}" r="4" fill="none" stroke="{colour}" stroke-width="1.5"><title>{title}</title></circle>"#),
        Mark::Cross => _ = write!(s, r#"<path d="M{:.1},{:.1}l8,8m0,-8l-8,8" stroke="{colour}" stroke-width="2"><title>{title}</title></path>"#, x - 4.0, y - 4.0),
    }
}

fn legend(s: &mut String, entries: &[(String, String)]) {
    let mut x = LEFT + 8.0;
    for (text, colour) in entries {
        let _ = write!(s, r#"<rect x="{x:.1}" y="{}" width="10" height="10" fill="{colour}"/><text x="{:.1}" y="{}" class="tick">{}</text>"#, TOP + 6.0, x + 14.0, TOP + 15.0, esc(text));
        x += 24.0 + 6.5 * text.chars().count() as f64;
    }
}

/// Horizontal bars, largest first as given: `(label, value, hover)`; `unit` follows values.
pub fn bars(rows: &[(String, f64, String)], label: &str, unit: &str) -> String {
    let row_h = 22.0;
    let label_w = 180.0;
    let height = TOP + row_h * rows.len().max(1) as f64 + 8.0;
    let max = rows.iter().map(|r| r.1).fold(0.0f64, f64::max).max(f64::MIN_POSITIVE);
    let mut s = format!(r#"<svg class="chart" viewBox="0 0 {W} {height:.0}" role="img" aria-label="{}">"#, esc(label));
    for (i, (name, value, hover)) in rows.iter().enumerate() {
        let y = TOP + i as f64 * row_h;
        let w = (value / max).max(0.0) * (W - label_w - 90.0);
        let _ = write!(
            s,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end" class="tick">{}</text><rect x="{label_w}" y="{y:.1}" width="{w:.1}" height="{:.1}" fill="{}"><title>{}</title></rect><text x="{:.1}" y="{:.1}" class="tick">{}{unit}</text>"##,
            label_w - 6.0,
            y + 14.0,
            esc(&truncate(name, 28)),
            row_h - 6.0,
            PALETTE[0],
            esc(hover),
            label_w + w + 4.0,
            y + 14.0,
            if unit == "%" { format!("{value:.1}") } else { num(*value) }
        );
    }
    s.push_str("</svg>");
    s
}

/// A heat map of counts (a confusion matrix): rows are truth, columns predictions.
pub fn heatmap(labels: &[String], counts: &[Vec<usize>], label: &str) -> String {
    let k = labels.len().max(1);
    let cell = (360.0 / k as f64).clamp(14.0, 60.0);
    let (left, top) = (130.0, 40.0);
    let size = left + cell * k as f64 + 16.0;
    let max = counts.iter().flatten().copied().max().unwrap_or(1).max(1) as f64;
    let mut s = format!(r#"<svg class="chart square" viewBox="0 0 {size:.0} {:.0}" role="img" aria-label="{}">"#, top + cell * k as f64 + 40.0, esc(label));
    let _ = write!(s, r#"<text x="{:.1}" y="14" text-anchor="middle" class="label">predicted</text>"#, left + cell * k as f64 / 2.0);
    let _ = write!(s, r#"<text transform="translate(14,{:.1}) rotate(-90)" text-anchor="middle" class="label">true</text>"#, top + cell * k as f64 / 2.0);
    for (i, name) in labels.iter().enumerate() {
        let c = left + (i as f64 + 0.5) * cell;
        let _ = write!(s, r#"<text x="{c:.1}" y="{:.1}" text-anchor="middle" class="tick">{}</text>"#, top - 6.0, esc(&truncate(name, 8)));
        let _ = write!(s, r#"<text x="{:.1}" y="{:.1}" text-anchor="end" class="tick">{}</text>"#, left - 6.0, top + (i as f64 + 0.5) * cell + 4.0, esc(&truncate(name, 16)));
    }
    for (i, row) in counts.iter().enumerate() {
        let total: usize = row.iter().sum();
        for (j, &n) in row.iter().enumerate() {
            let shade = n as f64 / max;
            let fill = format!("rgba(78,121,167,{:.3})", 0.05 + 0.95 * shade);
            let (x, y) = (left + j as f64 * cell, top + i as f64 * cell);
            let text = if shade > 0.5 { "#fff" } else { "#222" };
            let share = if total > 0 { 100.0 * n as f64 / total as f64 } else { 0.0 };
            let _ = write!(s, r##"<rect x="{x:.1}" y="{y:.1}" width="{cell:.1}" height="{cell:.1}" fill="{fill}" stroke="#fff"><title>true {}, predicted {}: {n} ({share:.1}% of the true class)</title></rect>"##, esc(&labels[i]), esc(&labels[j]));
            if cell >= 24.0 {
                let _ = write!(s, r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" class="tick" fill="{text}">{n}</text>"#, x + cell / 2.0, y + cell / 2.0 + 4.0);
            }
        }
    }
    s.push_str("</svg>");
    s
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n - 1).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        let t = ticks(0.0, 1.0, 5);
        assert_eq!(t.len(), 6);
        assert!(t.iter().zip([0.0, 0.2, 0.4, 0.6, 0.8, 1.0]).all(|(a, b)| (a - b).abs() < 1e-12), "{t:?}");
        let t = ticks(0.13, 29.7, 6);
        assert_eq!(t.first().copied(), Some(5.0));
        assert!(t.iter().all(|v| (v / 5.0).fract().abs() < 1e-9) && *t.last().unwrap() <= 29.7);
        assert_eq!(ticks(3.0, 3.0, 5), vec![3.0]);
    }

    #[test]
    fn charts_escape_text_and_draw_every_point() {
        let chart = Chart {
            x_label: "seconds".into(),
            y_label: "<score>".into(),
            points: (0..3).map(|i| Point { x: i as f64, y: i as f64 * 0.1, colour: i, mark: Mark::Dot, title: format!("trial {i} & more") }).collect(),
            ..Chart::default()
        };
        let svg = chart.render("a \"chart\"");
        assert_eq!(svg.matches("<circle").count(), 3);
        assert!(svg.contains("trial 1 &amp; more") && svg.contains("&lt;score&gt;") && svg.contains("a &quot;chart&quot;"));
        assert!(!svg.contains("NaN"));
    }
}
