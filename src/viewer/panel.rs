//! The egui side panel: the selected agent's frames (seen, predicted, outcome, error), its
//! learning curve, its action and policy, every layer of its brain, and the key overlay.

use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};
use egui_plot::{Legend, Line, Plot};

use super::controls::KEYS;
use super::scene::{ViewInput, WorldView};
use super::{SPEEDS, ViewState};
use crate::brain::layer::Shape as LayerShape;
use crate::scenario::{Channel, Policy, RetinaSpec};
use crate::sim::host::{AgentSnapshot, SimHost};

/// Width of the side panel, logical pixels.
pub const PANEL_WIDTH: f32 = 460.0;

/// Draws the panel.
pub struct PanelPlugin;

impl Plugin for PanelPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<Textures>()
            .add_systems(EguiPrimaryContextPass, panel);
    }
}

/// The panel's images, rebuilt when a new cycle completed or the selection changed.
#[derive(Resource, Default)]
struct Textures {
    key: Option<(u64, usize, bool)>,
    frames: Vec<(String, egui::TextureHandle)>,
    layers: Vec<(String, egui::TextureHandle)>,
}

/// A picture as RGB bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct Picture {
    /// Width, pixels.
    pub width: usize,
    /// Height, pixels.
    pub height: usize,
    /// Row-major RGB.
    pub rgb: Vec<u8>,
}

impl Picture {
    fn new(width: usize, height: usize, fill: [u8; 3]) -> Self {
        Self {
            width,
            height,
            rgb: fill.repeat(width * height),
        }
    }

    fn put(&mut self, x: usize, y: usize, c: [u8; 3]) {
        let i = 3 * (y * self.width + x);
        self.rgb[i..i + 3].copy_from_slice(&c);
    }

    fn to_egui(&self) -> egui::ColorImage {
        egui::ColorImage::from_rgb([self.width, self.height], &self.rgb)
    }
}

fn byte(v: f32) -> u8 {
    (v.clamp(0.0, 1.0) * 255.0).round() as u8
}

/// Linear [0, 1] to an sRGB byte (frames hold linear light, as the retina shades it).
fn srgb(v: f32) -> u8 {
    let v = v.clamp(0.0, 1.0);
    let s = if v <= 0.003_130_8 {
        12.92 * v
    } else {
        1.055 * v.powf(1.0 / 2.4) - 0.055
    };
    byte(s)
}

/// Black → red → yellow → white, for errors.
fn heat(v: f32) -> [u8; 3] {
    let v = v.clamp(0.0, 1.0) * 3.0;
    [byte(v), byte(v - 1.0), byte(v - 2.0)]
}

/// Dark blue → teal → yellow, for activity.
fn activity(v: f32) -> [u8; 3] {
    let v = v.clamp(0.0, 1.0);
    let (a, b, t) = if v < 0.5 {
        ([0.08, 0.05, 0.25], [0.1, 0.55, 0.55], v * 2.0)
    } else {
        ([0.1, 0.55, 0.55], [0.99, 0.9, 0.15], v * 2.0 - 1.0)
    };
    std::array::from_fn(|i| byte(a[i] + (b[i] - a[i]) * t))
}

/// A frame-shaped quantity as a picture: one panel per channel group, 1 px apart.
/// `colour(channel, at)` colours one pixel, where `at(k)` is the frame index of the group's
/// plane k at that pixel.
fn channel_picture(
    r: &RetinaSpec,
    colour: impl Fn(&Channel, &dyn Fn(usize) -> usize) -> [u8; 3],
) -> Picture {
    let (w, h) = (r.width as usize, r.height as usize);
    let groups = r.channels.len().max(1);
    let mut pic = Picture::new(groups * (w + 1) - 1, h, [20, 20, 20]);
    let plane = w * h;
    let mut p0 = 0;
    for (g, ch) in r.channels.iter().enumerate() {
        let x0 = g * (w + 1);
        for y in 0..h {
            for x in 0..w {
                let at = |k: usize| (p0 + k) * plane + y * w + x;
                pic.put(x0 + x, y, colour(ch, &at));
            }
        }
        p0 += ch.width();
    }
    pic
}

/// A frame's channels side by side (luminance and depth grey, RGB in colour), 1 px apart.
pub fn frame_picture(r: &RetinaSpec, frame: &[f32]) -> Picture {
    channel_picture(r, |ch, at| {
        let v = |k: usize| frame.get(at(k)).copied().unwrap_or(0.0);
        match ch {
            Channel::Rgb => [srgb(v(0)), srgb(v(1)), srgb(v(2))],
            Channel::Luminance => [srgb(v(0)); 3],
            // Near is bright, far dark: what stands out is what is close.
            Channel::Depth => [byte(1.0 - v(0)); 3],
        }
    })
}

/// Per pixel and channel group: |prediction − outcome| averaged over the group's planes.
pub fn error_picture(r: &RetinaSpec, pred: &[f32], out: &[f32]) -> Picture {
    channel_picture(r, |ch, at| {
        let e: f32 = (0..ch.width())
            .map(|k| {
                let i = at(k);
                (pred.get(i).copied().unwrap_or(0.0) - out.get(i).copied().unwrap_or(0.0)).abs()
            })
            .sum();
        // Full heat at an error of half the value range.
        heat(2.0 * e / ch.width() as f32)
    })
}

/// A layer's units in their pools (1 px between pools), coloured by activity.
pub fn layer_picture(shape: &LayerShape, act: &[f32]) -> Picture {
    let (py, px, uy, ux) = (shape.pools_y, shape.pools_x, shape.units_y, shape.units_x);
    let gap = usize::from(py * px > 1);
    let mut pic = Picture::new(px * (ux + gap) - gap, py * (uy + gap) - gap, [45, 45, 45]);
    for p in 0..py * px {
        let (pyi, pxi) = (p / px, p % px);
        for u in 0..uy * ux {
            let (uyi, uxi) = (u / ux, u % ux);
            let v = act.get(p * uy * ux + u).copied().unwrap_or(0.0);
            pic.put(pxi * (ux + gap) + uxi, pyi * (uy + gap) + uyi, activity(v));
        }
    }
    pic
}

fn policy_text(p: &Policy) -> String {
    match p {
        Policy::Random { persistence } => format!("Random (persistence {persistence})"),
        Policy::Scripted(list) => format!("Scripted ({} steps)", list.len()),
        Policy::Keyboard => "Keyboard".into(),
    }
}

fn rebuild(ctx: &egui::Context, tex: &mut Textures, a: &AgentSnapshot, plus: bool) {
    let r = &a.retina;
    let pics = [
        ("sees (frame t)", frame_picture(r, &a.frame)),
        (
            "predicted (t+1, minus phase)",
            frame_picture(r, &a.prediction),
        ),
        ("outcome (t+1, plus phase)", frame_picture(r, &a.outcome)),
        (
            "error |predicted − outcome|",
            error_picture(r, &a.prediction, &a.outcome),
        ),
    ];
    let opts = egui::TextureOptions::NEAREST;
    if tex.frames.len() != pics.len() {
        tex.frames = pics
            .iter()
            .map(|(n, p)| (n.to_string(), ctx.load_texture(*n, p.to_egui(), opts)))
            .collect();
    } else {
        for ((_, h), (_, p)) in tex.frames.iter_mut().zip(&pics) {
            h.set(p.to_egui(), opts);
        }
    }
    let layer_pics: Vec<(String, Picture)> = a
        .layers
        .iter()
        .map(|l| {
            let act = if plus { &l.plus } else { &l.minus };
            (l.name.clone(), layer_picture(&l.shape, act))
        })
        .collect();
    let same_names = tex.layers.len() == layer_pics.len()
        && tex.layers.iter().zip(&layer_pics).all(|(a, b)| a.0 == b.0);
    if same_names {
        for ((_, h), (_, p)) in tex.layers.iter_mut().zip(&layer_pics) {
            h.set(p.to_egui(), opts);
        }
    } else {
        tex.layers = layer_pics
            .iter()
            .map(|(n, p)| {
                (
                    n.clone(),
                    ctx.load_texture(format!("layer-{n}"), p.to_egui(), opts),
                )
            })
            .collect();
    }
}

fn image(ui: &mut egui::Ui, h: &egui::TextureHandle, max: egui::Vec2) {
    let s = h.size_vec2();
    let k = (max.x / s.x).min(max.y / s.y).max(0.1);
    ui.add(egui::Image::new(egui::load::SizedTexture::new(
        h.id(),
        s * k,
    )));
}

fn skill_of(points: &[crate::sim::host::CurvePoint]) -> f64 {
    let (p, b) = points.iter().fold((0.0, 0.0), |(p, b), c| {
        (p + c.pred_error, b + c.baseline_error)
    });
    if b > 0.0 { 1.0 - p / b } else { 0.0 }
}

fn panel(
    mut contexts: EguiContexts,
    host: NonSend<SimHost>,
    mut st: ResMut<ViewState>,
    mut tex: ResMut<Textures>,
    view: Res<WorldView>,
    mut input: ResMut<ViewInput>,
) -> Result {
    let ctx = contexts.ctx_mut()?.clone();
    let n = host.agents.len();
    if n > 0 && st.selected >= n {
        st.selected = 0;
    }
    let key = (st.version, st.selected, st.show_plus);
    if let Some(a) = host.agents.get(st.selected)
        && tex.key != Some(key)
    {
        rebuild(&ctx, &mut tex, a, st.show_plus);
        tex.key = Some(key);
    }
    let mut root = egui::Ui::new(
        ctx.clone(),
        "viewport".into(),
        egui::UiBuilder::new()
            .layer_id(egui::LayerId::background())
            .max_rect(ctx.viewport_rect()),
    );
    egui::Panel::right("agent")
        .resizable(false)
        .exact_size(PANEL_WIDTH)
        .show(&mut root, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| {
                header(ui, &host, &mut st);
                ui.separator();
                if let Some(a) = host.agents.get(st.selected) {
                    agent(ui, a, &tex, &mut st);
                }
            });
        });
    let status = format!(
        "{}  ·  cycle {}  ·  {}  ·  {:.0} fps  ·  sim {:.0} ms/frame  ·  {:.0} steps/s{}",
        host.scenario().name,
        host.cycle(),
        if st.paused {
            "paused".to_string()
        } else if st.exit_after.is_some() {
            speed_text(SPEEDS.len() - 1)
        } else {
            speed_text(st.speed)
        },
        st.fps,
        st.sim_ms,
        st.steps_per_s,
        if st.message.is_empty() {
            String::new()
        } else {
            format!("  ·  {}", st.message)
        }
    );
    egui::Panel::top("status").show(&mut root, |ui| {
        ui.horizontal(|ui| {
            ui.label(status);
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                ui.label("F1: keys");
            });
        });
    });
    egui::CentralPanel::default()
        .frame(egui::Frame::NONE)
        .show(&mut root, |ui| {
            let rect = ui.max_rect();
            input.area = Vec2::new(rect.width(), rect.height());
            let Some(id) = view.texture else { return };
            let img = egui::Image::new(egui::load::SizedTexture::new(id, rect.size()))
                .sense(egui::Sense::click_and_drag());
            let r = ui.put(rect, img);
            let d = r.drag_delta();
            if r.dragged_by(egui::PointerButton::Primary) {
                input.orbit += Vec2::new(d.x, d.y);
            }
            if r.dragged_by(egui::PointerButton::Secondary) {
                input.pan += Vec2::new(d.x, d.y);
            }
            if r.hovered() {
                input.zoom += ui.input(|i| i.smooth_scroll_delta.y) / 50.0;
            }
            if r.clicked()
                && let Some(p) = r.interact_pointer_pos()
            {
                let f = (p - rect.min) / rect.size();
                input.click = Some(Vec2::new(f.x, f.y));
            }
        });
    if st.help {
        let mut open = true;
        egui::Window::new("Keys")
            .open(&mut open)
            .collapsible(false)
            .anchor(egui::Align2::CENTER_CENTER, [0.0, 0.0])
            .show(&ctx, |ui| {
                egui::Grid::new("keys").striped(true).show(ui, |ui| {
                    for (k, what) in KEYS {
                        ui.strong(*k);
                        ui.label(*what);
                        ui.end_row();
                    }
                });
            });
        st.help = open;
    }
    Ok(())
}

fn speed_text(i: usize) -> String {
    match SPEEDS[i] {
        Some(m) => format!("{m}× real time"),
        None => "as fast as possible".into(),
    }
}

fn header(ui: &mut egui::Ui, host: &SimHost, st: &mut ViewState) {
    ui.horizontal(|ui| {
        ui.heading(&host.scenario().name);
        ui.label(format!("seed {}", host.seed()));
    });
    ui.horizontal(|ui| {
        if ui
            .button(if st.paused { "▶ run" } else { "⏸ pause" })
            .clicked()
        {
            st.paused = !st.paused;
        }
        if ui.button("step θ").clicked() {
            st.paused = true;
            st.step_once = true;
        }
        if ui.button("reset").clicked() {
            st.reset = true;
        }
        let mut speed = st.speed;
        egui::ComboBox::from_id_salt("speed")
            .selected_text(speed_text(speed))
            .show_ui(ui, |ui| {
                for i in 0..SPEEDS.len() {
                    ui.selectable_value(&mut speed, i, speed_text(i));
                }
            });
        st.speed = speed;
    });
    ui.horizontal(|ui| {
        ui.label("agent");
        let mut sel = st.selected;
        egui::ComboBox::from_id_salt("agent")
            .selected_text(host.agents.get(sel).map_or("—", |a| a.name.as_str()))
            .show_ui(ui, |ui| {
                for a in &host.agents {
                    ui.selectable_value(&mut sel, a.index, &a.name);
                }
            });
        st.selected = sel;
        ui.checkbox(&mut st.follow, "follow");
    });
    if !host.loaded.is_empty() {
        ui.label(format!("brains loaded: {}", host.loaded.join(", ")));
    }
}

fn agent(ui: &mut egui::Ui, a: &AgentSnapshot, tex: &Textures, st: &mut ViewState) {
    let keys: Vec<&str> = a.actions.iter().map(|x| x.name()).collect();
    ui.label(format!(
        "action {}  ·  policy {}",
        a.action.name(),
        policy_text(&a.policy)
    ));
    ui.label(format!("actions: {}  (WASD drives it)", keys.join(", ")));
    let cell = egui::vec2((ui.available_width() - 12.0) / 2.0, 120.0);
    egui::Grid::new("frames").num_columns(2).show(ui, |ui| {
        for pair in tex.frames.chunks(2) {
            for (name, _) in pair {
                ui.small(name);
            }
            ui.end_row();
            for (_, h) in pair {
                image(ui, h, cell);
            }
            ui.end_row();
        }
    });
    ui.separator();
    let recent = &a.curve[a.curve.len().saturating_sub(100)..];
    ui.label(format!(
        "skill (last {} points) {:.3}   ·   skill over the whole run {:.3}",
        recent.len(),
        skill_of(recent),
        skill_of(&a.curve)
    ));
    let pred: Vec<[f64; 2]> = a
        .curve
        .iter()
        .map(|c| [c.cycle as f64, c.pred_error])
        .collect();
    let base: Vec<[f64; 2]> = a
        .curve
        .iter()
        .map(|c| [c.cycle as f64, c.baseline_error])
        .collect();
    // Skill over a sliding window of 50 points.
    let skill: Vec<[f64; 2]> = (0..a.curve.len())
        .map(|i| {
            let w = &a.curve[i.saturating_sub(49)..=i];
            // Clamped: a first cycle with an uncalibrated decoder would squash the rest.
            [a.curve[i].cycle as f64, skill_of(w).max(-1.0)]
        })
        .collect();
    Plot::new("errors")
        .height(120.0)
        .legend(Legend::default())
        .allow_scroll(false)
        .show(ui, |p| {
            p.line(Line::new("pred_error", pred));
            p.line(Line::new("baseline_error (copy frame t)", base));
        });
    Plot::new("skill")
        .height(90.0)
        .legend(Legend::default())
        .allow_scroll(false)
        .show(ui, |p| {
            p.line(Line::new("skill (50-point window)", skill));
        });
    ui.separator();
    ui.horizontal(|ui| {
        ui.strong("network");
        ui.selectable_value(&mut st.show_plus, false, "minus phase");
        ui.selectable_value(&mut st.show_plus, true, "plus phase");
    });
    let side = (ui.available_width() - 24.0) / 3.0;
    egui::Grid::new("layers").num_columns(3).show(ui, |ui| {
        for row in tex.layers.chunks(3) {
            for (name, _) in row {
                ui.small(name);
            }
            ui.end_row();
            for (_, h) in row {
                image(ui, h, egui::vec2(side, side * 0.8));
            }
            ui.end_row();
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_pictures_lay_channels_side_by_side() {
        let r = RetinaSpec {
            width: 4,
            height: 2,
            channels: vec![Channel::Luminance, Channel::Depth],
            ..Default::default()
        };
        let mut f = vec![0.0; r.frame_len()];
        f[0] = 1.0; // luminance (0, 0)
        f[8 + 7] = 1.0; // depth (3, 1): far
        let p = frame_picture(&r, &f);
        assert_eq!((p.width, p.height), (9, 2));
        assert_eq!(&p.rgb[0..3], &[255, 255, 255]);
        // Depth of pixel (0, 0) is 0 (near): bright; pixel (3, 1) is far: black.
        assert_eq!(&p.rgb[3 * 5..3 * 5 + 3], &[255, 255, 255]);
        let i = 3 * (9 + 8);
        assert_eq!(&p.rgb[i..i + 3], &[0, 0, 0]);
        let e = error_picture(&r, &f, &vec![0.0; r.frame_len()]);
        assert_eq!(&e.rgb[0..3], &[255, 255, 255]);
        assert_eq!(&e.rgb[3..6], &[0, 0, 0]);
    }

    #[test]
    fn layer_pictures_separate_pools() {
        let s = LayerShape::d4(2, 2, 2, 3);
        let mut act = vec![0.0; s.len()];
        act[6] = 1.0; // pool 1 (top right), unit 0
        let p = layer_picture(&s, &act);
        assert_eq!((p.width, p.height), (7, 5));
        let i = 3 * 4;
        assert_eq!(p.rgb[i..i + 3], activity(1.0));
        // The gap column between pools.
        assert_eq!(&p.rgb[9..12], &[45, 45, 45]);
    }
}
