//! Charts drawn with plotters: SVG for pages (scales to a phone's width through its
//! viewBox), PNG for the monthly e-mail. Every chart has axis labels with units and a
//! legend; the page shows the same numbers as a table beside it.

use super::model::{ArmResult, Figures};
use super::rules::day_label;
use plotters::coord::Shift;
use plotters::prelude::*;

const WIDTH: u32 = 760;
const HEIGHT: u32 = 340;
const FONT: &str = "sans-serif";

/// The bundled font (DejaVu Sans), registered once: no system font library is needed.
fn fonts() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, include_bytes!("../../assets/DejaVuSans.ttf"));
    });
}

/// The series of the trend chart: (label, colour, value of a day's figures).
type Series = (&'static str, RGBColor, fn(&Figures) -> u64);
const TREND: [Series; 4] = [
    ("Sent", RGBColor(71, 85, 105), |f| f.sent),
    ("Delivered", RGBColor(37, 99, 235), |f| f.delivered()),
    ("Opened", RGBColor(22, 163, 74), |f| f.opened),
    ("Clicked", RGBColor(234, 88, 12), |f| f.clicked),
];

type DrawResult = Result<(), String>;

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// The legend, in the same place and style on every chart.
fn legend<'a, DB: DrawingBackend + 'a, X: Ranged, Y: Ranged>(chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>) -> DrawResult {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font((FONT, 13))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .draw()
        .map_err(err)
}

/// Messages per day sent, delivered, opened and clicked, for `days` in order (days with
/// nothing are zero).
fn draw_trend<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, from: i64, until: i64, days: &[(i64, Figures)]) -> DrawResult {
    root.fill(&WHITE).map_err(err)?;
    let peak = days.iter().map(|(_, f)| f.sent).max().unwrap_or(0).max(1);
    let mut chart = ChartBuilder::on(&root)
        .caption("Messages per day", (FONT, 18))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(from..until.max(from + 1), 0u64..peak + peak / 10 + 1)
        .map_err(err)?;
    let label = |d: &i64| day_label(*d).get(5..).unwrap_or_default().to_string();
    chart
        .configure_mesh()
        .x_labels(8)
        .x_label_formatter(&label)
        .x_desc("Day sent (UTC)")
        .y_desc("Messages")
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 14))
        .draw()
        .map_err(err)?;
    for (name, colour, value) in TREND {
        let points = (from..=until).map(|d| (d, days.iter().find(|(day, _)| *day == d).map(|(_, f)| value(f)).unwrap_or(0)));
        chart
            .draw_series(LineSeries::new(points, colour.stroke_width(2)))
            .map_err(err)?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(3)));
    }
    legend(&mut chart)?;
    root.present().map_err(err)
}

/// Each variant's rate with its 95 % interval, as bars with whiskers.
fn draw_arms<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, metric: &str, arms: &[ArmResult]) -> DrawResult {
    root.fill(&WHITE).map_err(err)?;
    let top = arms.iter().map(|a| a.high).fold(0.0f64, f64::max).max(0.01) * 100.0 * 1.15;
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("{metric} per variant, with 95 % interval"), (FONT, 18))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(0f64..arms.len() as f64, 0f64..top)
        .map_err(err)?;
    let names: Vec<String> = arms.iter().map(|a| a.variant.clone()).collect();
    let label = move |x: &f64| {
        let i = x.floor() as usize;
        if (x - i as f64 - 0.5).abs() < 0.26 {
            names.get(i).map(|n| format!("Variant {n}")).unwrap_or_default()
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(arms.len() * 2 + 1)
        .x_label_formatter(&label)
        .x_desc("Variant")
        .y_desc(format!("{metric} (% of delivered)"))
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 14))
        .draw()
        .map_err(err)?;
    let colour = RGBColor(37, 99, 235);
    chart
        .draw_series(
            arms.iter()
                .enumerate()
                .map(|(i, a)| Rectangle::new([(i as f64 + 0.2, 0.0), (i as f64 + 0.8, a.rate * 100.0)], colour.mix(0.75).filled())),
        )
        .map_err(err)?
        .label(format!("{metric}"))
        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], colour.mix(0.75).filled()));
    chart
        .draw_series(
            arms.iter().enumerate().map(|(i, a)| {
                PathElement::new(vec![(i as f64 + 0.5, a.low * 100.0), (i as f64 + 0.5, a.high * 100.0)], BLACK.stroke_width(2))
            }),
        )
        .map_err(err)?
        .label("95 % interval")
        .legend(|(x, y)| PathElement::new(vec![(x + 7, y - 6), (x + 7, y + 6)], BLACK.stroke_width(2)));
    legend(&mut chart)?;
    root.present().map_err(err)
}

fn svg(draw: impl FnOnce(DrawingArea<SVGBackend<'_>, Shift>) -> DrawResult) -> String {
    fonts();
    let mut out = String::new();
    let drawn = draw(SVGBackend::with_string(&mut out, (WIDTH, HEIGHT)).into_drawing_area());
    match drawn {
        // Width and height come from the viewBox and the page's CSS (phones).
        Ok(()) => out.replacen(&format!("width=\"{WIDTH}\" height=\"{HEIGHT}\" "), "", 1),
        Err(e) => {
            tracing::error!(error = %e, "chart failed");
            String::new()
        }
    }
}

fn png(draw: impl FnOnce(DrawingArea<BitMapBackend<'_>, Shift>) -> DrawResult) -> Result<Vec<u8>, String> {
    fonts();
    let mut rgb = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
    draw(BitMapBackend::with_buffer(&mut rgb, (WIDTH, HEIGHT)).into_drawing_area())?;
    let mut out = Vec::new();
    {
        let mut encoder = ::png::Encoder::new(&mut out, WIDTH, HEIGHT);
        encoder.set_color(::png::ColorType::Rgb);
        encoder.set_depth(::png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(err)?;
        writer.write_image_data(&rgb).map_err(err)?;
    }
    Ok(out)
}

/// The daily trend as SVG.
pub fn trend_svg(from: i64, until: i64, days: &[(i64, Figures)]) -> String {
    svg(|root| draw_trend(root, from, until, days))
}

/// The daily trend as PNG (for e-mail).
pub fn trend_png(from: i64, until: i64, days: &[(i64, Figures)]) -> Result<Vec<u8>, String> {
    png(|root| draw_trend(root, from, until, days))
}

/// An A/B test's arms as PNG (for e-mail).
pub fn arms_png(metric: &str, arms: &[ArmResult]) -> Result<Vec<u8>, String> {
    png(|root| draw_arms(root, metric, arms))
}

/// An A/B test's arms as SVG.
pub fn arms_svg(metric: &str, arms: &[ArmResult]) -> String {
    svg(|root| draw_arms(root, metric, arms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_have_labels_legends_and_scale_to_the_page() {
        let days =
            [(100, Figures { sent: 50, opened: 20, clicked: 5, ..Figures::default() }), (102, Figures { sent: 80, ..Figures::default() })];
        let svg = trend_svg(100, 103, &days);
        assert!(svg.starts_with("<svg") && svg.contains("viewBox"), "{svg:.200}");
        assert!(svg.starts_with("<svg viewBox"), "no fixed size: {svg:.80}");
        for text in ["Messages per day", "Day sent (UTC)", "Messages", "Delivered", "Clicked"] {
            assert!(svg.contains(text), "{text} missing");
        }
        let png = trend_png(100, 103, &days).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        let arms = [
            ArmResult { variant: "A".into(), trials: 100, successes: 10, rate: 0.1, low: 0.05, high: 0.17 },
            ArmResult { variant: "B".into(), trials: 100, successes: 20, rate: 0.2, low: 0.13, high: 0.29 },
        ];
        let svg = arms_svg("Click rate", &arms);
        assert!(svg.contains("Variant B") && svg.contains("95 % interval"), "{svg:.300}");
    }
}
