//! Keys, the end-of-run screenshot and exit.

use std::path::PathBuf;

use bevy::prelude::*;
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured};

use super::{SPEEDS, ViewState};
use crate::scenario::Action;
use crate::sim::host::SimHost;
use crate::sim::motor::KeyboardAction;

/// Every key the viewer understands, as shown by the F1 overlay.
pub const KEYS: &[(&str, &str)] = &[
    ("Space", "pause / resume"),
    ("N", "run one theta cycle (while paused)"),
    (
        "- / =",
        "slower / faster (1× real time … as fast as possible)",
    ),
    (
        "W A S D",
        "drive the selected agent: forward, turn left, back, turn right",
    ),
    ("Tab / Shift+Tab", "select the next / previous agent"),
    ("click", "select the agent under the pointer"),
    ("left drag", "orbit the camera"),
    ("right drag", "pan the camera"),
    ("wheel", "zoom"),
    ("C", "camera follows the selected agent (on / off)"),
    ("M", "network view: minus / plus phase"),
    ("R", "reset the world and the brains"),
    ("F12", "save a screenshot (thetabox-screenshot-CYCLE.png)"),
    ("F1", "this help"),
    ("Esc", "close this help"),
];

/// Keys and the scripted screenshot.
pub struct ControlsPlugin;

impl Plugin for ControlsPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(PreUpdate, keys.after(bevy::input::InputSystems))
            .add_systems(Last, finish_when_done);
    }
}

/// The action WASD asks for (W and S win over A and D when both are held).
fn held_action(k: &ButtonInput<KeyCode>) -> Option<Action> {
    if k.pressed(KeyCode::KeyW) {
        Some(Action::Forward)
    } else if k.pressed(KeyCode::KeyS) {
        Some(Action::Back)
    } else if k.pressed(KeyCode::KeyA) {
        Some(Action::TurnLeft)
    } else if k.pressed(KeyCode::KeyD) {
        Some(Action::TurnRight)
    } else {
        None
    }
}

fn keys(
    k: Res<ButtonInput<KeyCode>>,
    mut st: ResMut<ViewState>,
    mut host: NonSendMut<SimHost>,
    mut commands: Commands,
) {
    if k.just_pressed(KeyCode::Space) {
        st.paused = !st.paused;
    }
    if k.just_pressed(KeyCode::KeyN) {
        st.paused = true;
        st.step_once = true;
    }
    if k.just_pressed(KeyCode::Equal) || k.just_pressed(KeyCode::NumpadAdd) {
        st.speed = (st.speed + 1).min(SPEEDS.len() - 1);
    }
    if k.just_pressed(KeyCode::Minus) || k.just_pressed(KeyCode::NumpadSubtract) {
        st.speed = st.speed.saturating_sub(1);
    }
    let n = host.agents.len().max(1);
    if k.just_pressed(KeyCode::Tab) {
        let back = k.pressed(KeyCode::ShiftLeft) || k.pressed(KeyCode::ShiftRight);
        st.selected = if back {
            (st.selected + n - 1) % n
        } else {
            (st.selected + 1) % n
        };
    }
    if k.just_pressed(KeyCode::KeyC) {
        st.follow = !st.follow;
    }
    if k.just_pressed(KeyCode::KeyM) {
        st.show_plus = !st.show_plus;
    }
    if k.just_pressed(KeyCode::KeyR) {
        st.reset = true;
    }
    if k.just_pressed(KeyCode::F1) {
        st.help = !st.help;
    }
    if k.just_pressed(KeyCode::Escape) {
        st.help = false;
    }
    if k.just_pressed(KeyCode::F12) {
        let path = PathBuf::from(format!("thetabox-screenshot-{}.png", host.cycle()));
        st.message = format!("screenshot → {}", path.display());
        commands
            .spawn(Screenshot::primary_window())
            .observe(save_shot(path, false));
    }
    let held = held_action(&k);
    host.set_keyboard(KeyboardAction {
        action: held,
        agent: held.map(|_| st.selected),
    });
}

/// Frames still to draw after the last cycle before the screenshot, so the panel shows it.
const SETTLE_FRAMES: u32 = 3;

/// With `--exit-after-cycles`: once the cycles are done, draw a few frames, take the
/// screenshot (if asked) and exit when it is on disk.
fn finish_when_done(
    host: NonSend<SimHost>,
    mut st: ResMut<ViewState>,
    mut commands: Commands,
    mut settle: Local<u32>,
    mut requested: Local<bool>,
    mut exit: MessageWriter<AppExit>,
) {
    let Some(n) = st.exit_after else { return };
    if host.cycle() < n && host.fault.is_none() {
        return;
    }
    if *requested {
        return;
    }
    *settle += 1;
    if *settle < SETTLE_FRAMES {
        return;
    }
    *requested = true;
    eprintln!(
        "{} theta cycles; {}; simulation {:.0} physics steps/s",
        host.cycle(),
        st.frame_report(),
        st.steps_per_s
    );
    let failed = host.fault.is_some();
    match st.screenshot.take() {
        Some(path) => {
            commands
                .spawn(Screenshot::primary_window())
                .observe(save_shot(path, true));
        }
        None => {
            exit.write(if failed {
                AppExit::from_code(1)
            } else {
                AppExit::Success
            });
        }
    }
}

/// Saves a captured window as PNG; with `then_exit`, exits afterwards (code 1 when the file
/// could not be written or the simulation had stopped on an error).
fn save_shot(
    path: PathBuf,
    then_exit: bool,
) -> impl FnMut(On<ScreenshotCaptured>, ResMut<ViewState>, NonSend<SimHost>, MessageWriter<AppExit>)
{
    move |ev, mut st, host, mut exit| {
        let res = ev
            .image
            .clone()
            .try_into_dynamic()
            .map_err(|e| e.to_string())
            .and_then(|img| img.to_rgb8().save(&path).map_err(|e| e.to_string()));
        let ok = match res {
            Ok(()) => {
                st.message = format!("screenshot saved: {}", path.display());
                eprintln!("{}", st.message);
                true
            }
            Err(e) => {
                st.message = format!("screenshot {}: {e}", path.display());
                eprintln!("error: {}", st.message);
                false
            }
        };
        if then_exit {
            exit.write(if ok && host.fault.is_none() {
                AppExit::Success
            } else {
                AppExit::from_code(1)
            });
        }
    }
}
