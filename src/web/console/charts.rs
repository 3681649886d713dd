//! The dashboard's charts, drawn on the server as SVG with plotters (its SVG
//! backend only): recipients delivered per issue as bars, and the bounce,
//! complaint and unsubscribe rates per issue as lines, with Gmail's 0.1%
//! and 0.3% complaint-rate lines drawn across.
//!
//! Owns the drawing. The numbers come in; nothing here reads the store.

use plotters::prelude::*;

/// One issue's point on the charts.
#[derive(Debug, Clone)]
pub(crate) struct Point {
    /// The issue number (the x axis).
    pub(crate) number: u32,
    /// Recipients delivered.
    pub(crate) delivered: u64,
    /// Bounced over attempted.
    pub(crate) bounce: f64,
    /// Complaints over delivered.
    pub(crate) complaint: f64,
    /// Unsubscribes over delivered.
    pub(crate) unsubscribe: f64,
}

const SIZE: (u32, u32) = (640, 260);
const TEAL: RGBColor = RGBColor(15, 118, 110);
const AMBER: RGBColor = RGBColor(180, 83, 9);
const RED: RGBColor = RGBColor(185, 28, 28);
const BLUE: RGBColor = RGBColor(29, 78, 216);
const GRAY: RGBColor = RGBColor(75, 85, 99);

/// The x range: one band per issue number.
fn span(points: &[Point]) -> (u32, u32) {
    let lo = points.iter().map(|p| p.number).min().unwrap_or(1);
    let hi = points.iter().map(|p| p.number).max().unwrap_or(1);
    (lo, hi.max(lo))
}

/// The SVG as text; an empty string when plotters cannot draw (a page
/// without a chart, its table still there).
fn draw(
    f: impl FnOnce(&DrawingArea<SVGBackend<'_>, plotters::coord::Shift>) -> Option<()>,
) -> String {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, SIZE).into_drawing_area();
        if root.fill(&WHITE).is_err() || f(&root).is_none() || root.present().is_err() {
            return String::new();
        }
    }
    out
}

/// Delivered per issue, as bars.
pub(crate) fn delivered(points: &[Point]) -> String {
    let (lo, hi) = span(points);
    let top = points.iter().map(|p| p.delivered).max().unwrap_or(0).max(1);
    draw(|root| {
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(60)
            // One segment per issue, the last included (a range's end is not).
            .build_cartesian_2d((lo..hi + 1).into_segmented(), 0u64..top + top / 10 + 1)
            .ok()?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(WHITE)
            .x_desc("issue")
            .y_desc("delivered")
            .label_style(("sans-serif", 13).into_font().color(&GRAY))
            .draw()
            .ok()?;
        chart
            .draw_series(points.iter().map(|p| {
                let x0 = SegmentValue::Exact(p.number);
                let x1 = SegmentValue::Exact(p.number + 1);
                let mut bar = Rectangle::new([(x0, 0), (x1, p.delivered)], TEAL.filled());
                bar.set_margin(0, 0, 6, 6);
                bar
            }))
            .ok()?;
        Some(())
    })
}

/// Bounce, complaint and unsubscribe rates per issue (in percent), with
/// Gmail's complaint lines at 0.1% and 0.3%.
pub(crate) fn rates(points: &[Point]) -> String {
    let (lo, hi) = span(points);
    let pct = |r: f64| r * 100.0;
    let top = points
        .iter()
        .flat_map(|p| [pct(p.bounce), pct(p.complaint), pct(p.unsubscribe)])
        .fold(0.4_f64, f64::max)
        * 1.15;
    draw(|root| {
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(60)
            .build_cartesian_2d(lo as f64 - 0.5..hi as f64 + 0.5, 0f64..top)
            .ok()?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(WHITE)
            .x_labels((hi - lo + 1).min(12) as usize)
            .x_label_formatter(&|x| format!("{:.0}", x))
            .y_label_formatter(&|y| format!("{y:.2}%"))
            .x_desc("issue")
            .y_desc("rate")
            .label_style(("sans-serif", 13).into_font().color(&GRAY))
            .draw()
            .ok()?;
        let x = (lo as f64 - 0.5, hi as f64 + 0.5);
        for (level, color, name) in [(0.1, AMBER, "0.1%"), (0.3, RED, "0.3%")] {
            chart
                .draw_series(LineSeries::new(
                    [(x.0, level), (x.1, level)],
                    ShapeStyle::from(color).stroke_width(1),
                ))
                .ok()?
                .label(format!("Gmail complaint line {name}"))
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], color));
        }
        type Of = fn(&Point) -> f64;
        let series: [(&str, RGBColor, Of); 3] = [
            ("bounces", GRAY, |p| p.bounce),
            ("complaints", RED, |p| p.complaint),
            ("unsubscribes", BLUE, |p| p.unsubscribe),
        ];
        for (name, color, of) in series {
            let line: Vec<(f64, f64)> = points
                .iter()
                .map(|p| (p.number as f64, pct(of(p))))
                .collect();
            chart
                .draw_series(LineSeries::new(
                    line.clone(),
                    ShapeStyle::from(color).stroke_width(2),
                ))
                .ok()?
                .label(name)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], color));
            chart
                .draw_series(line.iter().map(|&p| Circle::new(p, 3, color.filled())))
                .ok()?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.9))
            .border_style(GRAY)
            .label_font(("sans-serif", 12).into_font().color(&GRAY))
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .ok()?;
        Some(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points() -> Vec<Point> {
        (1..=12)
            .map(|n| Point {
                number: n,
                delivered: 1000 * n as u64,
                bounce: 0.01,
                complaint: 0.0005 * n as f64 / 6.0,
                unsubscribe: 0.002,
            })
            .collect()
    }

    #[test]
    fn both_charts_are_svg_with_their_lines() {
        let d = delivered(&points());
        assert!(d.starts_with("<svg"), "{d}");
        // One teal bar per issue, the latest included.
        // (A bar outside the x range is written with a negative width.)
        let bars = |svg: &str| {
            svg.lines()
                .filter(|l| l.contains("fill=\"#0F766E\""))
                .filter(|l| {
                    l.split("width=\"")
                        .nth(1)
                        .and_then(|w| w.split('"').next())
                        .and_then(|w| w.parse::<f64>().ok())
                        .is_some_and(|w| w > 0.0)
                })
                .count()
        };
        assert_eq!(bars(&d), 12, "{d}");
        assert_eq!(bars(&delivered(&points()[..1])), 1);
        let r = rates(&points());
        assert!(r.starts_with("<svg"), "{r}");
        assert!(r.contains("Gmail complaint line 0.1%"), "{r}");
        assert!(r.contains("Gmail complaint line 0.3%"), "{r}");
        // One issue only still draws.
        assert!(delivered(&points()[..1]).starts_with("<svg"));
        assert!(rates(&[]).starts_with("<svg"));
    }
}
