//! Checkpoints: the whole state of a headless run between two theta cycles, so a killed run
//! continues where it was and ends exactly as if it had never stopped.
//!
//! A checkpoint holds what cannot be rebuilt from the scenario and seed: Rapier's sets (bodies,
//! colliders, joints, islands, broad and narrow phase with their contact caches, so the solver
//! warm-starts as it would have), every body's transform, the agents' motors, policies, eyes,
//! senses and brains (the whole network state and the decoder), the world's random numbers,
//! the metrics kept so far and the bytes of `metrics.csv` written so far. Everything else
//! (entities, shapes, rays, layer layouts) is rebuilt by building the same App again, which
//! [`restore`] checks by comparing the entity of every rigid body.
//!
//! File: `THETACKP`, a format version, then a postcard body ([`Format`]).

use std::path::Path;

use bevy::ecs::system::RunSystemOnce;
use bevy::prelude::*;
use bevy_rapier3d::plugin::systems::writeback_rigid_bodies;
use bevy_rapier3d::prelude::*;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::ThetaClock;
use super::body::{Agent, Motor};
use super::brain::{Brain, brain_seed, learner_from_bytes};
use super::metrics::{MetricsLog, MetricsState};
use super::motor::PolicyState;
use super::retina::Eye;
use super::senses::BodySenses;
use super::world::WorldRng;
use crate::brain::framing::Format;
use crate::scenario::{Action, Scenario};

/// Framing of checkpoints.
const FORMAT: Format = Format {
    magic: b"THETACKP",
    version: 1,
};

/// Name of the checkpoint file in a run's output folder.
pub const FILE_NAME: &str = "checkpoint.thetackpt";

/// What can go wrong with a checkpoint.
#[derive(Debug, Error)]
pub enum CheckpointError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a checkpoint this build reads.
    #[error("{path}: not a thetabox checkpoint this build reads: {why}")]
    Format {
        /// The file.
        path: String,
        /// Why.
        why: String,
    },
    /// The running App's state could not be taken (not between two theta cycles, a learner
    /// or part of the physics that does not serialise).
    #[error("cannot take a checkpoint: {0}")]
    Capture(String),
    /// The checkpoint was written by another scenario, seed or length.
    #[error("{path}: {why}")]
    Mismatch {
        /// The file.
        path: String,
        /// What differs.
        why: String,
    },
}

/// One agent's state.
#[derive(Serialize, Deserialize)]
struct AgentState {
    index: usize,
    yaw: f32,
    action: Action,
    policy_step: usize,
    policy_rng: ChaCha8Rng,
    eye_frame: Vec<f32>,
    senses: Option<BodySenses>,
    /// The learner as [`crate::brain::Learner::to_bytes`] writes it.
    brain: Option<Vec<u8>>,
}

/// Rapier's state, each part postcard-encoded on its own (the parts live in three components).
#[derive(Serialize, Deserialize)]
struct PhysicsState {
    islands: Vec<u8>,
    broad_phase: Vec<u8>,
    narrow_phase: Vec<u8>,
    ccd_solver: Vec<u8>,
    integration_parameters: Vec<u8>,
    bodies: Vec<u8>,
    colliders: Vec<u8>,
    impulse_joints: Vec<u8>,
    multibody_joints: Vec<u8>,
}

/// The state of a run after `cycle` theta cycles.
#[derive(Serialize, Deserialize)]
pub struct Checkpoint {
    /// Fingerprint of the scenario as run (seed and length included).
    fingerprint: u64,
    /// Theta cycles completed.
    pub cycle: u64,
    /// Wall-clock seconds the run had taken so far.
    pub wall_seconds: f64,
    /// `metrics.csv` as written up to this cycle.
    pub metrics_csv: Vec<u8>,
    world_rng: ChaCha8Rng,
    /// Rigid-body entities (bits) with their transforms, sorted by entity.
    bodies: Vec<(u64, Transform)>,
    agents: Vec<AgentState>,
    physics: PhysicsState,
    metrics: MetricsState,
}

/// A stable fingerprint of a scenario as run (FNV-1a over its JSON form).
pub fn fingerprint(sc: &Scenario) -> u64 {
    let text = serde_json::to_string(sc).unwrap_or_default();
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

fn encode<T: Serialize>(what: &str, v: &T) -> Result<Vec<u8>, String> {
    postcard::to_allocvec(v).map_err(|e| format!("{what}: {e}"))
}

fn decode<T: for<'de> Deserialize<'de>>(what: &str, b: &[u8]) -> Result<T, String> {
    postcard::from_bytes(b).map_err(|e| format!("{what}: {e}"))
}

/// Rigid-body entities, sorted.
fn body_entities(world: &mut World) -> Vec<Entity> {
    let mut q = world.query_filtered::<Entity, With<RapierRigidBodyHandle>>();
    let mut v: Vec<Entity> = q.iter(world).collect();
    v.sort();
    v
}

impl Checkpoint {
    /// The state of `app`, which must stand between two theta cycles (as after
    /// [`super::runner::run_cycles`] returns or calls back).
    pub fn capture(
        app: &mut App,
        sc: &Scenario,
        wall_seconds: f64,
        metrics_csv: Vec<u8>,
    ) -> Result<Self, CheckpointError> {
        Self::take(app, sc, wall_seconds, metrics_csv).map_err(CheckpointError::Capture)
    }

    fn take(
        app: &mut App,
        sc: &Scenario,
        wall_seconds: f64,
        metrics_csv: Vec<u8>,
    ) -> Result<Self, String> {
        let world = app.world_mut();
        let clock = *world.resource::<ThetaClock>();
        if !clock.started || clock.step != 0 {
            return Err("a checkpoint is taken between theta cycles".into());
        }
        let mut bodies = Vec::new();
        for e in body_entities(world) {
            let t = world.get::<Transform>(e).copied().unwrap_or_default();
            bodies.push((e.to_bits(), t));
        }
        let mut q = world.query::<(
            &Agent,
            &Motor,
            &PolicyState,
            &Eye,
            Option<&BodySenses>,
            Option<&Brain>,
        )>();
        let mut agents = Vec::new();
        for (a, m, p, eye, senses, brain) in q.iter(world) {
            let brain = match brain {
                Some(b) => Some(b.learner.to_bytes().map_err(|e| e.to_string())?),
                None => None,
            };
            agents.push(AgentState {
                index: a.index,
                yaw: m.yaw,
                action: m.action,
                policy_step: p.step,
                policy_rng: p.rng.clone(),
                eye_frame: eye.frame.clone(),
                senses: senses.cloned(),
                brain,
            });
        }
        agents.sort_by_key(|a| a.index);
        let mut q = world.query::<(
            &RapierContextSimulation,
            &RapierRigidBodySet,
            &RapierContextColliders,
            &RapierContextJoints,
        )>();
        let (sim, set, cols, joints) = q.single(world).map_err(|e| e.to_string())?;
        let physics = PhysicsState {
            islands: encode("islands", &sim.islands)?,
            broad_phase: encode("broad phase", &sim.broad_phase)?,
            narrow_phase: encode("narrow phase", &sim.narrow_phase)?,
            ccd_solver: encode("CCD solver", &sim.ccd_solver)?,
            integration_parameters: encode("integration parameters", &sim.integration_parameters)?,
            bodies: encode("bodies", &set.bodies)?,
            colliders: encode("colliders", &cols.colliders)?,
            impulse_joints: encode("joints", &joints.impulse_joints)?,
            multibody_joints: encode("multibody joints", &joints.multibody_joints)?,
        };
        Ok(Self {
            fingerprint: fingerprint(sc),
            cycle: clock.cycle,
            wall_seconds,
            metrics_csv,
            world_rng: world.resource::<WorldRng>().0.clone(),
            bodies,
            agents,
            physics,
            metrics: world.resource::<MetricsLog>().state(),
        })
    }

    /// Writes the checkpoint to `path` (temporary file, then rename).
    pub fn save(&self, path: &Path) -> Result<(), CheckpointError> {
        let bytes = FORMAT.encode(self).map_err(|why| CheckpointError::Format {
            path: path.display().to_string(),
            why,
        })?;
        super::runner::write_atomic(path, &bytes).map_err(|e| CheckpointError::Io {
            path: path.display().to_string(),
            source: std::io::Error::other(e.to_string()),
        })
    }

    /// Reads a checkpoint written by [`Self::save`].
    pub fn load(path: &Path) -> Result<Self, CheckpointError> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| CheckpointError::Io {
            path: name.clone(),
            source,
        })?;
        let bad = |why: String| CheckpointError::Format {
            path: name.clone(),
            why,
        };
        FORMAT.decode(&bytes).map_err(bad)
    }

    /// Puts this state into `app`: a fresh [`super::runner::headless_app`] of the same scenario
    /// and seed, after its warm-up step (so Rapier has made its bodies). `path` names the file
    /// in errors.
    pub fn restore(self, app: &mut App, sc: &Scenario, path: &Path) -> Result<(), CheckpointError> {
        let mismatch = |why: String| CheckpointError::Mismatch {
            path: path.display().to_string(),
            why,
        };
        if self.fingerprint != fingerprint(sc) {
            return Err(mismatch(
                "written for another scenario, seed or number of cycles (delete it to start over)"
                    .into(),
            ));
        }
        let world = app.world_mut();
        let here: Vec<u64> = body_entities(world).iter().map(|e| e.to_bits()).collect();
        let saved: Vec<u64> = self.bodies.iter().map(|(e, _)| *e).collect();
        if here != saved {
            return Err(mismatch(format!(
                "holds {} bodies, the scenario builds {}",
                saved.len(),
                here.len()
            )));
        }
        let bad = |why: String| CheckpointError::Format {
            path: path.display().to_string(),
            why,
        };
        let p = &self.physics;
        {
            let mut q = world.query::<(
                &mut RapierContextSimulation,
                &mut RapierRigidBodySet,
                &mut RapierContextColliders,
                &mut RapierContextJoints,
            )>();
            let (mut sim, mut set, mut cols, mut joints) =
                q.single_mut(world).map_err(|e| bad(e.to_string()))?;
            sim.islands = decode("islands", &p.islands).map_err(bad)?;
            sim.broad_phase = decode("broad phase", &p.broad_phase).map_err(bad)?;
            sim.narrow_phase = decode("narrow phase", &p.narrow_phase).map_err(bad)?;
            sim.ccd_solver = decode("CCD solver", &p.ccd_solver).map_err(bad)?;
            sim.integration_parameters =
                decode("integration parameters", &p.integration_parameters).map_err(bad)?;
            set.bodies = decode("bodies", &p.bodies).map_err(bad)?;
            cols.colliders = decode("colliders", &p.colliders).map_err(bad)?;
            joints.impulse_joints = decode("joints", &p.impulse_joints).map_err(bad)?;
            joints.multibody_joints =
                decode("multibody joints", &p.multibody_joints).map_err(bad)?;
        }
        // Bevy's side of each body (transform, velocity, and the transform bevy_rapier last
        // wrote, which it compares against to tell a user's move from its own) follows Rapier.
        world
            .run_system_once(writeback_rigid_bodies)
            .map_err(|e| bad(e.to_string()))?;
        for (bits, t) in &self.bodies {
            let e = Entity::from_bits(*bits);
            if let Some(mut tr) = world.get_mut::<Transform>(e) {
                *tr = *t;
            }
            if let Some(mut g) = world.get_mut::<GlobalTransform>(e) {
                *g = GlobalTransform::from(*t);
            }
        }
        let mut q = world.query::<(
            &Agent,
            &mut Motor,
            &mut PolicyState,
            &mut Eye,
            Option<&mut BodySenses>,
            Option<&mut Brain>,
        )>();
        let expected = self.agents.len();
        let mut saved: std::collections::BTreeMap<usize, AgentState> =
            self.agents.into_iter().map(|s| (s.index, s)).collect();
        let mut restored = 0;
        for (a, mut m, mut p, mut eye, senses, brain) in q.iter_mut(world) {
            let Some(s) = saved.remove(&a.index) else {
                continue;
            };
            m.yaw = s.yaw;
            m.action = s.action;
            p.step = s.policy_step;
            p.rng = s.policy_rng;
            if eye.frame.len() != s.eye_frame.len() {
                return Err(mismatch(format!("agent `{}`: another retina", a.name)));
            }
            eye.frame.clone_from(&s.eye_frame);
            if let (Some(mut mine), Some(senses)) = (senses, s.senses) {
                *mine = senses;
            }
            if let (Some(mut b), Some(bytes)) = (brain, s.brain) {
                let spec = &sc.agents[a.index];
                b.learner = learner_from_bytes(
                    spec,
                    brain_seed(sc.run.seed, a.index),
                    &bytes,
                    &path.display().to_string(),
                )
                .map_err(|e| bad(format!("agent `{}`: {e}", a.name)))?;
            }
            restored += 1;
        }
        if restored != expected {
            return Err(mismatch(format!(
                "holds {expected} agents, the scenario has {restored}"
            )));
        }
        world.resource_mut::<WorldRng>().0 = self.world_rng;
        world.resource_mut::<MetricsLog>().restore(self.metrics);
        let mut clock = world.resource_mut::<ThetaClock>();
        clock.cycle = self.cycle;
        clock.step = 0;
        clock.started = true;
        Ok(())
    }
}
