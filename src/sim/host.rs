//! A simulation stepped from outside, one physics step at a time, with a snapshot of what each
//! agent saw, predicted and got at the end of every theta cycle: the viewer's driver.
//!
//! The simulation is the same headless App that `thetabox run` steps ([`headless_app`]), kept
//! in its own `World`; a window only looks at it. So what an agent does in the viewer is what it
//! would do headless with the same seed (as long as no key overrides its policy), and loading
//! trained brains goes through the same code ([`load_brains`]).

use std::path::{Path, PathBuf};

use bevy::prelude::*;

use super::ThetaClock;
use super::body::{Agent, Motor};
use super::brain::{Brain, BrainFault};
use super::metrics::MetricsLog;
use super::motor::{KeyboardAction, PolicyState};
use super::retina::{ExternalEyes, Eye, EyeRenderer};
use super::runner::{RunError, headless_app, load_brains};
use super::world::{Albedo, ShapeOf};
use crate::brain::layer::Shape as LayerShape;
use crate::scenario::{Action, Policy, RetinaSpec, Rgb, Scenario, Shape};

/// Most learning-curve points kept per agent (older ones are thinned out, not dropped).
const HISTORY_CAP: usize = 4096;

/// One layer's activity at the end of a theta cycle.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerActivity {
    /// Layer name.
    pub name: String,
    /// Pools and units.
    pub shape: LayerShape,
    /// Minus-phase activity per unit, in [0, 1].
    pub minus: Vec<f32>,
    /// Plus-phase activity per unit, in [0, 1].
    pub plus: Vec<f32>,
}

/// One point of an agent's learning curve.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CurvePoint {
    /// Theta cycle.
    pub cycle: u64,
    /// Prediction error.
    pub pred_error: f64,
    /// Copy-last-frame error.
    pub baseline_error: f64,
}

/// What one agent saw, predicted and got in the last complete theta cycle.
#[derive(Clone, Debug)]
pub struct AgentSnapshot {
    /// Scenario index.
    pub index: usize,
    /// Name.
    pub name: String,
    /// The eye's layout.
    pub retina: RetinaSpec,
    /// Frame t, the input of the cycle.
    pub frame: Vec<f32>,
    /// The decoded minus-phase prediction of frame t+1.
    pub prediction: Vec<f32>,
    /// Frame t+1, the outcome.
    pub outcome: Vec<f32>,
    /// The action of the cycle.
    pub action: Action,
    /// The actions it has.
    pub actions: Vec<Action>,
    /// Its policy.
    pub policy: Policy,
    /// Every layer of its brain.
    pub layers: Vec<LayerActivity>,
    /// Learning curve, oldest first.
    pub curve: Vec<CurvePoint>,
    /// Keep every `stride`-th cycle in `curve` (doubles when the curve is full).
    stride: u64,
}

/// A visible body of the simulation, for drawing.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BodyPose {
    /// The simulation's entity (stable while the body exists).
    pub entity: Entity,
    /// Pose.
    pub transform: Transform,
    /// Shape and size.
    pub shape: Shape,
    /// Colour.
    pub color: Rgb,
    /// For agents: scenario index, heading (radians) and eye height above the centre.
    pub agent: Option<(usize, f32, f32)>,
}

/// A simulation stepped on demand.
pub struct SimHost {
    scenario: Scenario,
    seed: u64,
    brains: Option<PathBuf>,
    app: App,
    /// Agents' state at the end of the last complete cycle, in scenario order.
    pub agents: Vec<AgentSnapshot>,
    /// Names of the agents whose brains were loaded from files.
    pub loaded: Vec<String>,
    /// Why the simulation stopped, if it did (a brain failed).
    pub fault: Option<String>,
    last_cycle: u64,
}

impl SimHost {
    /// A fresh simulation of `scenario` with `seed`; with `brains`, the agents' brains are
    /// loaded from that folder (written by `thetabox run --save-brain`).
    pub fn new(scenario: Scenario, seed: u64, brains: Option<&Path>) -> Result<Self, RunError> {
        let mut host = Self {
            app: App::new(),
            scenario,
            seed,
            brains: brains.map(Path::to_path_buf),
            agents: Vec::new(),
            loaded: Vec::new(),
            fault: None,
            last_cycle: 0,
        };
        host.reset()?;
        Ok(host)
    }

    /// Renders the eyes whose retina backend is `Camera` with `r` from now on (and after
    /// resets). Until it is installed (the first frame of a run) they are ray cast.
    pub fn set_eye_renderer(&mut self, r: Box<dyn EyeRenderer>) {
        self.app.world_mut().insert_non_send(ExternalEyes(r));
    }

    /// Starts over: the world as at the start, fresh (or reloaded) brains.
    pub fn reset(&mut self) -> Result<(), RunError> {
        let eyes = self.app.world_mut().remove_non_send::<ExternalEyes>();
        let mut app = headless_app(self.scenario.clone(), self.seed, true);
        if let Some(e) = eyes {
            app.world_mut().insert_non_send(e);
        }
        if let Some(e) = &app.world().resource::<BrainFault>().0 {
            return Err(RunError::Brain(e.clone()));
        }
        self.loaded = match &self.brains {
            Some(dir) => load_brains(&mut app, dir)?,
            None => Vec::new(),
        };
        self.app = app;
        self.fault = None;
        self.last_cycle = 0;
        self.agents.clear();
        self.snapshot();
        Ok(())
    }

    /// The scenario.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Theta cycles completed.
    pub fn cycle(&self) -> u64 {
        self.app.world().resource::<ThetaClock>().cycle
    }

    /// The clock (cycle and physics step within it).
    pub fn clock(&self) -> ThetaClock {
        *self.app.world().resource::<ThetaClock>()
    }

    /// What the keyboard asks for, from the next theta cycle on.
    pub fn set_keyboard(&mut self, kb: KeyboardAction) {
        let mut r = self.app.world_mut().resource_mut::<KeyboardAction>();
        if *r != kb {
            *r = kb;
        }
    }

    /// One physics step. Returns true when it completed a theta cycle (the snapshots are then
    /// new). Does nothing once a brain has failed (see [`Self::fault`]).
    pub fn step(&mut self) -> bool {
        if self.fault.is_some() {
            return false;
        }
        self.app.update();
        if let Some(e) = &self.app.world().resource::<BrainFault>().0 {
            self.fault = Some(e.clone());
            return false;
        }
        let c = self.cycle();
        if c == self.last_cycle {
            return false;
        }
        self.last_cycle = c;
        self.snapshot();
        true
    }

    /// Steps until the current theta cycle completes (at most one cycle's worth of steps).
    pub fn step_cycle(&mut self) {
        let n = self.scenario.run.physics_steps + 1;
        for _ in 0..n {
            if self.step() || self.fault.is_some() {
                return;
            }
        }
    }

    /// Every body with a shape, in a stable order (by entity).
    pub fn bodies(&mut self) -> Vec<BodyPose> {
        let mut q = self.app.world_mut().query::<(
            Entity,
            &Transform,
            &ShapeOf,
            &Albedo,
            Option<(&Agent, &Motor, &Eye)>,
        )>();
        let mut out: Vec<BodyPose> = q
            .iter(self.app.world())
            .map(|(entity, t, s, c, agent)| BodyPose {
                entity,
                transform: *t,
                shape: s.0,
                color: c.0,
                agent: agent.map(|(a, m, eye)| (a.index, m.yaw, eye.offset)),
            })
            .collect();
        out.sort_by_key(|b| b.entity);
        out
    }

    /// Current heading and position of agent `index` (between snapshots too).
    pub fn agent_pose(&mut self, index: usize) -> Option<(Vec3, f32)> {
        let mut q = self.app.world_mut().query::<(&Agent, &Transform, &Motor)>();
        q.iter(self.app.world())
            .find(|(a, ..)| a.index == index)
            .map(|(_, t, m)| (t.translation, m.yaw))
    }

    /// The headless App itself (for tests and tools).
    pub fn app_mut(&mut self) -> &mut App {
        &mut self.app
    }

    fn snapshot(&mut self) {
        let cycle = self.cycle();
        let world = self.app.world_mut();
        let mut q = world.query::<(&Agent, &Motor, &Eye, &PolicyState, Option<&Brain>)>();
        let mut items: Vec<_> = q.iter(world).collect();
        items.sort_by_key(|(a, ..)| a.index);
        let log = world.resource::<MetricsLog>();
        for (a, m, eye, pol, brain) in items {
            if self.agents.len() <= a.index {
                self.agents.resize_with(a.index + 1, || AgentSnapshot {
                    index: 0,
                    name: String::new(),
                    retina: eye.spec.clone(),
                    frame: Vec::new(),
                    prediction: Vec::new(),
                    outcome: Vec::new(),
                    action: Action::Stay,
                    actions: Vec::new(),
                    policy: Policy::Keyboard,
                    layers: Vec::new(),
                    curve: Vec::new(),
                    stride: 1,
                });
            }
            let s = &mut self.agents[a.index];
            s.index = a.index;
            s.name.clone_from(&a.name);
            s.retina.clone_from(&eye.spec);
            s.outcome.clone_from(&eye.frame);
            s.action = m.action;
            s.actions.clone_from(&pol.actions);
            s.policy.clone_from(&pol.policy);
            match brain {
                Some(b) => {
                    s.frame.clone_from(&b.frame);
                    s.prediction.clone_from(&b.prediction);
                    s.layers = layer_activity(b);
                }
                None => {
                    s.frame.clone_from(&eye.frame);
                    s.prediction = vec![0.0; eye.frame.len()];
                }
            }
            if cycle > 0
                && let Some(r) = log
                    .recent
                    .iter()
                    .rev()
                    .find(|r| r.cycle + 1 == cycle && r.agent == a.name)
                && cycle.is_multiple_of(s.stride)
            {
                s.curve.push(CurvePoint {
                    cycle: r.cycle,
                    pred_error: r.pred_error,
                    baseline_error: r.baseline_error,
                });
                if s.curve.len() >= HISTORY_CAP {
                    // Keep every other point and sample half as often from now on.
                    let kept: Vec<_> = s.curve.iter().step_by(2).copied().collect();
                    s.curve = kept;
                    s.stride *= 2;
                }
            }
        }
    }
}

/// Every layer of a brain, minus and plus phase: a cortex's layers, or a backprop network's
/// hidden layer (tanh mapped to [0, 1]; it has no phases).
fn layer_activity(b: &Brain) -> Vec<LayerActivity> {
    if let Some(c) = b.cortex() {
        let net = c.network();
        return net
            .spec()
            .layers
            .iter()
            .enumerate()
            .map(|(li, l)| LayerActivity {
                name: l.name.clone(),
                shape: l.shape,
                minus: net.prediction(li).to_vec(),
                plus: net.outcome_activity(li).to_vec(),
            })
            .collect();
    }
    if let Some(bp) = b
        .learner
        .as_any()
        .downcast_ref::<crate::brain::learner::Backprop>()
    {
        let h: Vec<f32> = bp.net().hidden().iter().map(|x| 0.5 * (x + 1.0)).collect();
        return vec![LayerActivity {
            name: "Hidden".into(),
            shape: LayerShape::d2(1, h.len()),
            minus: h.clone(),
            plus: h,
        }];
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Scenario {
        let mut sc = crate::scenario::look_around();
        sc.agents[0].sensors.retina.width = 8;
        sc.agents[0].sensors.retina.height = 8;
        sc
    }

    #[test]
    fn steps_complete_cycles_and_snapshot_them() {
        let mut h = SimHost::new(tiny(), 3, None).unwrap();
        assert_eq!(h.cycle(), 0);
        for _ in 0..3 {
            h.step_cycle();
        }
        assert_eq!(h.cycle(), 3);
        let a = &h.agents[0];
        // 8×8 pixels, luminance and depth.
        assert_eq!(a.frame.len(), 128);
        assert_eq!(a.outcome.len(), 128);
        assert_eq!(a.curve.len(), 3);
        assert!(a.layers.iter().any(|l| l.name == "EyeP"));
        assert!(h.bodies().iter().any(|b| b.agent.is_some()));
    }

    #[test]
    fn reset_starts_over_identically() {
        let mut h = SimHost::new(tiny(), 3, None).unwrap();
        for _ in 0..2 {
            h.step_cycle();
        }
        let before = h.agents[0].prediction.clone();
        h.reset().unwrap();
        assert_eq!(h.cycle(), 0);
        for _ in 0..2 {
            h.step_cycle();
        }
        assert_eq!(h.agents[0].prediction, before);
    }

    #[test]
    fn keyboard_overrides_the_driven_agents_policy() {
        let mut h = SimHost::new(tiny(), 3, None).unwrap();
        h.set_keyboard(KeyboardAction {
            action: Some(Action::TurnRight),
            agent: Some(0),
        });
        for _ in 0..4 {
            h.step_cycle();
            assert_eq!(h.agents[0].action, Action::TurnRight);
        }
    }
}
