//! The `Camera` retina backend: agents' eyes rendered by Bevy's PBR renderer.
//!
//! The eyes live in a windowless App of their own with one camera per eye rendering into an
//! image of the retina's size, read back to the CPU. The simulation asks for frames in the
//! middle of a physics step (after the bodies moved, before the plus phase), so rendering has
//! to be synchronous: [`GpuEyes::render`] mirrors the bodies, places the cameras, attaches
//! readbacks and updates that App until every image has arrived (two updates with a device
//! poll after each). Readbacks are attached only for that request, so no image from an older
//! pose can arrive in its place.
//!
//! Shading is made to match the ray caster's up to the renderer's own light model: linear
//! colours, no tonemapping, the light's intensity scaled so that a surface facing it gets
//! albedo × intensity, the ambient level the same way.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bevy::asset::RenderAssetUsages;
use bevy::camera::{Exposure, RenderTarget};
use bevy::core_pipeline::tonemapping::{DebandDither, Tonemapping};
use bevy::prelude::*;
use bevy::render::RenderPlugin;
use bevy::render::gpu_readback::{Readback, ReadbackComplete};
use bevy::render::pipelined_rendering::PipelinedRenderingPlugin;
use bevy::render::render_resource::{PollType, TextureFormat, TextureUsages};
use bevy::render::renderer::RenderDevice;
use bevy::window::ExitCondition;

use super::scene::mesh_of;
use crate::scenario::{Light, Rgb};
use crate::sim::host::BodyPose;
use crate::sim::retina::{EyeRenderer, EyeView};

/// Updates to wait for the readbacks before giving up.
const MAX_UPDATES: usize = 8;

struct Cam {
    entity: Entity,
    image: Handle<Image>,
    size: UVec2,
}

/// Agent eyes rendered on the GPU (or lavapipe).
pub struct GpuEyes {
    app: App,
    cams: Vec<Cam>,
    drawn: HashMap<Entity, Entity>,
    received: Arc<Mutex<Vec<Option<Vec<u8>>>>>,
}

fn srgb_to_linear(b: u8) -> f32 {
    let s = b as f32 / 255.0;
    if s <= 0.04045 {
        s / 12.92
    } else {
        ((s + 0.055) / 1.055).powf(2.4)
    }
}

/// Camera exposure under which [`light_world`]'s lights shade like the ray caster.
pub const EXPOSURE: Exposure = Exposure { ev100: 0.0 };

/// The scenario's sky, ambient level and lights in a Bevy world, scaled so that under
/// [`EXPOSURE`] with no tonemapping a Lambert surface of albedo a facing a light of intensity i
/// renders as a·(ambient + i), as the ray-cast retina shades it.
pub fn light_world(w: &mut World, world: &crate::scenario::World) {
    let [r, g, b] = world.sky;
    w.insert_resource(ClearColor(Color::linear_rgb(r, g, b)));
    // EXPOSURE multiplies light by 1/1.2; Lambert's diffuse divides by π. The remaining factors
    // (Bevy's diffuse BRDF and ambient term against a plain Lambert surface) were fitted on
    // look_around under lavapipe: directional 0.965, ambient 2.2.
    let unit = 1.2 * std::f32::consts::PI * 0.965;
    w.insert_resource(GlobalAmbientLight {
        color: Color::WHITE,
        brightness: 1.2 * 2.2 * world.ambient,
        ..default()
    });
    for l in &world.lights {
        match *l {
            Light::Directional {
                direction,
                intensity,
            } => {
                let d = Vec3::from(direction).normalize_or(Vec3::NEG_Y);
                let up = if d.y.abs() > 0.99 { Vec3::Z } else { Vec3::Y };
                w.spawn((
                    DirectionalLight {
                        illuminance: unit * intensity,
                        shadow_maps_enabled: false,
                        ..default()
                    },
                    Transform::default().looking_to(d, up),
                ));
            }
            Light::Point {
                position,
                intensity,
                range,
            } => {
                // Luminous power whose illuminance at `range` is half the intensity.
                let power = unit * intensity * 0.5 * 4.0 * std::f32::consts::PI * range * range;
                w.spawn((
                    PointLight {
                        intensity: power,
                        range: range * 8.0,
                        shadow_maps_enabled: false,
                        ..default()
                    },
                    Transform::from_translation(Vec3::from(position)),
                ));
            }
        }
    }
}

impl GpuEyes {
    /// A renderer for the scenario's world (lights, ambient level, sky).
    pub fn new(world: &crate::scenario::World) -> Self {
        let mut app = App::new();
        app.add_plugins(
            DefaultPlugins
                .set(WindowPlugin {
                    primary_window: None,
                    exit_condition: ExitCondition::DontExit,
                    ..default()
                })
                .set(RenderPlugin {
                    synchronous_pipeline_compilation: true,
                    ..default()
                })
                .disable::<bevy::winit::WinitPlugin>()
                .disable::<PipelinedRenderingPlugin>()
                .disable::<bevy::log::LogPlugin>(),
        );
        app.finish();
        app.cleanup();
        light_world(app.world_mut(), world);
        Self {
            app,
            cams: Vec::new(),
            drawn: HashMap::new(),
            received: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// The camera of eye `i` at `size`, and whether it was just made.
    fn camera_for(&mut self, i: usize, size: UVec2) -> (Entity, bool) {
        if let Some(c) = self.cams.get(i)
            && c.size == size
        {
            return (c.entity, false);
        }
        let w = self.app.world_mut();
        let mut image =
            Image::new_target_texture(size.x, size.y, TextureFormat::Rgba8UnormSrgb, None);
        image.asset_usage = RenderAssetUsages::RENDER_WORLD;
        image.texture_descriptor.usage |= TextureUsages::COPY_SRC;
        let handle = w.resource_mut::<Assets<Image>>().add(image);
        let entity = w
            .spawn((
                Camera3d::default(),
                RenderTarget::Image(handle.clone().into()),
                Tonemapping::None,
                DebandDither::Disabled,
                Msaa::Off,
                EXPOSURE,
                Transform::default(),
            ))
            .id();
        let cam = Cam {
            entity,
            image: handle,
            size,
        };
        if let Some(old) = self.cams.get_mut(i) {
            w.despawn(old.entity);
            w.resource_mut::<Assets<Image>>().remove(&old.image);
            *old = cam;
        } else {
            self.cams.push(cam);
        }
        (entity, true)
    }

    fn update(&mut self) -> Result<(), String> {
        self.app.update();
        self.app
            .world()
            .resource::<RenderDevice>()
            .poll(PollType::wait_indefinitely())
            .map(|_| ())
            .map_err(|e| format!("GPU poll: {e}"))
    }

    fn mirror(&mut self, bodies: &[BodyPose]) {
        let w = self.app.world_mut();
        let mut seen = std::collections::HashSet::with_capacity(bodies.len());
        for b in bodies {
            seen.insert(b.entity);
            if let Some(&e) = self.drawn.get(&b.entity) {
                if let Some(mut t) = w.get_mut::<Transform>(e) {
                    *t = b.transform;
                }
                continue;
            }
            let mesh = w.resource_mut::<Assets<Mesh>>().add(mesh_of(&b.shape));
            let [r, g, bl] = b.color;
            let mat = w
                .resource_mut::<Assets<StandardMaterial>>()
                .add(StandardMaterial {
                    base_color: Color::linear_rgb(r, g, bl),
                    perceptual_roughness: 1.0,
                    reflectance: 0.0,
                    ..default()
                });
            let e = w
                .spawn((Mesh3d(mesh), MeshMaterial3d(mat), b.transform))
                .id();
            self.drawn.insert(b.entity, e);
        }
        self.drawn.retain(|sim, view| {
            let keep = seen.contains(sim);
            if !keep {
                w.despawn(*view);
            }
            keep
        });
    }
}

impl EyeRenderer for GpuEyes {
    fn render(
        &mut self,
        bodies: &[BodyPose],
        eyes: &[EyeView<'_>],
    ) -> Result<Vec<Vec<Rgb>>, String> {
        self.mirror(bodies);
        let mut fresh = false;
        for (i, e) in eyes.iter().enumerate() {
            let s = e.spec;
            let (cam, new) = self.camera_for(i, UVec2::new(s.width, s.height));
            fresh |= new;
            // The same pixel rays as the ray caster: horizontal field of view, pixel centres.
            let tan_x = (s.fov.to_radians() / 2.0).tan();
            let tan_y = tan_x * s.height as f32 / s.width as f32;
            let proj = Projection::Perspective(PerspectiveProjection {
                fov: 2.0 * tan_y.atan(),
                aspect_ratio: s.width as f32 / s.height as f32,
                near: 0.02,
                far: s.max_range * 2.0,
                ..default()
            });
            let t = Transform::from_translation(e.origin)
                .with_rotation(e.rotation * Quat::from_rotation_x(s.pitch.to_radians()));
            let mut ent = self.app.world_mut().entity_mut(cam);
            ent.insert((proj, t));
        }
        // A new target image reaches the GPU a frame after its camera: until then the
        // readback would copy a blank texture.
        if fresh {
            for _ in 0..2 {
                self.update()?;
            }
        }
        *self.received.lock().unwrap_or_else(|p| p.into_inner()) = vec![None; eyes.len()];
        let mut readers = Vec::with_capacity(eyes.len());
        for i in 0..eyes.len() {
            let slot = self.received.clone();
            let image = self.cams[i].image.clone();
            let id = self
                .app
                .world_mut()
                .spawn(Readback::texture(image))
                .observe(move |ev: On<ReadbackComplete>| {
                    let mut r = slot.lock().unwrap_or_else(|p| p.into_inner());
                    if r[i].is_none() {
                        r[i] = Some(ev.data.clone());
                    }
                })
                .id();
            readers.push(id);
        }
        let mut done = false;
        for _ in 0..MAX_UPDATES {
            self.update()?;
            if self
                .received
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .all(Option::is_some)
            {
                done = true;
                break;
            }
        }
        for id in readers {
            self.app.world_mut().despawn(id);
        }
        if !done {
            return Err(format!(
                "no frame came back from the GPU in {MAX_UPDATES} updates"
            ));
        }
        let got = std::mem::take(&mut *self.received.lock().unwrap_or_else(|p| p.into_inner()));
        Ok(eyes
            .iter()
            .zip(got)
            .map(|(e, data)| {
                let data = data.unwrap_or_default();
                let (w, h) = (e.spec.width as usize, e.spec.height as usize);
                // Rows are padded to 256 bytes.
                let stride = (w * 4).div_ceil(256) * 256;
                let mut out = Vec::with_capacity(w * h);
                for y in 0..h {
                    for x in 0..w {
                        let i = y * stride + x * 4;
                        let px = |k: usize| data.get(i + k).copied().map_or(0.0, srgb_to_linear);
                        out.push([px(0), px(1), px(2)]);
                    }
                }
                out
            })
            .collect())
    }
}
