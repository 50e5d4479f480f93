//! Retinas: egocentric W×H frames of luminance, colour and depth.
//!
//! Frames are `f32` in [0, 1], stored channel by channel (planes in the order of the retina's
//! `channels`, `Rgb` taking three), each plane row by row from the top-left pixel: the layout of
//! the brain's input layer, one pool per channel.
//!
//! Two backends fill the same [`Eye::frame`], chosen per eye by the scenario's
//! [`EyeBackend`]: `Raycast` (here: one ray per pixel against the colliders' exact shapes at the
//! poses Rapier computed (see [`raycast`]), Lambert shading, no GPU, bit-for-bit deterministic)
//! and `Camera`, whose colour comes from an [`EyeRenderer`] that another plugin installs as
//! [`ExternalEyes`] (the viewer's GPU cameras). Every eye is ray cast first, so depth always
//! comes from the rays, and a `Camera` eye with no renderer installed (a headless run) simply
//! keeps its ray-cast frame.

use bevy::prelude::*;

use super::body::{Agent, Motor};
use super::brain::BrainFault;
use super::host::BodyPose;
use super::raycast::{self, SceneFrom};
use super::world::{Albedo, ArenaPart, ShapeOf};
use super::{SimConfig, ThetaSystems};
use crate::scenario::{Channel, EyeBackend, Light, RetinaSpec, Rgb};

/// One eye for an [`EyeRenderer`] to render.
#[derive(Clone, Copy, Debug)]
pub struct EyeView<'a> {
    /// The agent's entity (its own body is not drawn).
    pub me: Entity,
    /// Eye position.
    pub origin: Vec3,
    /// Heading (pitch is the spec's).
    pub rotation: Quat,
    /// Resolution, field of view, pitch, channels.
    pub spec: &'a RetinaSpec,
}

/// Renders eyes other than by ray casting (the viewer's GPU cameras).
pub trait EyeRenderer {
    /// Linear RGB per pixel (row-major from the top left) of each eye's view of `bodies`,
    /// under the scenario's lights.
    fn render(
        &mut self,
        bodies: &[BodyPose],
        eyes: &[EyeView<'_>],
    ) -> Result<Vec<Vec<Rgb>>, String>;
}

/// The renderer of `EyeBackend::Camera` eyes, when one is installed. Non-send: a renderer
/// may own a GPU device bound to its thread.
pub struct ExternalEyes(pub Box<dyn EyeRenderer>);

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
        app.add_systems(PostStartup, attach_eyes).add_systems(
            FixedUpdate,
            (render_eyes, render_camera_eyes)
                .chain()
                .in_set(ThetaSystems::Observe),
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

/// Writes linear RGB pixels into the colour channels of a frame (depth planes untouched).
pub fn write_colour(spec: &RetinaSpec, rgb: &[Rgb], frame: &mut [f32]) {
    let n = (spec.width * spec.height) as usize;
    let mut plane = 0;
    for ch in &spec.channels {
        match ch {
            Channel::Luminance => {
                for (i, c) in rgb.iter().enumerate().take(n) {
                    frame[plane * n + i] = ((c[0] + c[1] + c[2]) / 3.0).clamp(0.0, 1.0);
                }
            }
            Channel::Rgb => {
                for (i, c) in rgb.iter().enumerate().take(n) {
                    for k in 0..3 {
                        frame[(plane + k) * n + i] = c[k].clamp(0.0, 1.0);
                    }
                }
            }
            Channel::Depth => {}
        }
        plane += ch.width();
    }
}

/// What an [`EyeRenderer`] is told of each body.
type BodyItems = (
    Entity,
    &'static Transform,
    &'static ShapeOf,
    &'static Albedo,
    Option<(&'static Agent, &'static Motor)>,
);

fn render_camera_eyes(
    ext: Option<NonSendMut<ExternalEyes>>,
    mut fault: ResMut<BrainFault>,
    bodies: Query<BodyItems>,
    mut eyes: Query<(Entity, &Agent, &Transform, &Motor, &mut Eye)>,
) {
    let Some(mut ext) = ext else { return };
    let mut due: Vec<_> = eyes
        .iter_mut()
        .filter(|(.., eye)| eye.spec.backend == EyeBackend::Camera)
        .collect();
    if due.is_empty() {
        return;
    }
    due.sort_by_key(|(_, a, ..)| a.index);
    let mut scene: Vec<BodyPose> = bodies
        .iter()
        .map(|(entity, t, s, c, agent)| BodyPose {
            entity,
            transform: *t,
            shape: s.0,
            color: c.0,
            agent: agent.map(|(a, m)| (a.index, m.yaw, 0.0)),
        })
        .collect();
    scene.sort_by_key(|b| b.entity);
    let views: Vec<EyeView<'_>> = due
        .iter()
        .map(|(me, _, t, m, eye)| {
            let (origin, rotation) = eye_pose(t, m, eye);
            EyeView {
                me: *me,
                origin,
                rotation,
                spec: &eye.spec,
            }
        })
        .collect();
    match ext.0.render(&scene, &views) {
        Ok(images) => {
            drop(views);
            for ((.., mut eye), rgb) in due.into_iter().zip(images) {
                let mut frame = std::mem::take(&mut eye.frame);
                write_colour(&eye.spec, &rgb, &mut frame);
                eye.frame = frame;
            }
        }
        Err(e) => {
            fault.0.get_or_insert(format!("camera eyes: {e}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_goes_to_colour_planes_only() {
        let spec = RetinaSpec {
            width: 2,
            height: 1,
            channels: vec![Channel::Depth, Channel::Rgb, Channel::Luminance],
            ..Default::default()
        };
        let mut f = vec![9.0; spec.frame_len()];
        write_colour(&spec, &[[0.3, 0.6, 0.9], [1.0, 0.0, 2.0]], &mut f);
        assert_eq!(&f[0..2], &[9.0, 9.0], "depth untouched");
        assert_eq!(&f[2..8], &[0.3, 1.0, 0.6, 0.0, 0.9, 1.0]);
        assert!((f[8] - 0.6).abs() < 1e-6 && f[9] == 1.0);
    }

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
            backend: EyeBackend::Raycast,
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
