//! Agent bodies: upright capsules moved by Rapier's kinematic character controller.

use bevy::prelude::*;
use bevy_rapier3d::prelude::*;

use super::world::{Albedo, ShapeOf};
use super::{SimConfig, ThetaSystems};
use crate::scenario::{Action, AgentSpec, Shape};

/// An agent, by its index in the scenario.
#[derive(Component, Clone, Debug, PartialEq, Eq)]
pub struct Agent {
    /// Index into the scenario's agents (the stable order used for reports).
    pub index: usize,
    /// Its name.
    pub name: String,
}

/// Heading and the action being carried out.
#[derive(Component, Clone, Copy, Debug, PartialEq)]
pub struct Motor {
    /// Heading, radians (0 faces −z, positive turns left).
    pub yaw: f32,
    /// Action of the current theta cycle.
    pub action: Action,
    /// Walking speed, m/s.
    pub speed: f32,
    /// Turning rate, radians/s.
    pub turn_rate: f32,
}

impl Motor {
    /// Unit vector the agent faces.
    pub fn forward(&self) -> Vec3 {
        Vec3::new(-self.yaw.sin(), 0.0, -self.yaw.cos())
    }

    /// Unit vector to the agent's right.
    pub fn right(&self) -> Vec3 {
        Vec3::new(self.yaw.cos(), 0.0, -self.yaw.sin())
    }
}

/// Spawns the agents and moves them every physics step.
pub struct BodyPlugin;

impl Plugin for BodyPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(Startup, spawn_agents)
            .add_systems(FixedUpdate, move_agents.in_set(ThetaSystems::Act));
    }
}

/// The capsule of an agent's body.
pub fn body_shape(a: &AgentSpec) -> Shape {
    Shape::Capsule {
        radius: a.body.radius,
        height: a.body.height,
    }
}

fn spawn_agents(mut commands: Commands, cfg: Res<SimConfig>) {
    for (i, a) in cfg.scenario.agents.iter().enumerate() {
        let yaw = a.yaw.to_radians();
        let shape = body_shape(a);
        commands.spawn((
            Name::new(a.name.clone()),
            Agent {
                index: i,
                name: a.name.clone(),
            },
            Motor {
                yaw,
                action: Action::Stay,
                speed: a.body.speed,
                turn_rate: a.body.turn_rate.to_radians(),
            },
            RigidBody::KinematicPositionBased,
            super::world::collider(&shape),
            KinematicCharacterController {
                // Flat floors: no stepping or sliding logic needed; contacts push boxes.
                snap_to_ground: None,
                autostep: None,
                ..Default::default()
            },
            Albedo(a.body.color),
            ShapeOf(shape),
            Transform::from_xyz(a.pos[0], a.body.height / 2.0, a.pos[1])
                .with_rotation(Quat::from_rotation_y(yaw)),
        ));
    }
}

/// Applies each agent's action for one physics step.
pub fn move_agents(
    cfg: Res<SimConfig>,
    mut q: Query<(
        &mut Motor,
        &mut Transform,
        &mut KinematicCharacterController,
    )>,
) {
    let dt = cfg.dt();
    for (mut m, mut t, mut kcc) in &mut q {
        let (walk, turn) = match m.action {
            Action::Forward => (1.0, 0.0),
            Action::Back => (-1.0, 0.0),
            Action::TurnLeft => (0.0, 1.0),
            Action::TurnRight => (0.0, -1.0),
            Action::Stay => (0.0, 0.0),
        };
        if turn != 0.0 {
            m.yaw = wrap_angle(m.yaw + turn * m.turn_rate * dt);
            t.rotation = Quat::from_rotation_y(m.yaw);
        }
        kcc.translation = (walk != 0.0).then(|| m.forward() * (walk * m.speed * dt));
    }
}

/// Angle in (−π, π].
pub fn wrap_angle(a: f32) -> f32 {
    let tau = std::f32::consts::TAU;
    let r = a.rem_euclid(tau);
    if r > std::f32::consts::PI { r - tau } else { r }
}
