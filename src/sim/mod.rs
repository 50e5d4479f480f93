//! The embodied loop as Bevy plugins: a Rapier world, agent bodies, retinas, motor policies,
//! one brain per agent and per-cycle metrics, ordered by the theta-cycle schedule.
//!
//! One theta cycle is 200 ms of simulated time, i.e. `physics_steps` runs of `FixedUpdate`
//! (12 at 60 Hz by default). Within each run the sets of [`ThetaSystems`] execute in order; the
//! brain sets run only on the first (Sense, MinusPhase) or the last (Observe, PlusPhase, Learn,
//! Record) physics step of the cycle:
//!
//! ```text
//! step 0:    Sense → MinusPhase → Act → Physics
//! step 1..:                       Act → Physics
//! step N−1:                       Act → Physics → Observe → PlusPhase → Learn → Record
//! ```
//!
//! Sense hands the agent frame t and picks its action; MinusPhase shows the brain frame t and
//! the action (efference copy) and lets the pulvinar settle into its prediction of frame t+1;
//! Act drives the body through the physics steps; Observe renders frame t+1, which only then
//! reaches the pulvinar (PlusPhase). The prediction is read out before the outcome exists.

pub mod bench;
pub mod body;
pub mod brain;
pub mod checkpoint;
pub mod host;
pub mod metrics;
pub mod motor;
pub mod raycast;
pub mod retina;
pub mod runner;
pub mod senses;
pub mod world;

use bevy::prelude::*;
use bevy_rapier3d::prelude::*;

use crate::scenario::Scenario;

/// The stages of one theta cycle, chained in this order inside `FixedUpdate`.
#[derive(SystemSet, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ThetaSystems {
    /// First step of a cycle: each agent takes frame t and chooses its action.
    Sense,
    /// First step: the brain's minus phase (prediction of frame t+1).
    MinusPhase,
    /// Every step: actions move the bodies.
    Act,
    /// Every step: the Rapier step.
    Physics,
    /// Last step: frame t+1 is rendered.
    Observe,
    /// Last step: the brain's plus phase (outcome frame t+1 drives the pulvinar).
    PlusPhase,
    /// Last step: synaptic learning.
    Learn,
    /// Last step: metrics are computed and written.
    Record,
}

/// Where the simulation is within its theta cycles.
#[derive(Resource, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ThetaClock {
    /// Theta cycles completed.
    pub cycle: u64,
    /// Physics step within the current cycle, 0-based.
    pub step: u32,
    /// Physics steps per cycle.
    pub steps_per_cycle: u32,
    /// False during the one warm-up physics step that renders the first frame.
    pub started: bool,
}

impl ThetaClock {
    /// The current physics step is the first of its cycle.
    pub fn at_start(&self) -> bool {
        self.started && self.step == 0
    }

    /// The current physics step is the last of its cycle.
    pub fn at_end(&self) -> bool {
        self.started && self.step + 1 == self.steps_per_cycle
    }
}

/// Run condition: first physics step of a theta cycle.
pub fn cycle_start(clock: Res<ThetaClock>) -> bool {
    clock.at_start()
}

/// Run condition: last physics step of a theta cycle.
pub fn cycle_end(clock: Res<ThetaClock>) -> bool {
    clock.at_end()
}

/// Run condition: the theta cycles have begun (after the warm-up step).
pub fn started(clock: Res<ThetaClock>) -> bool {
    clock.started
}

/// Run condition: a frame is due (the end of a cycle, or the warm-up step's first frame).
pub fn frame_due(clock: Res<ThetaClock>) -> bool {
    !clock.started || clock.at_end()
}

fn advance_clock(mut clock: ResMut<ThetaClock>) {
    if !clock.started {
        clock.started = true;
        return;
    }
    clock.step += 1;
    if clock.step >= clock.steps_per_cycle {
        clock.step = 0;
        clock.cycle += 1;
    }
}

/// The scenario being simulated and the run's overrides.
#[derive(Resource, Clone, Debug)]
pub struct SimConfig {
    /// The scenario.
    pub scenario: Scenario,
    /// Seed of everything random (overrides the scenario's).
    pub seed: u64,
    /// Run the brains (false: physics and senses only, e.g. `bench sim`).
    pub brains: bool,
}

impl SimConfig {
    /// Simulated seconds per physics step.
    pub fn dt(&self) -> f32 {
        0.2 / self.scenario.run.physics_steps as f32
    }
}

/// Everything of the simulation except rendering and windows.
pub struct SimPlugin {
    /// What to simulate.
    pub config: SimConfig,
}

impl Plugin for SimPlugin {
    fn build(&self, app: &mut App) {
        let cfg = self.config.clone();
        let dt = cfg.dt();
        app.insert_resource(cfg.clone())
            .insert_resource(ThetaClock {
                steps_per_cycle: cfg.scenario.run.physics_steps,
                ..Default::default()
            })
            .insert_resource(Time::<Fixed>::from_seconds(dt as f64))
            .insert_resource(TimestepMode::Fixed { dt, substeps: 1 })
            .add_plugins(
                RapierPhysicsPlugin::<NoUserData>::default()
                    .in_fixed_schedule()
                    .with_custom_initialization(
                        RapierContextInitialization::InitializeDefaultRapierContext {
                            integration_parameters: Default::default(),
                            rapier_configuration: {
                                let mut c = RapierConfiguration::new(1.0);
                                c.gravity = Vec3::new(0.0, -cfg.scenario.world.gravity, 0.0);
                                c
                            },
                        },
                    ),
            )
            .configure_sets(
                FixedUpdate,
                (
                    ThetaSystems::Sense.run_if(cycle_start),
                    ThetaSystems::MinusPhase.run_if(cycle_start),
                    ThetaSystems::Act.run_if(started),
                    ThetaSystems::Physics,
                    ThetaSystems::Observe.run_if(frame_due),
                    ThetaSystems::PlusPhase.run_if(cycle_end),
                    ThetaSystems::Learn.run_if(cycle_end),
                    ThetaSystems::Record.run_if(cycle_end),
                )
                    .chain(),
            )
            .configure_sets(
                FixedUpdate,
                (
                    PhysicsSet::SyncBackend,
                    PhysicsSet::StepSimulation,
                    PhysicsSet::Writeback,
                )
                    .in_set(ThetaSystems::Physics),
            )
            .add_systems(FixedUpdate, advance_clock.after(ThetaSystems::Record))
            .add_plugins((
                world::WorldPlugin,
                body::BodyPlugin,
                motor::MotorPlugin,
                retina::RetinaPlugin,
                brain::BrainPlugin,
                metrics::MetricsPlugin,
                senses::SensesPlugin,
            ));
    }
}
