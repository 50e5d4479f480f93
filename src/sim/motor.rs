//! Policies: how each agent picks the action of a theta cycle.

use bevy::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::body::{Agent, Motor};
use super::{SimConfig, ThetaSystems};
use crate::scenario::{Action, Policy};

/// Per-agent policy state.
#[derive(Component, Clone, Debug)]
pub struct PolicyState {
    /// The policy.
    pub policy: Policy,
    /// Actions available, in the order of the brain's action units.
    pub actions: Vec<Action>,
    /// Position in a scripted list.
    pub step: usize,
    /// This agent's random numbers (seeded from the run seed and the agent's index).
    pub rng: ChaCha8Rng,
}

impl PolicyState {
    /// Picks the next action after `last`.
    pub fn choose(&mut self, last: Action, keyboard: Option<Action>) -> Action {
        match &self.policy {
            Policy::Random { persistence } => {
                // Always draw both numbers so the stream does not depend on the outcome.
                let keep = self.rng.random::<f32>() < *persistence;
                let pick = self.actions[self.rng.random_range(0..self.actions.len())];
                if keep && self.actions.contains(&last) {
                    last
                } else {
                    pick
                }
            }
            Policy::Scripted(list) => {
                let a = list[self.step % list.len()];
                self.step += 1;
                a
            }
            Policy::Keyboard => keyboard
                .filter(|a| self.actions.contains(a))
                .unwrap_or(Action::Stay),
        }
    }
}

/// The action the keyboard asks for (set by the viewer).
///
/// Agents with the `Keyboard` policy take it (or `Stay`); with `agent` set, that agent takes it
/// whatever its policy, for as long as the key is held.
#[derive(Resource, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeyboardAction {
    /// The held key's action; `None` when no key is held.
    pub action: Option<Action>,
    /// The agent (scenario index) the keyboard drives, overriding its policy.
    pub agent: Option<usize>,
}

/// Attaches policies and picks actions at the start of each theta cycle.
pub struct MotorPlugin;

impl Plugin for MotorPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<KeyboardAction>()
            .add_systems(PostStartup, attach_policies)
            .add_systems(FixedUpdate, choose_actions.in_set(ThetaSystems::Sense));
    }
}

fn attach_policies(mut commands: Commands, cfg: Res<SimConfig>, q: Query<(Entity, &Agent)>) {
    for (e, a) in &q {
        let spec = &cfg.scenario.agents[a.index];
        let seed = cfg.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (a.index as u64 + 1) << 20;
        commands.entity(e).insert(PolicyState {
            policy: spec.policy.clone(),
            actions: spec.actions.clone(),
            step: 0,
            rng: ChaCha8Rng::seed_from_u64(seed),
        });
    }
}

/// Picks every agent's action for the new theta cycle.
pub fn choose_actions(
    kb: Res<KeyboardAction>,
    mut q: Query<(&Agent, &mut PolicyState, &mut Motor)>,
) {
    for (a, mut p, mut m) in &mut q {
        let driven = kb.agent == Some(a.index);
        let held = kb
            .action
            .filter(|act| (driven || kb.agent.is_none()) && p.actions.contains(act));
        m.action = match held {
            // The policy still draws, so its random stream stays where it would have been.
            Some(act) if driven => {
                p.choose(m.action, held);
                act
            }
            _ => p.choose(m.action, held),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(policy: Policy) -> PolicyState {
        PolicyState {
            policy,
            actions: vec![Action::TurnLeft, Action::TurnRight, Action::Stay],
            step: 0,
            rng: ChaCha8Rng::seed_from_u64(1),
        }
    }

    #[test]
    fn scripted_loops() {
        let mut s = state(Policy::Scripted(vec![Action::TurnLeft, Action::Stay]));
        let got: Vec<_> = (0..5).map(|_| s.choose(Action::Stay, None)).collect();
        use Action::*;
        assert_eq!(got, [TurnLeft, Stay, TurnLeft, Stay, TurnLeft]);
    }

    #[test]
    fn random_persistence_keeps_actions() {
        let mut s = state(Policy::Random { persistence: 0.9 });
        let mut last = Action::Stay;
        let mut same = 0;
        for _ in 0..2000 {
            let a = s.choose(last, None);
            assert!(s.actions.contains(&a));
            same += (a == last) as usize;
            last = a;
        }
        // P(same) = 0.9 + 0.1/3 ≈ 0.93.
        assert!((1800..1930).contains(&same), "{same}");
    }

    #[test]
    fn keyboard_falls_back_to_stay() {
        let mut s = state(Policy::Keyboard);
        assert_eq!(
            s.choose(Action::Stay, Some(Action::TurnLeft)),
            Action::TurnLeft
        );
        assert_eq!(s.choose(Action::Stay, Some(Action::Forward)), Action::Stay);
        assert_eq!(s.choose(Action::Stay, None), Action::Stay);
    }
}
