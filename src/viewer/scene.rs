//! The 3D world: the simulation's bodies mirrored as PBR meshes, the scenario's lights, an
//! orbit camera and agent selection.
//!
//! The world camera renders into an image that the panel shows in the window's free area
//! ([`WorldView`]); on a software renderer (lavapipe) at reduced resolution, since shading every
//! window pixel there costs more than a frame's budget ([`SOFTWARE_SCALE`]). Mouse input reaches the camera through
//! that image's egui response ([`ViewInput`]).

use std::collections::HashMap;

use bevy::asset::RenderAssetUsages;
use bevy::camera::RenderTarget;
use bevy::core_pipeline::tonemapping::{DebandDither, Tonemapping};
use bevy::prelude::*;
use bevy::render::render_resource::{TextureFormat, TextureUsages};
use bevy::render::renderer::RenderAdapterInfo;
use bevy::window::PrimaryWindow;
use bevy_egui::{EguiContexts, EguiGlobalSettings, EguiTextureHandle, PrimaryEguiContext, egui};

use super::ViewState;
use crate::scenario::Shape;
use crate::sim::host::SimHost;

/// Resolution of the world image on software renderers, relative to the window's: lavapipe
/// shades ~1 Mpx of PBR in ~150 ms on two cores, so at full size the window would redraw a
/// few times a second; at 0.4 it keeps above 10 (see the README's viewer figures).
pub const SOFTWARE_SCALE: f32 = 0.4;

/// Mirrors the world and runs the camera.
pub struct ScenePlugin;

impl Plugin for ScenePlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<Mirror>()
            .init_resource::<ViewInput>()
            .add_systems(Startup, setup)
            .add_systems(
                Update,
                (fit_world_view, mirror, select_by_click, orbit_camera).chain(),
            );
    }
}

/// Orbit camera state: it looks at `focus` from `dist` away.
#[derive(Component, Debug)]
pub struct Orbit {
    /// Angle around the vertical, radians.
    pub yaw: f32,
    /// Angle above the horizon, radians.
    pub pitch: f32,
    /// Distance from the focus, metres.
    pub dist: f32,
    /// Point looked at.
    pub focus: Vec3,
}

/// The image the world camera renders into, and how it is shown.
#[derive(Resource, Debug)]
pub struct WorldView {
    /// The render target.
    pub image: Handle<Image>,
    /// Its size in pixels.
    pub size: UVec2,
    /// Its egui texture.
    pub texture: Option<egui::TextureId>,
    /// Target pixels per physical window pixel (0.5 on software renderers).
    pub scale: f32,
}

/// Mouse input on the world image, gathered by the panel for this frame.
#[derive(Resource, Debug, Default)]
pub struct ViewInput {
    /// Left-drag, logical pixels.
    pub orbit: Vec2,
    /// Right-drag, logical pixels.
    pub pan: Vec2,
    /// Wheel, lines (positive: zoom in).
    pub zoom: f32,
    /// A click, as a fraction of the image (0..1 from the top left).
    pub click: Option<Vec2>,
    /// Size of the free area the image fills, logical pixels.
    pub area: Vec2,
}

/// A drawn copy of a simulated body.
#[derive(Component, Debug)]
struct Mirrored;

/// The marker floating above the selected agent.
#[derive(Component, Debug)]
struct SelectionMarker;

/// Simulation entity → its drawn copy.
#[derive(Resource, Default)]
struct Mirror {
    drawn: HashMap<Entity, Entity>,
}

fn target_image(size: UVec2) -> Image {
    let mut image = Image::new_target_texture(
        size.x.max(1),
        size.y.max(1),
        TextureFormat::Rgba8UnormSrgb,
        None,
    );
    image.asset_usage = RenderAssetUsages::RENDER_WORLD;
    image.texture_descriptor.usage |= TextureUsages::COPY_SRC;
    image
}

fn setup(
    mut commands: Commands,
    host: NonSend<SimHost>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
    mut images: ResMut<Assets<Image>>,
    mut egui_settings: ResMut<EguiGlobalSettings>,
    adapter: Option<Res<RenderAdapterInfo>>,
) {
    // The window's own camera draws only egui; the world camera draws into an image.
    egui_settings.auto_create_primary_context = false;
    // No multisampling, tonemapping or dithering: each is a full-window pass, which software
    // renderers pay for in every frame.
    commands.spawn((
        Camera2d,
        PrimaryEguiContext,
        Msaa::Off,
        Tonemapping::None,
        DebandDither::Disabled,
    ));
    // wgpu's DeviceType is not re-exported by Bevy; its Debug name is stable.
    let software = adapter.is_some_and(|a| format!("{:?}", a.device_type) == "Cpu");
    let size = UVec2::new(16, 16);
    let image = images.add(target_image(size));
    commands.insert_resource(WorldView {
        image: image.clone(),
        size,
        texture: None,
        scale: if software { SOFTWARE_SCALE } else { 1.0 },
    });
    let w = &host.scenario().world;
    let [sx, sz] = w.arena.size;
    // The lights the agents' eyes see, so the room looks as the agents see it.
    let world = w.clone();
    commands.queue(move |w: &mut World| super::eyes::light_world(w, &world));
    let span = sx.max(sz);
    commands.spawn((
        Camera3d::default(),
        RenderTarget::Image(image.into()),
        Tonemapping::AcesFitted,
        super::eyes::EXPOSURE,
        DebandDither::Disabled,
        Msaa::Off,
        Orbit {
            yaw: 0.6,
            pitch: 0.75,
            dist: span * 1.35,
            focus: Vec3::ZERO,
        },
        Transform::default(),
    ));
    commands.spawn((
        SelectionMarker,
        Mesh3d(meshes.add(Cone::new(0.15, 0.3))),
        MeshMaterial3d(materials.add(StandardMaterial {
            base_color: Color::srgb(1.0, 0.85, 0.1),
            emissive: LinearRgba::rgb(1.0, 0.8, 0.0),
            ..default()
        })),
        Transform::from_rotation(Quat::from_rotation_x(std::f32::consts::PI)),
        Visibility::Hidden,
    ));
}

/// The mesh of a scenario shape.
pub fn mesh_of(s: &Shape) -> Mesh {
    match *s {
        Shape::Box { size } => Cuboid::new(size[0], size[1], size[2]).into(),
        Shape::Sphere { radius } => Sphere::new(radius).mesh().uv(32, 16),
        Shape::Capsule { radius, height } => {
            Capsule3d::new(radius, (height - 2.0 * radius).max(0.0)).into()
        }
        Shape::Cylinder { radius, height } => Cylinder::new(radius, height).into(),
    }
}

/// Copies the simulation's bodies into drawn meshes: new ones appear, gone ones vanish.
fn mirror(
    mut commands: Commands,
    mut host: NonSendMut<SimHost>,
    mut map: ResMut<Mirror>,
    st: Res<ViewState>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
    mut drawn: Query<&mut Transform, (With<Mirrored>, Without<SelectionMarker>)>,
    mut marker: Query<(&mut Transform, &mut Visibility), With<SelectionMarker>>,
) {
    let bodies = host.bodies();
    let mut seen = std::collections::HashSet::with_capacity(bodies.len());
    for b in &bodies {
        seen.insert(b.entity);
        // Agents turn by their heading (their capsule itself never rotates).
        let mut t = b.transform;
        if let Some((_, yaw, _)) = b.agent {
            t.rotation = Quat::from_rotation_y(yaw);
        }
        if let Some(&e) = map.drawn.get(&b.entity)
            && let Ok(mut tr) = drawn.get_mut(e)
        {
            *tr = t;
        } else {
            let [r, g, bl] = b.color;
            let mat = materials.add(StandardMaterial {
                base_color: Color::linear_rgb(r, g, bl),
                perceptual_roughness: 0.85,
                ..default()
            });
            let mut ec = commands.spawn((
                Mirrored,
                Mesh3d(meshes.add(mesh_of(&b.shape))),
                MeshMaterial3d(mat),
                t,
            ));
            if let (Some((_, _, eye)), Shape::Capsule { radius, .. }) = (b.agent, b.shape) {
                // A dark visor where the eye is, facing the way the agent looks.
                ec.with_child((
                    Mesh3d(meshes.add(Cuboid::new(radius * 1.2, radius * 0.35, radius * 0.5))),
                    MeshMaterial3d(materials.add(StandardMaterial {
                        base_color: Color::srgb(0.05, 0.05, 0.08),
                        emissive: LinearRgba::rgb(0.1, 0.6, 1.0),
                        ..default()
                    })),
                    Transform::from_xyz(0.0, eye, -radius * 0.85),
                ));
            }
            map.drawn.insert(b.entity, ec.id());
        }
    }
    map.drawn.retain(|sim, view| {
        let keep = seen.contains(sim);
        if !keep {
            commands.entity(*view).despawn();
        }
        keep
    });
    if let Ok((mut t, mut vis)) = marker.single_mut() {
        match bodies
            .iter()
            .find(|b| b.agent.is_some_and(|a| a.0 == st.selected))
        {
            Some(b) => {
                let top = match b.shape {
                    Shape::Capsule { height, .. } => height / 2.0,
                    _ => 1.0,
                };
                t.translation = b.transform.translation + Vec3::Y * (top + 0.35);
                *vis = Visibility::Visible;
            }
            None => *vis = Visibility::Hidden,
        }
    }
}

/// Keeps the world image the size of the free area (times the render scale).
fn fit_world_view(
    mut view: ResMut<WorldView>,
    input: Res<ViewInput>,
    window: Query<&Window, With<PrimaryWindow>>,
    mut images: ResMut<Assets<Image>>,
    mut contexts: EguiContexts,
    mut cams: Query<&mut RenderTarget, With<Orbit>>,
) {
    let Ok(w) = window.single() else { return };
    if input.area.x < 1.0 || input.area.y < 1.0 {
        return;
    }
    let want = (input.area * w.scale_factor() * view.scale)
        .round()
        .as_uvec2()
        .max(UVec2::splat(16));
    if view.texture.is_some() && want == view.size {
        return;
    }
    let old = view.image.clone();
    let image = images.add(target_image(want));
    for mut target in &mut cams {
        *target = RenderTarget::Image(image.clone().into());
    }
    contexts.remove_image(&old);
    images.remove(&old);
    view.texture = Some(contexts.add_image(EguiTextureHandle::Strong(image.clone())));
    view.image = image;
    view.size = want;
}

/// A click on an agent in the world image selects it.
fn select_by_click(
    input: Res<ViewInput>,
    view: Res<WorldView>,
    cam: Query<(&Camera, &GlobalTransform), With<Orbit>>,
    mut host: NonSendMut<SimHost>,
    mut st: ResMut<ViewState>,
) {
    let Some(at) = input.click else { return };
    let Ok((camera, gt)) = cam.single() else {
        return;
    };
    let Ok(ray) = camera.viewport_to_world(gt, at * view.size.as_vec2()) else {
        return;
    };
    let mut best: Option<(f32, usize)> = None;
    for b in host.bodies() {
        let (Some((index, ..)), Shape::Capsule { radius, height }) = (b.agent, b.shape) else {
            continue;
        };
        // Distance from the ray to the capsule's axis, sampled along its height.
        let c = b.transform.translation;
        for k in 0..=4 {
            let p = c + Vec3::Y * (height * (k as f32 / 4.0 - 0.5));
            let along = (p - ray.origin).dot(*ray.direction);
            if along <= 0.0 {
                continue;
            }
            let d = (ray.origin + *ray.direction * along - p).length();
            if d < radius * 1.5 && best.is_none_or(|(bd, _)| along < bd) {
                best = Some((along, index));
            }
        }
    }
    if let Some((_, i)) = best {
        st.selected = i;
    }
}

/// Left drag turns around the focus, right drag pans, the wheel zooms; with follow on, the
/// focus is the selected agent.
fn orbit_camera(
    mut input: ResMut<ViewInput>,
    mut host: NonSendMut<SimHost>,
    st: Res<ViewState>,
    mut q: Query<(&mut Orbit, &mut Transform)>,
) {
    for (mut o, mut t) in &mut q {
        o.yaw -= input.orbit.x * 0.008;
        o.pitch = (o.pitch + input.orbit.y * 0.008).clamp(-0.2, 1.55);
        let right = Quat::from_rotation_y(o.yaw) * Vec3::X;
        let fwd = Quat::from_rotation_y(o.yaw) * Vec3::NEG_Z;
        let k = o.dist * 0.002;
        o.focus += (-right * input.pan.x + fwd * input.pan.y) * k;
        o.dist = (o.dist * (1.0 - input.zoom * 0.1)).clamp(1.0, 200.0);
        if st.follow
            && let Some((p, _)) = host.agent_pose(st.selected)
        {
            o.focus = p;
        }
        let rot = Quat::from_euler(EulerRot::YXZ, o.yaw, -o.pitch, 0.0);
        *t = Transform::from_translation(o.focus + rot * Vec3::Z * o.dist)
            .looking_at(o.focus, Vec3::Y);
    }
    let area = input.area;
    *input = ViewInput { area, ..default() };
}
