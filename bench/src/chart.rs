//! The report's chart: throughput and latency over the run, one point a second, as SVG.

use std::path::Path;

use plotters::prelude::*;

use crate::report::Report;

/// Draws `report`'s timeline into an SVG file at `path`.
pub fn draw(report: &Report, path: &Path) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let t = &report.timeline;
    let t_max = t.last().map_or(1, |s| s.t + 1);
    let rps_max = t.iter().map(|s| s.requests).max().unwrap_or(1).max(1) as f64 * 1.1;
    let lat_max = t.iter().map(|s| s.p99_us).max().unwrap_or(1).max(1) as f64 / 1000.0 * 1.1;

    let root = SVGBackend::new(path, (960, 640)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let (top, bottom) = root.split_vertically(320);

    let mut c = ChartBuilder::on(&top)
        .caption(
            format!(
                "{}: {} ({} connections)",
                report.label, report.scenario, report.connections
            ),
            ("sans-serif", 18),
        )
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(70)
        .build_cartesian_2d(0u32..t_max, 0f64..rps_max)
        .map_err(|e| err(&e))?;
    c.configure_mesh()
        .x_desc("seconds")
        .y_desc("requests/s")
        .draw()
        .map_err(|e| err(&e))?;
    c.draw_series(LineSeries::new(
        t.iter().map(|s| (s.t, s.requests as f64)),
        &BLUE,
    ))
    .map_err(|e| err(&e))?
    .label("requests/s")
    .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
    c.draw_series(LineSeries::new(
        t.iter().map(|s| (s.t, s.failed as f64)),
        &RED,
    ))
    .map_err(|e| err(&e))?
    .label("not ok/s")
    .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
    c.configure_series_labels()
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(&e))?;

    let mut c = ChartBuilder::on(&bottom)
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(70)
        .build_cartesian_2d(0u32..t_max, 0f64..lat_max)
        .map_err(|e| err(&e))?;
    c.configure_mesh()
        .x_desc("seconds")
        .y_desc("latency (ms)")
        .draw()
        .map_err(|e| err(&e))?;
    c.draw_series(LineSeries::new(
        t.iter().map(|s| (s.t, s.p50_us as f64 / 1000.0)),
        &GREEN,
    ))
    .map_err(|e| err(&e))?
    .label("p50")
    .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], GREEN));
    c.draw_series(LineSeries::new(
        t.iter().map(|s| (s.t, s.p99_us as f64 / 1000.0)),
        &MAGENTA,
    ))
    .map_err(|e| err(&e))?
    .label("p99")
    .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], MAGENTA));
    c.configure_series_labels()
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}
