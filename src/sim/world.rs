//! The arena, hand-placed objects and spawners, as Rapier colliders with colours.

use bevy::prelude::*;
use bevy_rapier3d::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{SimConfig, ThetaClock, ThetaSystems};
use crate::scenario::{Material, Motion, Rgb, Scenario, Shape, Spawner};

/// Surface colour of a collider, as the retina sees it (linear RGB in [0, 1]).
#[derive(Component, Clone, Copy, Debug, PartialEq)]
pub struct Albedo(pub Rgb);

/// The shape an entity was built from (for the viewer's meshes and the ray-cast backend).
#[derive(Component, Clone, Copy, Debug, PartialEq)]
pub struct ShapeOf(pub Shape);

/// The floor or a wall of the arena.
#[derive(Component, Clone, Copy, Debug, Default)]
pub struct ArenaPart;

/// An object made by a spawner: which spawner and which of its objects.
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spawned {
    /// Index into the scenario's spawners.
    pub spawner: usize,
    /// Index of the object within it.
    pub index: usize,
}

/// Random numbers for placing spawned objects (seeded from the run's seed).
#[derive(Resource)]
pub struct WorldRng(pub ChaCha8Rng);

/// Builds the world at startup and moves respawning objects.
pub struct WorldPlugin;

impl Plugin for WorldPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(Startup, spawn_world).add_systems(
            FixedUpdate,
            respawn
                .in_set(ThetaSystems::Act)
                .before(super::body::move_agents),
        );
    }
}

/// The Rapier collider of a shape.
pub fn collider(s: &Shape) -> Collider {
    match *s {
        Shape::Box { size } => Collider::cuboid(size[0] / 2.0, size[1] / 2.0, size[2] / 2.0),
        Shape::Sphere { radius } => Collider::ball(radius),
        Shape::Capsule { radius, height } => {
            Collider::capsule_y((height / 2.0 - radius).max(0.0), radius)
        }
        Shape::Cylinder { radius, height } => Collider::cylinder(height / 2.0, radius),
    }
}

fn physics_bundle(
    shape: &Shape,
    color: Rgb,
    motion: Motion,
    m: &Material,
    transform: Transform,
) -> impl Bundle {
    (
        match motion {
            Motion::Static => RigidBody::Fixed,
            Motion::Dynamic => RigidBody::Dynamic,
        },
        collider(shape),
        ColliderMassProperties::Mass(m.mass),
        Restitution::coefficient(m.restitution),
        Friction::coefficient(m.friction),
        Velocity::zero(),
        Albedo(color),
        ShapeOf(*shape),
        transform,
    )
}

fn spawn_world(mut commands: Commands, cfg: Res<SimConfig>) {
    let w = &cfg.scenario.world;
    let a = &w.arena;
    let (hx, hz) = (a.size[0] / 2.0, a.size[1] / 2.0);
    const FLOOR: f32 = 0.1;
    const WALL: f32 = 0.2;
    let floor = Shape::Box {
        size: [a.size[0] + 2.0 * WALL, FLOOR, a.size[1] + 2.0 * WALL],
    };
    commands.spawn((
        Name::new("floor"),
        ArenaPart,
        RigidBody::Fixed,
        collider(&floor),
        Friction::coefficient(0.7),
        Albedo(a.floor_color),
        ShapeOf(floor),
        Transform::from_xyz(0.0, -FLOOR / 2.0, 0.0),
    ));
    if a.wall_height > 0.0 {
        let h = a.wall_height;
        let walls = [
            (
                "north wall",
                [a.size[0] + 2.0 * WALL, h, WALL],
                [0.0, -hz - WALL / 2.0],
            ),
            (
                "east wall",
                [WALL, h, a.size[1] + 2.0 * WALL],
                [hx + WALL / 2.0, 0.0],
            ),
            (
                "south wall",
                [a.size[0] + 2.0 * WALL, h, WALL],
                [0.0, hz + WALL / 2.0],
            ),
            (
                "west wall",
                [WALL, h, a.size[1] + 2.0 * WALL],
                [-hx - WALL / 2.0, 0.0],
            ),
        ];
        for ((name, size, [x, z]), color) in walls.into_iter().zip(&a.wall_colors) {
            let shape = Shape::Box { size };
            commands.spawn((
                Name::new(name),
                ArenaPart,
                RigidBody::Fixed,
                collider(&shape),
                Albedo(*color),
                ShapeOf(shape),
                Transform::from_xyz(x, h / 2.0, z),
            ));
        }
    }
    for (i, o) in w.objects.iter().enumerate() {
        let t = Transform::from_xyz(o.pos[0], o.pos[1], o.pos[2])
            .with_rotation(Quat::from_rotation_y(o.yaw.to_radians()));
        commands.spawn((
            Name::new(format!("object {i}")),
            physics_bundle(&o.shape, o.color, o.motion, &o.material, t),
        ));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x005E_ED0F_3A11);
    let mut placed: Vec<(Vec3, f32)> = w
        .objects
        .iter()
        .map(|o| (Vec3::from(o.pos), o.shape.bounding_radius()))
        .chain(cfg.scenario.agents.iter().map(|a| {
            (
                Vec3::new(a.pos[0], a.body.height / 2.0, a.pos[1]),
                a.body.height / 2.0,
            )
        }))
        .collect();
    for (si, s) in w.spawners.iter().enumerate() {
        for k in 0..s.count as usize {
            let pos = free_spot(&mut rng, s, &placed);
            placed.push((pos, s.shape.bounding_radius()));
            let color = s.color.unwrap_or_else(|| random_color(&mut rng));
            commands.spawn((
                Name::new(format!("spawner {si} object {k}")),
                Spawned {
                    spawner: si,
                    index: k,
                },
                physics_bundle(
                    &s.shape,
                    color,
                    s.motion,
                    &s.material,
                    Transform::from_translation(pos),
                ),
            ));
        }
    }
    commands.insert_resource(WorldRng(rng));
}

/// The arena's inside for the ray caster (none without walls: then the floor is a plain box).
pub fn room_of(cfg: &SimConfig) -> Option<super::raycast::Room> {
    let a = &cfg.scenario.world.arena;
    (a.wall_height > 0.0 && a.wall_colors.len() == 4).then(|| super::raycast::Room {
        half: [a.size[0] / 2.0, a.size[1] / 2.0],
        wall_height: a.wall_height,
        floor: a.floor_color,
        walls: [
            a.wall_colors[0],
            a.wall_colors[1],
            a.wall_colors[2],
            a.wall_colors[3],
        ],
    })
}

/// A spot in the spawner's region away from everything placed so far (after 200 tries, the
/// least crowded of them: dynamic objects sort themselves out).
fn free_spot(rng: &mut ChaCha8Rng, s: &Spawner, placed: &[(Vec3, f32)]) -> Vec3 {
    let r = s.shape.bounding_radius();
    let (lo, hi) = (Vec3::from(s.region.min), Vec3::from(s.region.max));
    let mut best = (f32::MIN, lo);
    for _ in 0..200 {
        let p = Vec3::new(
            pick(rng, lo.x, hi.x),
            pick(rng, lo.y, hi.y),
            pick(rng, lo.z, hi.z),
        );
        let clearance = placed
            .iter()
            .map(|(q, rq)| p.distance(*q) - r - rq)
            .fold(f32::MAX, f32::min);
        if clearance >= 0.0 {
            return p;
        }
        if clearance > best.0 {
            best = (clearance, p);
        }
    }
    best.1
}

fn pick(rng: &mut ChaCha8Rng, lo: f32, hi: f32) -> f32 {
    if hi > lo {
        rng.random_range(lo..=hi)
    } else {
        lo
    }
}

/// A saturated colour of random hue.
fn random_color(rng: &mut ChaCha8Rng) -> Rgb {
    let h: f32 = rng.random_range(0.0..6.0);
    let x = 1.0 - ((h % 2.0) - 1.0).abs();
    let (r, g, b) = match h as u32 {
        0 => (1.0, x, 0.0),
        1 => (x, 1.0, 0.0),
        2 => (0.0, 1.0, x),
        3 => (0.0, x, 1.0),
        4 => (x, 0.0, 1.0),
        _ => (1.0, 0.0, x),
    };
    [0.15 + 0.8 * r, 0.15 + 0.8 * g, 0.15 + 0.8 * b]
}

/// Whether `sp` moves its objects at the start of theta cycle `cycle`.
fn due(sp: &Spawner, cycle: u64) -> bool {
    cycle > 0
        && sp
            .respawn_every
            .is_some_and(|every| cycle.is_multiple_of(every as u64))
}

/// Whether some spawner of `sc` moves its objects at the start of theta cycle `cycle` (every
/// `respawn_every`-th cycle, never the first).
pub fn respawns_in(sc: &Scenario, cycle: u64) -> bool {
    sc.world.spawners.iter().any(|sp| due(sp, cycle))
}

/// Moves a respawning spawner's objects to new spots at rest, at the start of every
/// `respawn_every`-th theta cycle.
fn respawn(
    clock: Res<ThetaClock>,
    cfg: Res<SimConfig>,
    mut rng: ResMut<WorldRng>,
    mut q: Query<(&Spawned, &mut Transform, &mut Velocity)>,
) {
    if !clock.at_start() || !respawns_in(&cfg.scenario, clock.cycle) {
        return;
    }
    let spawners = &cfg.scenario.world.spawners;
    // Stable order: by spawner, then object index (query order is not guaranteed).
    let mut items: Vec<_> = q.iter_mut().collect();
    items.sort_by_key(|(s, _, _)| (s.spawner, s.index));
    let mut placed: Vec<(Vec3, f32)> = Vec::new();
    for (s, mut t, mut v) in items {
        let sp = &spawners[s.spawner];
        if !due(sp, clock.cycle) {
            continue;
        }
        let pos = free_spot(&mut rng.0, sp, &placed);
        placed.push((pos, sp.shape.bounding_radius()));
        t.translation = pos;
        t.rotation = Quat::IDENTITY;
        *v = Velocity::zero();
    }
}
