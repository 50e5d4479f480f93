//! One learner per agent, driven through the theta cycle by the schedule's sets.

use bevy::prelude::*;

use super::body::{Agent, Motor};
use super::metrics::MonotoneDecoder;
use super::retina::Eye;
use super::{SimConfig, ThetaSystems};
use crate::brain::deep::{DeepOpts, deep_predictive};
use crate::brain::layer::Shape;
use crate::brain::{Network, NetworkSpec};
use crate::scenario::{AgentSpec, RetinaSpec};

/// Units of the action (efference copy) layer: one per possible action, up to eight.
pub const ACTION_UNITS: usize = 8;

/// An agent's brain and what it saw and predicted this cycle.
#[derive(Component)]
pub struct Brain {
    /// The learner.
    pub net: Network,
    /// Input (driver) layer index.
    pub input: usize,
    /// Action layer index.
    pub action: usize,
    /// Pulvinar layer index.
    pub pulvinar: usize,
    /// Learn after each cycle.
    pub learn: bool,
    /// Frame t: shown during the whole cycle.
    pub frame: Vec<f32>,
    /// The pulvinar's minus-phase activity: the prediction of frame t+1.
    pub pred_act: Vec<f32>,
    /// The prediction in frame space (decoded before the outcome exists).
    pub prediction: Vec<f32>,
    /// Maps pulvinar activity to pixel values.
    pub decoder: MonotoneDecoder,
}

/// The input shape for a retina: one pool per channel plane.
pub fn input_shape(r: &RetinaSpec) -> Shape {
    Shape::d4(
        1,
        r.channels_per_pixel(),
        r.height as usize,
        r.width as usize,
    )
}

/// The network of an agent: the deep predictive circuit over its retina and actions.
pub fn agent_network(a: &AgentSpec, seed: u64) -> NetworkSpec {
    let o = DeepOpts {
        input: "Eye".into(),
        hidden: "V1".into(),
        action: "Action".into(),
        hidden_shape: Shape::d2(a.brain.hidden[0], a.brain.hidden[1]),
        action_units: ACTION_UNITS,
        seed,
        ..a.brain.deep.clone()
    };
    deep_predictive(input_shape(&a.sensors.retina), &o)
}

/// Seed of agent `index`'s brain for a run seed.
pub fn brain_seed(run_seed: u64, index: usize) -> u64 {
    run_seed
        .wrapping_add(1)
        .wrapping_mul(0xA24B_AED4_963E_E407)
        .wrapping_add(index as u64)
}

impl Brain {
    /// A fresh brain for an agent.
    pub fn new(a: &AgentSpec, seed: u64) -> crate::brain::Result<Self> {
        let net = Network::new(agent_network(a, seed))?;
        let input = net.layer_index("Eye")?;
        let action = net.layer_index("Action")?;
        let pulvinar = net.layer_index("EyeP")?;
        let n = a.sensors.retina.frame_len();
        Ok(Self {
            net,
            input,
            action,
            pulvinar,
            learn: a.brain.learn,
            frame: vec![0.0; n],
            pred_act: vec![0.0; n],
            prediction: vec![0.0; n],
            decoder: MonotoneDecoder::new(n),
        })
    }

    /// Minus phase: frame t and the action about to be taken in, prediction out.
    pub fn minus(&mut self, action_unit: usize) -> crate::brain::Result<()> {
        self.net.start_theta()?;
        self.net.set_input(self.input, &self.frame)?;
        let mut act = [0.0f32; ACTION_UNITS];
        act[action_unit.min(ACTION_UNITS - 1)] = 1.0;
        self.net.set_input(self.action, &act)?;
        self.net.run_minus()?;
        self.pred_act
            .copy_from_slice(self.net.prediction(self.pulvinar));
        self.prediction = self.decoder.decode(&self.pred_act);
        Ok(())
    }

    /// Plus phase: the outcome drives the pulvinar; the decoder learns from it.
    pub fn plus(&mut self, outcome: &[f32]) -> crate::brain::Result<()> {
        self.net.apply_outcome(self.input, outcome)?;
        self.net.run_plus()?;
        self.decoder
            .observe(self.net.outcome_activity(self.pulvinar), outcome);
        Ok(())
    }

    /// Learning (or not, for a fixed brain).
    pub fn finish(&mut self) -> crate::brain::Result<()> {
        if self.learn {
            self.net.learn()
        } else {
            self.net.skip_learning()
        }
    }
}

/// The first error a brain reported; the runner stops and reports it.
#[derive(Resource, Default, Debug)]
pub struct BrainFault(pub Option<String>);

/// Builds brains and runs their phases.
pub struct BrainPlugin;

impl Plugin for BrainPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<BrainFault>()
            .add_systems(PostStartup, attach_brains)
            .add_systems(
                FixedUpdate,
                (
                    take_frames
                        .in_set(ThetaSystems::Sense)
                        .after(super::motor::choose_actions),
                    minus_phase.in_set(ThetaSystems::MinusPhase),
                    plus_phase.in_set(ThetaSystems::PlusPhase),
                    learn.in_set(ThetaSystems::Learn),
                ),
            );
    }
}

fn attach_brains(
    mut commands: Commands,
    cfg: Res<SimConfig>,
    mut fault: ResMut<BrainFault>,
    q: Query<(Entity, &Agent)>,
) {
    if !cfg.brains {
        return;
    }
    for (e, a) in &q {
        let spec = &cfg.scenario.agents[a.index];
        match Brain::new(spec, brain_seed(cfg.seed, a.index)) {
            Ok(b) => {
                commands.entity(e).insert(b);
            }
            Err(err) => {
                fault
                    .0
                    .get_or_insert(format!("agent `{}`: brain: {err}", a.name));
            }
        }
    }
}

fn take_frames(mut q: Query<(&Eye, &mut Brain)>) {
    for (eye, mut b) in &mut q {
        b.frame.copy_from_slice(&eye.frame);
    }
}

/// Records the first failure of a parallel phase, in agent order.
fn report(fault: &mut BrainFault, mut errs: Vec<(usize, String)>) {
    errs.sort();
    if let Some((_, e)) = errs.into_iter().next() {
        fault.0.get_or_insert(e);
    }
}

fn minus_phase(
    cfg: Res<SimConfig>,
    mut fault: ResMut<BrainFault>,
    mut q: Query<(&Agent, &Motor, &mut Brain)>,
) {
    let errs = std::sync::Mutex::new(Vec::new());
    q.par_iter_mut().for_each(|(a, m, mut b)| {
        let unit = cfg.scenario.agents[a.index]
            .actions
            .iter()
            .position(|x| *x == m.action)
            .unwrap_or(0);
        if let Err(e) = b.minus(unit) {
            errs.lock()
                .unwrap()
                .push((a.index, format!("agent `{}`: {e}", a.name)));
        }
    });
    report(&mut fault, errs.into_inner().unwrap());
}

fn plus_phase(mut fault: ResMut<BrainFault>, mut q: Query<(&Agent, &Eye, &mut Brain)>) {
    let errs = std::sync::Mutex::new(Vec::new());
    q.par_iter_mut().for_each(|(a, eye, mut b)| {
        if let Err(e) = b.plus(&eye.frame) {
            errs.lock()
                .unwrap()
                .push((a.index, format!("agent `{}`: {e}", a.name)));
        }
    });
    report(&mut fault, errs.into_inner().unwrap());
}

fn learn(mut fault: ResMut<BrainFault>, mut q: Query<(&Agent, &mut Brain)>) {
    let errs = std::sync::Mutex::new(Vec::new());
    q.par_iter_mut().for_each(|(a, mut b)| {
        if let Err(e) = b.finish() {
            errs.lock()
                .unwrap()
                .push((a.index, format!("agent `{}`: {e}", a.name)));
        }
    });
    report(&mut fault, errs.into_inner().unwrap());
}
