//! The window, under a virtual X server (Xvfb) and Mesa's software Vulkan (lavapipe).
//!
//! Ignored by a plain `cargo test` because they need those installed; `.ci/run` installs them
//! and runs `cargo test --test viewer -- --ignored`.

use std::path::Path;
use std::process::Command;

fn xvfb_view(args: &[&str], png: &Path) -> std::process::Output {
    let runtime = tempfile::tempdir().unwrap();
    let out = Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 1280x720x24"])
        .arg(env!("CARGO_BIN_EXE_thetabox"))
        .arg("view")
        .args(args)
        .arg("--screenshot")
        .arg(png)
        .env("XDG_RUNTIME_DIR", runtime.path())
        .output()
        .expect("xvfb-run is needed (apt-get install xvfb xauth mesa-vulkan-drivers)");
    assert!(
        out.status.success(),
        "view failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stats(img: &image::RgbImage, xs: std::ops::Range<u32>) -> (f64, usize) {
    let mut sum = 0.0;
    let mut n = 0usize;
    let mut colours = std::collections::HashSet::new();
    for y in 0..img.height() {
        for x in xs.clone() {
            let p = img.get_pixel(x, y).0;
            sum += (p[0] as f64 + p[1] as f64 + p[2] as f64) / 3.0;
            n += 1;
            colours.insert(p);
        }
    }
    (sum / n as f64, colours.len())
}

#[test]
#[ignore = "needs Xvfb and lavapipe (run by .ci/run)"]
fn screenshot_shows_the_world_and_the_panels() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("look_around.png");
    let out = xvfb_view(&["--exit-after-cycles", "20"], &png);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("20 theta cycles"), "{err}");
    let img = image::open(&png).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (1280, 720), "the window's size");
    let (_, all) = stats(&img, 0..1280);
    assert!(all > 1000, "far from uniform: {all} distinct colours");
    // World on the left, the agent panel on the right (460 px wide).
    let (world_lum, world_colours) = stats(&img, 0..780);
    let (panel_lum, panel_colours) = stats(&img, 840..1280);
    assert!(
        world_colours > 200 && panel_colours > 200,
        "{world_colours} {panel_colours}"
    );
    assert!(
        world_lum > panel_lum + 40.0,
        "the lit room is brighter than the dark panel: {world_lum:.0} vs {panel_lum:.0}"
    );
}

#[test]
#[ignore = "needs Xvfb and lavapipe (run by .ci/run)"]
fn a_failing_screenshot_path_is_an_error() {
    let runtime = tempfile::tempdir().unwrap();
    let out = Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 1280x720x24"])
        .arg(env!("CARGO_BIN_EXE_thetabox"))
        .args(["view", "--exit-after-cycles", "1", "--screenshot"])
        .arg("/nonexistent-dir/x.png")
        .env("XDG_RUNTIME_DIR", runtime.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent-dir/x.png"));
}
