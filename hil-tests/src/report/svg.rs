//! Histograms as inline SVG bar charts with logarithmic counts.

use super::html::escape;
use crate::latency::Histogram;
use std::fmt::Write as _;

/// An SVG bar chart of one or more histograms on one axis, with
/// logarithmic counts.
pub(super) fn histogram_svg(series: &[(&str, &str, &Histogram)], unit: &str) -> String {
    const WIDTH: f64 = 720.0;
    const HEIGHT: f64 = 260.0;
    const LEFT: f64 = 56.0;
    const RIGHT: f64 = 16.0;
    const TOP: f64 = 24.0;
    const BOTTOM: f64 = 44.0;
    const MAX_BINS: u64 = 80;
    let values = series.iter().flat_map(|(_, _, h)| h.counts.keys().copied());
    // The axis starts at 0, as latency plots do, so that bars compare.
    let low = 0;
    let Some(high) = values.max() else {
        return "<p>No samples.</p>".to_string();
    };
    let bin_width = nice_width((high - low + 1).div_ceil(MAX_BINS));
    let bins = (high - low) / bin_width + 1;
    // Bin the samples.
    let binned: Vec<Vec<u64>> = series
        .iter()
        .map(|(_, _, histogram)| {
            let mut counts = vec![0u64; bins as usize];
            for (&value, &count) in &histogram.counts {
                counts[((value - low) / bin_width) as usize] += count;
            }
            counts
        })
        .collect();
    let peak = binned.iter().flatten().copied().max().unwrap_or(1).max(1);
    let decades = (peak as f64).log10().ceil().max(1.0);
    // Axis from 10^-0.3 (so a count of 1 shows) to 10^decades.
    let floor = -0.3;
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let y_of = |count: f64| TOP + plot_h * (1.0 - (count.log10() - floor) / (decades - floor));
    // Leave one empty slot on either side so single values do not touch
    // the frame.
    let slots = bins as f64 + 2.0;
    let slot_w = plot_w / slots;
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" \
         viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\">"
    );
    // Grid and count labels, one per decade.
    for decade in 0..=decades as u32 {
        let y = y_of(10f64.powi(decade as i32));
        let _ = write!(
            svg,
            "<line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#ddd\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            WIDTH - RIGHT,
            LEFT - 4.0,
            y + 4.0,
            10u64.pow(decade)
        );
    }
    // Bars: the series side by side within a bin.
    let bar_w = slot_w * 0.8 / series.len().max(1) as f64;
    for (index, counts) in binned.iter().enumerate() {
        let (name, color, _) = series[index];
        for (bin, &count) in counts.iter().enumerate() {
            if count == 0 {
                continue;
            }
            let x = LEFT + slot_w * (bin as f64 + 1.0 + 0.1) + bar_w * index as f64;
            let y = y_of(count as f64);
            let value = low + bin as u64 * bin_width;
            let range = if bin_width == 1 {
                value.to_string()
            } else {
                format!("{value}–{}", value + bin_width - 1)
            };
            let _ = write!(
                svg,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bar_w:.1}\" height=\"{:.1}\" \
                 fill=\"{color}\"><title>{name}: {count} samples at {range}</title></rect>",
                TOP + plot_h - y
            );
        }
    }
    // X labels: at most ~10.
    let step = nice_width(bins.div_ceil(10));
    let mut bin = 0;
    while bin < bins {
        let x = LEFT + slot_w * (bin as f64 + 1.5);
        let _ = write!(
            svg,
            "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            TOP + plot_h + 14.0,
            low + bin * bin_width
        );
        bin += step;
    }
    let _ = write!(
        svg,
        "<line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#444\"/>\
         <line x1=\"{LEFT}\" x2=\"{LEFT}\" y1=\"{TOP}\" y2=\"{:.1}\" stroke=\"#444\"/>\
         <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">latency ({})</text>\
         <text x=\"14\" y=\"{:.1}\" transform=\"rotate(-90 14 {:.1})\" text-anchor=\"middle\">samples (log)</text>",
        WIDTH - RIGHT,
        TOP + plot_h,
        TOP + plot_h,
        TOP + plot_h,
        LEFT + plot_w / 2.0,
        HEIGHT - 8.0,
        escape(unit),
        TOP + plot_h / 2.0,
        TOP + plot_h / 2.0,
    );
    // Legend.
    for (index, (name, color, histogram)) in series.iter().enumerate() {
        let x = LEFT + 8.0 + 150.0 * index as f64;
        let _ = write!(
            svg,
            "<rect x=\"{x:.1}\" y=\"6\" width=\"10\" height=\"10\" fill=\"{color}\"/>\
             <text x=\"{:.1}\" y=\"15\">{} ({} samples)</text>",
            x + 14.0,
            escape(name),
            histogram.samples()
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The smallest of 1, 2, 5, 10, 20, 50, … that is at least `width`, so
/// that bins and axis labels fall on round numbers.
fn nice_width(width: u64) -> u64 {
    let mut decade = 1u64;
    loop {
        for step in [1, 2, 5] {
            if step * decade >= width {
                return step * decade;
            }
        }
        decade = decade.saturating_mul(10);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_are_round() {
        assert_eq!(nice_width(0), 1);
        assert_eq!(nice_width(1), 1);
        assert_eq!(nice_width(3), 5);
        assert_eq!(nice_width(5), 5);
        assert_eq!(nice_width(3_900), 5_000);
        assert_eq!(nice_width(5_001), 10_000);
    }

    #[test]
    fn svg_of_a_single_value_and_of_a_wide_spread() {
        let narrow = Histogram {
            counts: [(4, 200)].into_iter().collect(),
            lost: 0,
        };
        let svg = histogram_svg(&[("native", "#000", &narrow)], "ticks");
        assert_eq!(
            svg.matches("<rect").count(),
            2,
            "one bar and one legend box"
        );
        assert!(svg.contains("native: 200 samples at 4"));
        let wide = Histogram {
            counts: (0..1000).map(|v| (v * 7, 1 + v % 3)).collect(),
            lost: 0,
        };
        let svg = histogram_svg(&[("bulkhead", "#111", &wide)], "ticks");
        assert!(
            svg.matches("<rect").count() <= 81,
            "binned to at most 80 bars"
        );
        assert!(svg.contains(">1000<") || svg.contains(">100<"));
    }
}
