//! `thetabox view`: a window onto a running scenario.
//!
//! The simulation is a [`SimHost`]: the same headless App that `thetabox run` steps, kept in
//! its own `World`. The window's App only looks at it: each drawn frame it runs as many physics
//! steps as the speed asks for and a time budget allows ([`ViewState::budget`]), then mirrors
//! the bodies into PBR meshes ([`scene`]) and draws the selected agent's frames, learning curve
//! and layers with egui ([`panel`]). Keys are in [`controls`] (F1 lists them in the window).

mod controls;
pub mod eyes;
mod panel;
mod scene;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy::render::RenderPlugin;
use bevy::window::WindowResolution;
use bevy_egui::EguiPlugin;
use thiserror::Error;

use crate::scenario::{EyeBackend, Scenario};
use crate::sim::host::SimHost;
use crate::sim::runner::RunError;

/// Window size at start, logical pixels.
pub const WINDOW_SIZE: (u32, u32) = (1280, 720);

/// Speeds: multiples of real time; `None` is as fast as the budget allows.
pub const SPEEDS: [Option<f64>; 8] = [
    Some(1.0),
    Some(2.0),
    Some(5.0),
    Some(10.0),
    Some(20.0),
    Some(50.0),
    Some(100.0),
    None,
];

/// Frame period the simulation budget aims for (12.5 frames/s on a software renderer, more
/// where drawing is fast).
const FRAME_TARGET: Duration = Duration::from_millis(80);
/// Bounds of the simulation's share of a frame, seconds.
const SIM_BUDGET: (f64, f64) = (0.004, 0.040);

/// Options of `thetabox view`.
#[derive(Clone, Debug)]
pub struct ViewOptions {
    /// The scenario.
    pub scenario: Scenario,
    /// Seed (default: the scenario's).
    pub seed: Option<u64>,
    /// Folder of brains saved by `thetabox run --save-brain`.
    pub brains: Option<PathBuf>,
    /// Save a screenshot of the whole window here once `exit_after_cycles` are done, then exit.
    pub screenshot: Option<PathBuf>,
    /// Run this many theta cycles as fast as possible, then exit (after the screenshot, if any).
    pub exit_after_cycles: Option<u64>,
}

/// Why the viewer could not run.
#[derive(Debug, Error)]
pub enum ViewError {
    /// The simulation could not start (e.g. a saved brain does not fit).
    #[error(transparent)]
    Run(#[from] RunError),
    /// The window closed with an error.
    #[error("the viewer stopped with an error (exit code {0})")]
    Exit(u8),
}

/// What the window shows and how the simulation is paced.
#[derive(Resource, Debug)]
pub struct ViewState {
    /// Scenario index of the selected agent.
    pub selected: usize,
    /// The simulation is paused.
    pub paused: bool,
    /// Index into [`SPEEDS`].
    pub speed: usize,
    /// The camera follows the selected agent.
    pub follow: bool,
    /// The key overlay is shown.
    pub help: bool,
    /// The network view shows plus-phase (else minus-phase) activity.
    pub show_plus: bool,
    /// Run one theta cycle on the next frame (key N).
    pub step_once: bool,
    /// Start over on the next frame (key R).
    pub reset: bool,
    /// Physics steps owed to the chosen speed.
    owed: f64,
    /// Wall-clock time the simulation may take per drawn frame.
    pub budget: Duration,
    /// Stop after this many cycles (and take the screenshot, then exit).
    pub exit_after: Option<u64>,
    /// Where the final screenshot goes.
    pub screenshot: Option<PathBuf>,
    /// Bumped whenever a new theta cycle completed (the panel redraws its images then).
    pub version: u64,
    /// Drawn frames per second (smoothed).
    pub fps: f32,
    /// Simulation time of the last frame, ms.
    pub sim_ms: f32,
    /// Physics steps run per second of wall time (smoothed).
    pub steps_per_s: f32,
    /// A line for the status bar (screenshots saved, errors).
    pub message: String,
    last_frame: Option<Instant>,
    /// Frames drawn and when the first one was.
    frames: u64,
    first_frame: Option<Instant>,
    /// Longest gap between two frames, seconds.
    worst_gap: f64,
}

impl ViewState {
    /// `drew N frames in T s (F frames/s, longest gap G ms)`: how responsive the window was.
    pub fn frame_report(&self) -> String {
        let secs = self.first_frame.map_or(0.0, |t| t.elapsed().as_secs_f64());
        format!(
            "drew {} frames in {:.1} s ({:.1} frames/s, longest gap {:.0} ms)",
            self.frames,
            secs,
            self.frames as f64 / secs.max(1e-9),
            self.worst_gap * 1000.0
        )
    }
}

impl Default for ViewState {
    fn default() -> Self {
        Self {
            selected: 0,
            paused: false,
            speed: 0,
            follow: false,
            help: false,
            show_plus: false,
            step_once: false,
            reset: false,
            owed: 0.0,
            budget: Duration::from_millis(20),
            exit_after: None,
            screenshot: None,
            version: 0,
            fps: 0.0,
            sim_ms: 0.0,
            steps_per_s: 0.0,
            message: String::new(),
            last_frame: None,
            frames: 0,
            first_frame: None,
            worst_gap: 0.0,
        }
    }
}

/// Opens the window and runs until it is closed (or the requested cycles and screenshot are
/// done).
pub fn view(opts: ViewOptions) -> Result<(), ViewError> {
    let seed = opts.seed.unwrap_or(opts.scenario.run.seed);
    let title = format!("thetabox — {} (seed {seed})", opts.scenario.name);
    let gpu_eyes = opts
        .scenario
        .agents
        .iter()
        .any(|a| a.sensors.retina.backend == EyeBackend::Camera);
    let world = opts.scenario.world.clone();
    let mut host = SimHost::new(opts.scenario, seed, opts.brains.as_deref())?;
    if gpu_eyes {
        host.set_eye_renderer(Box::new(eyes::GpuEyes::new(&world)));
    }
    let mut app = App::new();
    app.add_plugins(
        DefaultPlugins
            .set(WindowPlugin {
                primary_window: Some(Window {
                    title,
                    resolution: WindowResolution::new(WINDOW_SIZE.0, WINDOW_SIZE.1),
                    ..default()
                }),
                ..default()
            })
            // Pipelines compile before the first frame that needs them, so no frame (and no
            // screenshot) shows half a scene.
            .set(RenderPlugin {
                synchronous_pipeline_compilation: true,
                ..default()
            }),
    )
    .add_plugins(EguiPlugin::default())
    .insert_non_send(host)
    .insert_resource(ViewState {
        exit_after: opts.exit_after_cycles,
        screenshot: opts.screenshot,
        ..default()
    })
    .add_systems(First, drive)
    .add_plugins((
        scene::ScenePlugin,
        panel::PanelPlugin,
        controls::ControlsPlugin,
    ));
    match app.run() {
        AppExit::Success => Ok(()),
        AppExit::Error(code) => Err(ViewError::Exit(code.get())),
    }
}

/// Runs the simulation for this frame: the steps the speed asks for, within the time budget.
fn drive(mut host: NonSendMut<SimHost>, mut st: ResMut<ViewState>) {
    let now = Instant::now();
    let dt = st
        .last_frame
        .map_or(0.0, |t| now.duration_since(t).as_secs_f64());
    st.last_frame = Some(now);
    st.first_frame.get_or_insert(now);
    st.frames += 1;
    // The first frames include pipeline compilation; gaps count from the tenth frame on.
    if st.frames > 10 {
        st.worst_gap = st.worst_gap.max(dt);
    }
    if dt > 0.0 {
        st.fps += (1.0 / dt as f32 - st.fps) * 0.1;
        // Drawing takes what the frame took besides the simulation; the simulation gets what
        // is left of a frame period of FRAME_TARGET (within bounds), so the window keeps
        // redrawing at least ~1/FRAME_TARGET times a second however fast the speed.
        let draw = (dt - st.sim_ms as f64 / 1000.0).max(0.0);
        let left = (FRAME_TARGET.as_secs_f64() - draw).clamp(SIM_BUDGET.0, SIM_BUDGET.1);
        let b = st.budget.as_secs_f64();
        st.budget = Duration::from_secs_f64(b + (left - b) * 0.3);
    }
    if st.reset {
        st.reset = false;
        st.owed = 0.0;
        match host.reset() {
            Ok(()) => st.message = "reset".into(),
            Err(e) => st.message = format!("reset failed: {e}"),
        }
        st.version += 1;
    }
    let done = st.exit_after.is_some_and(|n| host.cycle() >= n);
    let mut steps = 0u32;
    if st.step_once && !done {
        st.step_once = false;
        host.step_cycle();
        st.version += 1;
    } else if !st.paused && !done && host.fault.is_none() {
        let per_cycle = host.scenario().run.physics_steps as f64;
        let fastest = st.exit_after.is_some() || SPEEDS[st.speed].is_none();
        match SPEEDS[st.speed] {
            Some(mult) if !fastest => {
                // Owed steps never pile up beyond a cycle: a slow machine runs slower than
                // asked instead of catching up in bursts.
                st.owed = (st.owed + dt * mult * per_cycle / 0.2).min(per_cycle);
            }
            _ => st.owed = f64::INFINITY,
        }
        while st.owed >= 1.0 && now.elapsed() < st.budget {
            if host.step() {
                st.version += 1;
            }
            steps += 1;
            st.owed -= 1.0;
            if host.fault.is_some() || st.exit_after.is_some_and(|n| host.cycle() >= n) {
                break;
            }
        }
        if st.owed.is_infinite() {
            st.owed = 0.0;
        }
    }
    let took = now.elapsed().as_secs_f32();
    st.sim_ms = took * 1000.0;
    if dt > 0.0 {
        st.steps_per_s += (steps as f32 / dt as f32 - st.steps_per_s) * 0.1;
    }
    if let Some(f) = &host.fault
        && !st.message.starts_with("stopped")
    {
        st.message = format!("stopped: {f}");
    }
}
