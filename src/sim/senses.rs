//! Optional body senses: vestibular (self-motion) and touch, as extra brain inputs.
//!
//! Both are sampled when the frame is rendered (the end of each theta cycle) and shown to the
//! brain with the frame during the next cycle, like the frame itself.

use bevy::prelude::*;
use bevy_rapier3d::parry::shape::Ball;
use bevy_rapier3d::prelude::*;

use super::body::{Agent, Motor, wrap_angle};
use super::{SimConfig, ThetaSystems};

pub use crate::scenario::circuit::{TOUCH_SIDES, VESTIB_UNITS, VESTIB_VARS};

/// What an agent's body senses, updated at the end of each theta cycle.
#[derive(Component, Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BodySenses {
    /// Population code of forward speed, sideways speed and turning rate (3 × 8 values).
    pub vestibular: Vec<f32>,
    /// Contact on the front, right, back and left (1 = touching).
    pub touch: [f32; TOUCH_SIDES],
    last_pos: Vec3,
    last_yaw: f32,
}

/// Gaussian population code of `x` over `[lo, hi]` with `n` units.
pub fn popcode(x: f32, lo: f32, hi: f32, n: usize, out: &mut [f32]) {
    let step = (hi - lo) / (n - 1) as f32;
    let x = x.clamp(lo, hi);
    for (i, o) in out.iter_mut().enumerate().take(n) {
        let d = (x - (lo + step * i as f32)) / step;
        *o = (-0.5 * d * d).exp();
    }
}

/// Samples the senses of agents that have them.
pub struct SensesPlugin;

impl Plugin for SensesPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(PostStartup, attach_senses)
            .add_systems(FixedUpdate, sample_senses.in_set(ThetaSystems::Observe));
    }
}

fn attach_senses(
    mut commands: Commands,
    cfg: Res<SimConfig>,
    q: Query<(Entity, &Agent, &Transform, &Motor)>,
) {
    for (e, a, t, m) in &q {
        let s = &cfg.scenario.agents[a.index].sensors;
        if s.vestibular || s.touch {
            commands.entity(e).insert(BodySenses {
                vestibular: vec![0.0; VESTIB_VARS * VESTIB_UNITS],
                touch: [0.0; TOUCH_SIDES],
                last_pos: t.translation,
                last_yaw: m.yaw,
            });
        }
    }
}

fn sample_senses(
    cfg: Res<SimConfig>,
    ctx: ReadRapierContext,
    mut q: Query<(Entity, &Agent, &Transform, &Motor, &mut BodySenses)>,
) -> Result {
    let ctx = ctx.single()?;
    for (e, a, t, m, mut s) in &mut q {
        let spec = &cfg.scenario.agents[a.index];
        let (fwd, right) = (m.forward(), m.right());
        // Self-motion over the cycle just simulated (0.2 s).
        let v = (t.translation - s.last_pos) / 0.2;
        let w = wrap_angle(m.yaw - s.last_yaw) / 0.2;
        let (vmax, wmax) = (spec.body.speed.max(0.1), m.turn_rate.max(0.1));
        let (vf, vr) = (v.dot(fwd), v.dot(right));
        for (k, (x, r)) in [(vf, vmax), (vr, vmax), (w, wmax)].into_iter().enumerate() {
            let out = &mut s.vestibular[k * VESTIB_UNITS..(k + 1) * VESTIB_UNITS];
            popcode(x, -r, r, VESTIB_UNITS, out);
        }
        s.last_pos = t.translation;
        s.last_yaw = m.yaw;
        // Touch: a small probe just outside the body on each side.
        let reach = spec.body.radius + 0.06;
        let probe = Ball::new(0.08);
        for (k, dir) in [fwd, right, -fwd, -right].into_iter().enumerate() {
            let mut hit = false;
            ctx.intersect_shape(
                t.translation + dir * reach,
                Quat::IDENTITY,
                &probe,
                QueryFilter::default().exclude_rigid_body(e),
                |_| {
                    hit = true;
                    false
                },
            );
            s.touch[k] = if hit { 1.0 } else { 0.0 };
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn popcode_peaks_at_the_value() {
        let mut out = [0.0; 8];
        popcode(0.0, -1.0, 1.0, 8, &mut out);
        // 0 lies between units 3 and 4 (at ±1/7): two equal peaks.
        assert!((out[3] - out[4]).abs() < 1e-6 && out[3] > 0.8);
        popcode(1.0, -1.0, 1.0, 8, &mut out);
        assert_eq!(out[7], 1.0);
        assert!(out[0] < 1e-6);
        popcode(5.0, -1.0, 1.0, 8, &mut out);
        assert_eq!(out[7], 1.0, "clamped");
    }
}
