//! Charts drawn on the server as SVG: no chart library and no script, and they print.

use maud::{Markup, html};

/// One bar: its label, its value, and the text written at its end.
pub struct Bar {
    pub label: String,
    pub value: f64,
    pub text: String,
    pub colour: &'static str,
}

pub const GREEN: &str = "#1b7f3b";
pub const AMBER: &str = "#d97706";
pub const RED: &str = "#b3261e";
pub const BLUE: &str = "#1f5fae";

/// Horizontal bars scaled to `max` (the largest value when `None`).
pub fn bars(title: &str, bars: &[Bar], max: Option<f64>) -> Markup {
    const ROW: f64 = 26.0;
    const LABEL: f64 = 170.0;
    const WIDTH: f64 = 560.0;
    let max = max
        .unwrap_or_else(|| bars.iter().map(|b| b.value).fold(0.0, f64::max))
        .max(f64::MIN_POSITIVE);
    let height = ROW * bars.len().max(1) as f64 + 8.0;
    let room = WIDTH - LABEL - 90.0;
    html! {
        figure.chart {
            figcaption { (title) }
            svg xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 {WIDTH} {height}")) role="img" aria-label=(title) {
                @for (i, b) in bars.iter().enumerate() {
                    @let y = 4.0 + ROW * i as f64;
                    @let w = (b.value / max).clamp(0.0, 1.0) * room;
                    text x=(LABEL - 6.0) y=(format!("{:.1}", y + 17.0)) text-anchor="end" font-size="13" { (b.label) }
                    rect x=(LABEL) y=(format!("{:.1}", y + 3.0)) width=(format!("{w:.1}")) height="18" rx="3" fill=(b.colour) {}
                    text x=(format!("{:.1}", LABEL + w + 6.0)) y=(format!("{:.1}", y + 17.0)) font-size="13" { (b.text) }
                }
            }
        }
    }
}

/// A share as a percentage with one decimal, or a dash when there is nothing to divide.
pub fn percent(part: i64, whole: i64) -> String {
    if whole <= 0 {
        "—".to_owned()
    } else {
        format!("{:.1}%", part as f64 * 100.0 / whole as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_scaled_to_the_largest_and_labelled() {
        let out = bars(
            "t",
            &[
                Bar {
                    label: "a".into(),
                    value: 10.0,
                    text: "10".into(),
                    colour: GREEN,
                },
                Bar {
                    label: "b".into(),
                    value: 5.0,
                    text: "5".into(),
                    colour: RED,
                },
            ],
            None,
        )
        .into_string();
        assert!(out.contains(r#"width="300.0""#), "{out}");
        assert!(out.contains(r#"width="150.0""#), "{out}");
        assert_eq!(percent(1, 3), "33.3%");
        assert_eq!(percent(1, 0), "—");
    }
}
