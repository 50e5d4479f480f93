//! Line charts as PNG (plotters' bitmap backend, the font shipped in `assets/fonts`).

use std::path::Path;
use std::sync::Once;

use plotters::prelude::*;

use super::compare::CompareError;

static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The font is compiled in and known to parse; a failure would only lose the text.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// Colours of successive lines: red, blue, black, then more.
const COLOURS: [RGBColor; 6] = [
    RGBColor(214, 39, 40),
    RGBColor(31, 119, 180),
    RGBColor(40, 40, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
];

/// Draws `lines` (name, y per theta cycle) against the theta cycle into a 1000×600 PNG at
/// `path` (written to a temporary name, then renamed).
pub fn curves(path: &Path, title: &str, lines: &[(&str, &[f64])]) -> Result<(), CompareError> {
    register_font();
    let err = |why: String| CompareError::Io {
        path: path.display().to_string(),
        why,
    };
    let tmp = path.with_extension("tmp.png");
    let n = lines.iter().map(|(_, y)| y.len()).max().unwrap_or(0).max(2);
    let finite = lines
        .iter()
        .flat_map(|(_, y)| y.iter().copied())
        .filter(|v| v.is_finite());
    let top = finite.fold(0.0f64, f64::max);
    let top = if top > 0.0 { top * 1.08 } else { 1.0 };
    {
        let root = BitMapBackend::new(&tmp, (1000, 600)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 22))
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(78)
            .build_cartesian_2d(0f64..(n - 1) as f64, 0f64..top)
            .map_err(|e| err(e.to_string()))?;
        chart
            .configure_mesh()
            .x_desc("theta cycle")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .max_light_lines(2)
            .y_desc("prediction error (MSE)")
            .label_style(("sans-serif", 16))
            .axis_desc_style(("sans-serif", 18))
            .draw()
            .map_err(|e| err(e.to_string()))?;
        for (k, (name, ys)) in lines.iter().enumerate() {
            let colour = COLOURS[k % COLOURS.len()];
            chart
                .draw_series(LineSeries::new(
                    ys.iter()
                        .enumerate()
                        .filter(|(_, v)| v.is_finite())
                        .map(|(i, v)| (i as f64, *v)),
                    colour.stroke_width(2),
                ))
                .map_err(|e| err(e.to_string()))?
                .label(*name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 24, y)], colour.stroke_width(3))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font(("sans-serif", 18))
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()
            .map_err(|e| err(e.to_string()))?;
        root.present().map_err(|e| err(e.to_string()))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| err(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_has_its_lines_and_text() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.png");
        let a: Vec<f64> = (0..100).map(|i| 1.0 / (1.0 + i as f64)).collect();
        let b: Vec<f64> = (0..100).map(|_| 0.3).collect();
        curves(&p, "test: two lines", &[("falling", &a), ("flat", &b)]).unwrap();
        let img = image::open(&p).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (1000, 600));
        let count = |c: [u8; 3]| img.pixels().filter(|p| p.0 == c).count();
        let (red, blue) = (COLOURS[0], COLOURS[1]);
        assert!(
            count([red.0, red.1, red.2]) > 500,
            "the first line is drawn"
        );
        assert!(
            count([blue.0, blue.1, blue.2]) > 500,
            "the second line is drawn"
        );
        // Text (axis labels, title, legend) leaves many grey anti-aliased pixels.
        let grey = img
            .pixels()
            .filter(|p| p.0[0] == p.0[1] && p.0[1] == p.0[2] && (60..200).contains(&p.0[0]))
            .count();
        assert!(grey > 1000, "text is rendered: {grey} grey pixels");
        assert!(!dir.path().join("c.tmp.png").exists());
    }
}
