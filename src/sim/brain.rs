//! One learner per agent, driven through the theta cycle by the schedule's sets.

use bevy::prelude::*;

use super::body::{Agent, Motor};
use super::retina::Eye;
use super::senses::{BodySenses, TOUCH_SIDES};
use super::{SimConfig, ThetaClock, ThetaSystems};
use crate::brain::cortex::Cortex;
use crate::brain::learner::{Cue, Learner};
use crate::scenario::AgentSpec;
pub use crate::scenario::circuit::{
    ACTION_UNITS, agent_network, brain_seed, input_shape, input_to_frame, learner_from_bytes,
    new_learner, senses_len, tiling,
};

/// An agent's brain (any [`Learner`]) and what it saw and predicted this cycle.
#[derive(Component)]
pub struct Brain {
    /// The learner: a [`Cortex`], a [`Backprop`](crate::brain::learner::Backprop) network, ….
    pub learner: Box<dyn Learner>,
    /// Learn after each cycle.
    pub learn: bool,
    /// Frame t: shown during the whole cycle.
    pub frame: Vec<f32>,
    /// The body senses for this cycle (vestibular ‖ touch, those the agent has).
    pub senses: Vec<f32>,
    /// The prediction of frame t+1 in frame space (made before the outcome exists).
    pub prediction: Vec<f32>,
}

impl Brain {
    /// A fresh brain for an agent.
    pub fn new(a: &AgentSpec, seed: u64) -> crate::brain::Result<Self> {
        let n = a.sensors.retina.frame_len();
        Ok(Self {
            learner: new_learner(a, seed)?,
            learn: a.brain.learns(),
            frame: vec![0.0; n],
            senses: vec![0.0; senses_len(a)],
            prediction: vec![0.0; n],
        })
    }

    /// The cortex, if this brain is one.
    pub fn cortex(&self) -> Option<&Cortex> {
        self.learner.as_any().downcast_ref()
    }

    /// What the brain would predict for this cycle's frame if it were about to take the action
    /// of unit `action_unit` instead: a minus phase on a copy of the learner (the brain itself
    /// is untouched). Returns the prediction (frame order).
    pub fn counterfactual(&self, action_unit: usize) -> crate::brain::Result<Vec<f32>> {
        let mut copy = self.learner.clone_box();
        let p = copy.predict(&Cue {
            frame: &self.frame,
            action: action_unit,
            senses: &self.senses,
        })?;
        Ok(p.to_vec())
    }

    /// Minus phase: frame t and the action about to be taken in, prediction out.
    pub fn minus(&mut self, action_unit: usize) -> crate::brain::Result<()> {
        let p = self.learner.predict(&Cue {
            frame: &self.frame,
            action: action_unit,
            senses: &self.senses,
        })?;
        self.prediction.copy_from_slice(p);
        Ok(())
    }

    /// Plus phase: the outcome.
    pub fn plus(&mut self, outcome: &[f32]) -> crate::brain::Result<()> {
        self.learner.outcome(outcome)
    }

    /// Learning, when `learn` says this cycle is one to learn from and the brain is not fixed.
    pub fn finish(&mut self, learn: bool) -> crate::brain::Result<()> {
        self.learner.learn(self.learn && learn)
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

fn take_frames(cfg: Res<SimConfig>, mut q: Query<(&Agent, &Eye, Option<&BodySenses>, &mut Brain)>) {
    for (a, eye, senses, mut b) in &mut q {
        b.frame.copy_from_slice(&eye.frame);
        if let Some(s) = senses {
            let spec = &cfg.scenario.agents[a.index].sensors;
            let mut at = 0;
            if spec.vestibular {
                b.senses[..s.vestibular.len()].copy_from_slice(&s.vestibular);
                at = s.vestibular.len();
            }
            if spec.touch {
                b.senses[at..at + TOUCH_SIDES].copy_from_slice(&s.touch);
            }
        }
    }
}

/// Failures of one phase run over all agents in parallel; the first in agent order is kept.
#[derive(Default)]
struct PhaseErrors(std::sync::Mutex<Vec<(usize, String)>>);

impl PhaseErrors {
    fn check(&self, a: &Agent, r: crate::brain::Result<()>) {
        if let Err(e) = r {
            let mut v = self.0.lock().unwrap_or_else(|p| p.into_inner());
            v.push((a.index, format!("agent `{}`: {e}", a.name)));
        }
    }

    fn report(self, fault: &mut BrainFault) {
        let errs = self.0.into_inner().unwrap_or_else(|p| p.into_inner());
        if let Some((_, e)) = errs.into_iter().min() {
            fault.0.get_or_insert(e);
        }
    }
}

fn minus_phase(
    cfg: Res<SimConfig>,
    mut fault: ResMut<BrainFault>,
    mut q: Query<(&Agent, &Motor, &mut Brain)>,
) {
    let errs = PhaseErrors::default();
    q.par_iter_mut().for_each(|(a, m, mut b)| {
        let unit = cfg.scenario.agents[a.index]
            .actions
            .iter()
            .position(|x| *x == m.action)
            .unwrap_or(0);
        errs.check(a, b.minus(unit));
    });
    errs.report(&mut fault);
}

fn plus_phase(mut fault: ResMut<BrainFault>, mut q: Query<(&Agent, &Eye, &mut Brain)>) {
    let errs = PhaseErrors::default();
    q.par_iter_mut()
        .for_each(|(a, eye, mut b)| errs.check(a, b.plus(&eye.frame)));
    errs.report(&mut fault);
}

/// Learns from the cycle, unless spawners moved their objects in it (see
/// `RunSpec::learn_respawns`).
fn learn(
    mut fault: ResMut<BrainFault>,
    cfg: Res<SimConfig>,
    clock: Res<ThetaClock>,
    mut q: Query<(&Agent, &mut Brain)>,
) {
    let learn =
        cfg.scenario.run.learn_respawns || !super::world::respawns_in(&cfg.scenario, clock.cycle);
    let errs = PhaseErrors::default();
    q.par_iter_mut()
        .for_each(|(a, mut b)| errs.check(a, b.finish(learn)));
    errs.report(&mut fault);
}
