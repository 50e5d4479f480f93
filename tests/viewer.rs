//! The window, under a virtual X server (Xvfb) and Mesa's software Vulkan (lavapipe).
//!
//! Ignored by a plain `cargo test` because they need those installed; `.ci/run` installs them
//! and runs `cargo test --test viewer -- --ignored`.
#![cfg(feature = "viewer")]

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

/// Pearson r.
fn pearson(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (
        a.iter().map(|&x| x as f64).sum::<f64>() / n,
        b.iter().map(|&x| x as f64).sum::<f64>() / n,
    );
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        let (dx, dy) = (x as f64 - ma, y as f64 - mb);
        sab += dx * dy;
        saa += dx * dx;
        sbb += dy * dy;
    }
    sab / (saa * sbb).sqrt()
}

#[test]
#[ignore = "needs a Vulkan device, e.g. lavapipe (run by .ci/run)"]
fn raycast_and_camera_backends_see_the_same_scene() {
    use bevy::prelude::{Entity, Transform};
    use thetabox::sim::body::Motor;
    use thetabox::sim::host::SimHost;
    use thetabox::sim::retina::{Eye, EyeRenderer, EyeView, eye_pose};

    let sc = thetabox::scenario::look_around();
    let mut gpu = thetabox::viewer::eyes::GpuEyes::new(&sc.world);
    let mut host = SimHost::new(sc, 1, None).unwrap();
    let (mut ray_all, mut gpu_all) = (Vec::new(), Vec::new());
    let mut rs = Vec::new();
    for _ in 0..12 {
        for _ in 0..3 {
            host.step_cycle();
        }
        let bodies = host.bodies();
        let app = host.app_mut();
        let mut q = app
            .world_mut()
            .query::<(Entity, &Transform, &Motor, &Eye)>();
        let (me, t, m, eye) = q.single(app.world()).unwrap();
        let (origin, rotation) = eye_pose(t, m, eye);
        let view = EyeView {
            me,
            origin,
            rotation,
            spec: &eye.spec,
        };
        let rgb = gpu.render(&bodies, &[view]).unwrap().remove(0);
        let n = rgb.len();
        // Luminance is the first plane of look_around's frames.
        let ray = eye.frame[..n].to_vec();
        let cam: Vec<f32> = rgb.iter().map(|c| (c[0] + c[1] + c[2]) / 3.0).collect();
        rs.push(pearson(&ray, &cam));
        ray_all.extend(ray);
        gpu_all.extend(cam);
    }
    let r = pearson(&ray_all, &gpu_all);
    let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
    // Least-squares slope camera ≈ k · ray: how well the light levels were matched.
    let k = ray_all
        .iter()
        .zip(&gpu_all)
        .map(|(x, y)| x * y)
        .sum::<f32>()
        / ray_all.iter().map(|x| x * x).sum::<f32>();
    eprintln!(
        "luminance r = {r:.3} over {} frames (per frame {:.3}…{:.3}); slope {k:.3}; mean ray {:.3}, camera {:.3}",
        rs.len(),
        rs.iter().copied().fold(f64::INFINITY, f64::min),
        rs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        mean(&ray_all),
        mean(&gpu_all)
    );
    assert!(r >= 0.9, "luminance frames correlate at r = {r:.3}");
    assert!(
        (0.8..1.25).contains(&k),
        "light levels differ by a factor {k:.3}"
    );
}

#[test]
fn bad_input_exits_2_before_any_window_opens() {
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_thetabox"))
            .arg("view")
            .args(args)
            .env_remove("DISPLAY")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run(&["/nonexistent/s.ron"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("/nonexistent/s.ron"), "{err}");
    let (code, err) = run(&["--brains", "/nonexistent/brains"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("/nonexistent/brains"), "{err}");
    let (code, _) = run(&["--screenshot", "x.png"]);
    assert_eq!(code, Some(2), "--screenshot needs --exit-after-cycles");
}
