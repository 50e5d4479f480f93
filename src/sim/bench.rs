//! `thetabox bench sim`: physics plus one frame per agent every physics step, no brains.

use std::time::Instant;

use serde::Serialize;

use super::runner::headless_app;
use crate::scenario::{self, Scenario};

/// Result of [`run`], as printed by `--json`.
#[derive(Clone, Debug, Serialize)]
pub struct SimBench {
    /// Agents.
    pub agents: usize,
    /// Retina side, pixels.
    pub res: u32,
    /// Physics steps (each with a frame per agent) per second.
    pub steps_per_second: f64,
    /// Frames per second over all agents.
    pub frames_per_second: f64,
}

/// A square arena with pillars, bouncing balls and `agents` agents on a grid, each with a
/// `res`×`res` luminance+depth eye, walking and turning at random; one physics step per cycle,
/// so every step renders every eye.
pub fn scenario(agents: usize, res: u32) -> Scenario {
    let side = (agents as f32).sqrt().ceil() as usize;
    let size = 4.0 + 2.5 * side as f32;
    let mut text = format!(
        r#"(name: "bench_sim", world: (arena: (size: ({size}, {size})),
        objects: [
            (shape: Cylinder(radius: 0.3, height: 2.0), color: (0.9, 0.9, 0.9), pos: ({p}, 1.0, {p})),
            (shape: Box(size: (0.8, 0.8, 0.8)), color: (0.8, 0.3, 0.1), pos: (-{p}, 0.4, {p})),
            (shape: Cylinder(radius: 0.3, height: 2.0), color: (0.1, 0.1, 0.1), pos: (-{p}, 1.0, -{p})),
        ],
        spawners: [(count: 6, shape: Sphere(radius: 0.2), region: (min: (-{q}, 1.5, -{q}), max: ({q}, 3.0, {q})),
                    material: (restitution: 0.8), respawn_every: Some(60))]),
        agents: ["#,
        p = size / 2.0 - 0.6,
        q = size / 2.0 - 0.5,
    );
    for i in 0..agents {
        let (gx, gz) = ((i % side) as f32, (i / side) as f32);
        let x = (gx - (side as f32 - 1.0) / 2.0) * 2.5;
        let z = (gz - (side as f32 - 1.0) / 2.0) * 2.5;
        text += &format!(
            r#"(name: "a{i}", pos: ({x}, {z}), yaw: {yaw}, sensors: (retina: (width: {res}, height: {res}))),"#,
            yaw = (i * 37 % 360) as f32
        );
    }
    text += "], run: (physics_steps: 1))";
    scenario::parse(&text, "bench_sim (built in)").expect("the bench scenario is valid")
}

/// Times `steps` physics steps (after 10 warm-up steps).
pub fn run(agents: usize, res: u32, steps: u64) -> SimBench {
    let mut app = headless_app(scenario(agents, res), 0, false);
    for _ in 0..10 {
        app.update();
    }
    let t = Instant::now();
    for _ in 0..steps {
        app.update();
    }
    let sps = steps as f64 / t.elapsed().as_secs_f64();
    SimBench {
        agents,
        res,
        steps_per_second: sps,
        frames_per_second: sps * agents as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_scenario_is_valid_for_many_sizes() {
        for n in [1, 2, 16, 64] {
            assert_eq!(scenario(n, 32).agents.len(), n);
        }
    }
}
