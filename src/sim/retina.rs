//! Retinas: egocentric W×H frames of luminance, colour and depth.
//!
//! Frames are `f32` in [0, 1], stored channel by channel (planes in the order of the retina's
//! `channels`, `Rgb` taking three), each plane row by row from the top-left pixel: the layout of
//! the brain's input layer, one pool per channel.
//!
//! Two backends fill the same [`Eye::frame`]: [`RetinaBackend::RayCast`] (here: one ray per
//! pixel against the colliders' exact shapes at the poses Rapier computed (see [`raycast`]),
//! Lambert shading, no GPU, bit-for-bit deterministic) and
//! [`RetinaBackend::External`], where another plugin (the viewer's GPU cameras) writes frames.

use bevy::prelude::*;

use super::body::{Agent, Motor};
use super::raycast::{self, SceneFrom};
use super::world::{Albedo, ArenaPart, ShapeOf};
use super::{SimConfig, ThetaSystems};
use crate::scenario::{Channel, Light, RetinaSpec, Rgb};

/// Which code renders the frames.
#[derive(Resource, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RetinaBackend {
    /// Ray casting against the physics colliders (headless default).
    #[default]
    RayCast,
    /// Frames are written by another plugin.
    External,
}

/// An agent's eye: its spec, the ray directions in eye space and the latest frame.
#[derive(Component, Clone, Debug)]
pub struct Eye {
    /// Resolution, field of view, channels.
    pub spec: RetinaSpec,
    /// Eye height above the body's centre.
    pub offset: f32,
    /// Unit ray direction per pixel in eye space (−z forward, +y up), row-major from the top.
    pub rays: Vec<Vec3>,
    /// The most recent frame.
    pub frame: Vec<f32>,
    /// Optical axis in eye space (pitch applied).
    pub axis: Vec3,
    /// Largest angle between the axis and any pixel's ray, radians.
    pub half_angle: f32,
}

impl Eye {
    /// An eye with precomputed ray directions.
    pub fn new(spec: &RetinaSpec, offset: f32) -> Self {
        let (w, h) = (spec.width as usize, spec.height as usize);
        let tan_x = (spec.fov.to_radians() / 2.0).tan();
        let tan_y = tan_x * h as f32 / w as f32;
        let pitch = Quat::from_rotation_x(spec.pitch.to_radians());
        let mut rays = Vec::with_capacity(w * h);
        for y in 0..h {
            for x in 0..w {
                let u = (2.0 * (x as f32 + 0.5) / w as f32 - 1.0) * tan_x;
                let v = (1.0 - 2.0 * (y as f32 + 0.5) / h as f32) * tan_y;
                rays.push(pitch * Vec3::new(u, v, -1.0).normalize());
            }
        }
        let axis = pitch * Vec3::NEG_Z;
        let half_angle = rays
            .iter()
            .map(|r| r.dot(axis).clamp(-1.0, 1.0).acos())
            .fold(0.0, f32::max);
        Self {
            spec: spec.clone(),
            offset,
            rays,
            frame: vec![0.0; spec.frame_len()],
            axis,
            half_angle,
        }
    }
}

/// What a ray hit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hit {
    /// Distance along the (unit) ray.
    pub toi: f32,
    /// Surface normal at the hit, facing the ray.
    pub normal: Vec3,
    /// Surface colour.
    pub albedo: Rgb,
}

/// Anything rays can be cast into.
pub trait RayScene {
    /// First hit along `dir` (unit) from `origin` within `max` metres.
    fn cast(&self, origin: Vec3, dir: Vec3, max: f32) -> Option<Hit>;
}

/// Light sources, ambient level and sky colour, ready for shading.
#[derive(Clone, Debug, PartialEq)]
pub struct Lighting {
    sources: Vec<Source>,
    /// Ambient level.
    pub ambient: f32,
    /// Colour where nothing is hit.
    pub sky: Rgb,
}

/// A light with its direction normalised once.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Source {
    Sun {
        to_light: Vec3,
        intensity: f32,
    },
    Lamp {
        pos: Vec3,
        intensity: f32,
        inv_range2: f32,
    },
}

impl Lighting {
    /// Lighting from a scenario's lights.
    pub fn new(lights: &[Light], ambient: f32, sky: Rgb) -> Self {
        let sources = lights
            .iter()
            .map(|l| match *l {
                Light::Directional {
                    direction,
                    intensity,
                } => Source::Sun {
                    to_light: -Vec3::from(direction).normalize_or_zero(),
                    intensity,
                },
                Light::Point {
                    position,
                    intensity,
                    range,
                } => Source::Lamp {
                    pos: Vec3::from(position),
                    intensity,
                    inv_range2: 1.0 / (range * range),
                },
            })
            .collect();
        Self {
            sources,
            ambient,
            sky,
        }
    }

    /// Lambert shading of a hit at `p`.
    pub fn shade(&self, p: Vec3, h: &Hit) -> Rgb {
        let mut k = self.ambient;
        for s in &self.sources {
            k += match *s {
                Source::Sun {
                    to_light,
                    intensity,
                } => intensity * h.normal.dot(to_light).max(0.0),
                Source::Lamp {
                    pos,
                    intensity,
                    inv_range2,
                } => {
                    let d = pos - p;
                    let dist2 = d.length_squared().max(1e-12);
                    let att = 1.0 / (1.0 + dist2 * inv_range2);
                    intensity * att * h.normal.dot(d / dist2.sqrt()).max(0.0)
                }
            };
        }
        h.albedo.map(|c| (c * k).clamp(0.0, 1.0))
    }
}

/// Renders one frame into `out` (resized to the frame length).
pub fn render(
    eye: &Eye,
    origin: Vec3,
    rotation: Quat,
    scene: &impl RayScene,
    light: &Lighting,
    out: &mut Vec<f32>,
) {
    let spec = &eye.spec;
    let n = eye.rays.len();
    out.resize(spec.frame_len(), 0.0);
    for (i, r) in eye.rays.iter().enumerate() {
        let dir = rotation * *r;
        let (rgb, depth) = match scene.cast(origin, dir, spec.max_range) {
            Some(h) => (
                light.shade(origin + dir * h.toi, &h),
                h.toi / spec.max_range,
            ),
            None => (light.sky, 1.0),
        };
        let mut plane = 0;
        for ch in &spec.channels {
            match ch {
                Channel::Luminance => {
                    out[plane * n + i] = (rgb[0] + rgb[1] + rgb[2]) / 3.0;
                    plane += 1;
                }
                Channel::Rgb => {
                    for c in rgb {
                        out[plane * n + i] = c;
                        plane += 1;
                    }
                }
                Channel::Depth => {
                    out[plane * n + i] = depth.clamp(0.0, 1.0);
                    plane += 1;
                }
            }
        }
    }
}

/// Gives agents eyes and renders them after each theta cycle's physics.
pub struct RetinaPlugin;

impl Plugin for RetinaPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<RetinaBackend>()
            .add_systems(PostStartup, attach_eyes)
            .add_systems(
                FixedUpdate,
                render_eyes
                    .in_set(ThetaSystems::Observe)
                    .run_if(resource_equals(RetinaBackend::RayCast)),
            );
    }
}

/// The scenario's lighting.
#[derive(Resource, Clone, Debug)]
pub struct SceneLighting(pub Lighting);

fn attach_eyes(mut commands: Commands, cfg: Res<SimConfig>, q: Query<(Entity, &Agent)>) {
    let w = &cfg.scenario.world;
    commands.insert_resource(SceneLighting(Lighting::new(&w.lights, w.ambient, w.sky)));
    for (e, a) in &q {
        let spec = &cfg.scenario.agents[a.index];
        let offset = spec.body.eye_height - spec.body.height / 2.0;
        commands
            .entity(e)
            .insert(Eye::new(&spec.sensors.retina, offset));
    }
}

/// Eye position and orientation of an agent.
pub fn eye_pose(t: &Transform, m: &Motor, eye: &Eye) -> (Vec3, Quat) {
    (
        t.translation + Vec3::Y * eye.offset,
        Quat::from_rotation_y(m.yaw),
    )
}

fn render_eyes(
    cfg: Res<SimConfig>,
    light: Res<SceneLighting>,
    colliders: Query<(Entity, &Transform, &ShapeOf, &Albedo, Has<ArenaPart>)>,
    mut eyes: Query<(Entity, &Transform, &Motor, &mut Eye)>,
) {
    let scene = raycast::snapshot(&colliders, super::world::room_of(&cfg));
    eyes.par_iter_mut().for_each(|(me, t, m, mut eye)| {
        let (origin, rot) = eye_pose(t, m, &eye);
        let seen = scene.view(
            origin,
            rot * eye.axis,
            eye.half_angle,
            eye.spec.max_range,
            Some(me),
        );
        let mut frame = std::mem::take(&mut eye.frame);
        render(
            &eye,
            origin,
            rot,
            &SceneFrom { scene: &seen, me },
            &light.0,
            &mut frame,
        );
        eye.frame = frame;
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A wall at z = −5 facing +z, coloured by which half of it (x < 0 red, else green).
    struct Wall;

    impl RayScene for Wall {
        fn cast(&self, o: Vec3, d: Vec3, max: f32) -> Option<Hit> {
            if d.z >= 0.0 {
                return None;
            }
            let t = (-5.0 - o.z) / d.z;
            let p = o + d * t;
            (t <= max).then_some(Hit {
                toi: t,
                normal: Vec3::Z,
                albedo: if p.x < 0.0 {
                    [1.0, 0.0, 0.0]
                } else {
                    [0.0, 1.0, 0.0]
                },
            })
        }
    }

    fn spec(channels: Vec<Channel>) -> RetinaSpec {
        RetinaSpec {
            width: 8,
            height: 4,
            fov: 90.0,
            channels,
            max_range: 10.0,
            pitch: 0.0,
        }
    }

    fn light() -> Lighting {
        Lighting::new(&[], 1.0, [0.0, 0.0, 1.0])
    }

    #[test]
    fn layout_is_channel_planes_row_major() {
        let eye = Eye::new(&spec(vec![Channel::Rgb, Channel::Depth]), 0.0);
        let mut f = Vec::new();
        render(&eye, Vec3::ZERO, Quat::IDENTITY, &Wall, &light(), &mut f);
        assert_eq!(f.len(), 8 * 4 * 4);
        let n = 32;
        // Left half red, right half green, in every row.
        assert_eq!((f[0], f[n], f[2 * n]), (1.0, 0.0, 0.0));
        assert_eq!((f[7], f[n + 7], f[2 * n + 7]), (0.0, 1.0, 0.0));
        // Depth: the wall is 5 m straight ahead, further off-axis, normalised by 10 m.
        let centre = f[3 * n + 8 + 3];
        assert!(centre > 0.5 && centre < 0.6, "{centre}");
        assert!(f[3 * n] > centre);
    }

    #[test]
    fn turning_left_brings_the_left_side_into_view() {
        let eye = Eye::new(&spec(vec![Channel::Rgb]), 0.0);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        render(&eye, Vec3::ZERO, Quat::IDENTITY, &Wall, &light(), &mut a);
        render(
            &eye,
            Vec3::ZERO,
            Quat::from_rotation_y(0.3),
            &Wall,
            &light(),
            &mut b,
        );
        // The red plane comes first: count red pixels.
        let red = |f: &[f32]| f[..32].iter().filter(|v| **v == 1.0).count();
        assert_eq!(red(&a), 16);
        assert!(red(&b) > red(&a));
    }

    #[test]
    fn lambert_shading_dims_oblique_light() {
        let h = Hit {
            toi: 1.0,
            normal: Vec3::Y,
            albedo: [1.0, 0.5, 0.0],
        };
        let l = |dir: [f32; 3]| {
            let sun = Light::Directional {
                direction: dir,
                intensity: 1.0,
            };
            Lighting::new(&[sun], 0.0, [0.0; 3])
        };
        assert_eq!(l([0.0, -1.0, 0.0]).shade(Vec3::ZERO, &h), [1.0, 0.5, 0.0]);
        let oblique = l([1.0, -1.0, 0.0]).shade(Vec3::ZERO, &h);
        assert!((oblique[0] - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-5);
        assert_eq!(l([0.0, 1.0, 0.0]).shade(Vec3::ZERO, &h), [0.0; 3]);
    }
}
