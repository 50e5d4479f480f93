//! Range and consistency checks of a parsed scenario; every problem names its field path.

use super::ScenarioError;
use super::types::*;

/// Collects every problem of `sc` (empty: valid).
pub(super) fn check(sc: &Scenario, file: &str) -> Vec<ScenarioError> {
    let mut c = Checker {
        file,
        errors: Vec::new(),
    };
    c.scenario(sc);
    c.errors
}

struct Checker<'a> {
    file: &'a str,
    errors: Vec<ScenarioError>,
}

/// What a thing covers on the floor, for overlap checks, with its vertical span.
struct Footprint {
    field: String,
    flat: Flat,
    y0: f32,
    y1: f32,
}

/// A floor outline: a circle or a rotated rectangle (x, z, half sizes, yaw in radians).
#[derive(Clone, Copy)]
enum Flat {
    Circle {
        x: f32,
        z: f32,
        r: f32,
    },
    Rect {
        x: f32,
        z: f32,
        hx: f32,
        hz: f32,
        yaw: f32,
    },
}

impl Flat {
    fn of(shape: &Shape, pos: V3, yaw_deg: f32) -> Flat {
        match *shape {
            Shape::Box { size } => Flat::Rect {
                x: pos[0],
                z: pos[2],
                hx: size[0] / 2.0,
                hz: size[2] / 2.0,
                yaw: yaw_deg.to_radians(),
            },
            Shape::Sphere { radius }
            | Shape::Capsule { radius, .. }
            | Shape::Cylinder { radius, .. } => Flat::Circle {
                x: pos[0],
                z: pos[2],
                r: radius,
            },
        }
    }

    /// Half extent along world x and z of its bounding rectangle.
    fn half_extent(&self) -> (f32, f32) {
        match *self {
            Flat::Circle { r, .. } => (r, r),
            Flat::Rect { hx, hz, yaw, .. } => {
                let (s, c) = yaw.sin_cos();
                (hx * c.abs() + hz * s.abs(), hx * s.abs() + hz * c.abs())
            }
        }
    }

    fn centre(&self) -> (f32, f32) {
        match *self {
            Flat::Circle { x, z, .. } | Flat::Rect { x, z, .. } => (x, z),
        }
    }

    /// The rectangle's corners (a circle has none).
    fn corners(&self) -> Vec<(f32, f32)> {
        match *self {
            Flat::Circle { .. } => vec![],
            Flat::Rect { x, z, hx, hz, yaw } => {
                let (s, c) = yaw.sin_cos();
                [(hx, hz), (hx, -hz), (-hx, -hz), (-hx, hz)]
                    .iter()
                    .map(|(a, b)| (x + a * c + b * s, z - a * s + b * c))
                    .collect()
            }
        }
    }

    /// Do the interiors overlap (touching is fine)?
    fn overlaps(&self, o: &Flat) -> bool {
        const EPS: f32 = 1e-3;
        match (*self, *o) {
            (
                Flat::Circle { x, z, r },
                Flat::Circle {
                    x: x2,
                    z: z2,
                    r: r2,
                },
            ) => ((x - x2).powi(2) + (z - z2).powi(2)).sqrt() + EPS < r + r2,
            (Flat::Rect { x, z, hx, hz, yaw }, Flat::Circle { x: cx, z: cz, r })
            | (Flat::Circle { x: cx, z: cz, r }, Flat::Rect { x, z, hx, hz, yaw }) => {
                // The circle's centre in the rectangle's frame, clamped to the rectangle.
                let (s, c) = yaw.sin_cos();
                let (dx, dz) = (cx - x, cz - z);
                let (lx, lz) = (dx * c - dz * s, dx * s + dz * c);
                let (qx, qz) = (lx.clamp(-hx, hx), lz.clamp(-hz, hz));
                ((lx - qx).powi(2) + (lz - qz).powi(2)).sqrt() + EPS < r
            }
            (Flat::Rect { yaw: ya, .. }, Flat::Rect { yaw: yb, .. }) => {
                // Separating axes: the two rectangles' edge normals.
                let (ca, cb) = (self.corners(), o.corners());
                [
                    ya,
                    ya + std::f32::consts::FRAC_PI_2,
                    yb,
                    yb + std::f32::consts::FRAC_PI_2,
                ]
                .iter()
                .all(|ang| {
                    let (s, c) = ang.sin_cos();
                    let proj = |p: &(f32, f32)| p.0 * c - p.1 * s;
                    let span = |ps: &[(f32, f32)]| {
                        ps.iter()
                            .map(proj)
                            .fold((f32::MAX, f32::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)))
                    };
                    let (a0, a1) = span(&ca);
                    let (b0, b1) = span(&cb);
                    a0 + EPS < b1 && b0 + EPS < a1
                })
            }
        }
    }
}

impl Checker<'_> {
    fn err(&mut self, field: impl Into<String>, msg: impl Into<String>) {
        self.errors.push(ScenarioError::Invalid {
            file: self.file.to_string(),
            field: field.into(),
            msg: msg.into(),
        });
    }

    /// `lo <= v <= hi` and finite.
    fn range(&mut self, field: &str, v: f32, lo: f32, hi: f32) -> bool {
        if !v.is_finite() || v < lo || v > hi {
            self.err(field, format!("{v} is out of range; expected {lo} to {hi}"));
            return false;
        }
        true
    }

    /// `0 < v <= hi` and finite.
    fn positive(&mut self, field: &str, v: f32, hi: f32) -> bool {
        if !v.is_finite() || v <= 0.0 || v > hi {
            self.err(field, format!("{v} must be positive and at most {hi}"));
            return false;
        }
        true
    }

    fn finite3(&mut self, field: &str, v: V3) -> bool {
        if v.iter().any(|x| !x.is_finite()) {
            self.err(field, format!("{v:?} must be finite"));
            return false;
        }
        true
    }

    fn color(&mut self, field: &str, c: Rgb) {
        if c.iter().any(|x| !x.is_finite() || !(0.0..=1.0).contains(x)) {
            self.err(field, format!("{c:?}: colour components must be in [0, 1]"));
        }
    }

    fn scenario(&mut self, sc: &Scenario) {
        if sc.name.trim().is_empty() {
            self.err("name", "must not be empty");
        }
        self.world(&sc.world);
        self.run(&sc.run);
        if sc.agents.is_empty() {
            self.err("agents", "a scenario needs at least one agent");
        }
        if sc.agents.len() > 64 {
            self.err("agents", format!("{} agents; at most 64", sc.agents.len()));
        }
        for (i, a) in sc.agents.iter().enumerate() {
            let at = format!("agents[{i}]");
            if sc.agents[..i].iter().any(|b| b.name == a.name) {
                self.err(format!("{at}.name"), format!("`{}` is used twice", a.name));
            }
            self.agent(&at, a, &sc.world.arena);
        }
        for (i, e) in sc.expect.iter().enumerate() {
            let at = format!("expect[{i}]");
            match *e {
                Expectation::Skill { min } => {
                    self.range(&format!("{at}.min"), min, -10.0, 1.0);
                }
                Expectation::Correlation { min } => {
                    self.range(&format!("{at}.min"), min, -1.0, 1.0);
                }
                Expectation::PredError { max } => {
                    self.range(&format!("{at}.max"), max, 0.0, 1.0);
                }
            }
        }
        self.overlaps(sc);
    }

    fn world(&mut self, w: &World) {
        let a = &w.arena;
        self.positive("world.arena.size[0]", a.size[0], 1000.0);
        self.positive("world.arena.size[1]", a.size[1], 1000.0);
        self.range("world.arena.wall_height", a.wall_height, 0.0, 100.0);
        self.color("world.arena.floor_color", a.floor_color);
        if a.wall_colors.len() != 4 {
            self.err(
                "world.arena.wall_colors",
                format!(
                    "{} colours; expected 4 (north, east, south, west)",
                    a.wall_colors.len()
                ),
            );
        }
        for (i, c) in a.wall_colors.iter().enumerate() {
            self.color(&format!("world.arena.wall_colors[{i}]"), *c);
        }
        self.range("world.ambient", w.ambient, 0.0, 1.0);
        self.color("world.sky", w.sky);
        self.range("world.gravity", w.gravity, 0.0, 100.0);
        for (i, l) in w.lights.iter().enumerate() {
            let at = format!("world.lights[{i}]");
            match *l {
                Light::Directional {
                    direction,
                    intensity,
                } => {
                    if self.finite3(&format!("{at}.direction"), direction)
                        && direction.iter().all(|x| *x == 0.0)
                    {
                        self.err(format!("{at}.direction"), "must not be (0, 0, 0)");
                    }
                    self.range(&format!("{at}.intensity"), intensity, 0.0, 4.0);
                }
                Light::Point {
                    position,
                    intensity,
                    range,
                } => {
                    self.finite3(&format!("{at}.position"), position);
                    self.range(&format!("{at}.intensity"), intensity, 0.0, 4.0);
                    self.positive(&format!("{at}.range"), range, 1000.0);
                }
            }
        }
        for (i, o) in w.objects.iter().enumerate() {
            let at = format!("world.objects[{i}]");
            if self.shape(&format!("{at}.shape"), &o.shape)
                && self.finite3(&format!("{at}.pos"), o.pos)
            {
                let flat = Flat::of(&o.shape, o.pos, o.yaw);
                self.inside(&format!("{at}.pos"), &flat, a);
                let bottom = o.pos[1] - o.shape.half_extents()[1];
                if bottom < -1e-3 {
                    self.err(
                        format!("{at}.pos"),
                        format!("the object reaches below the floor (bottom at y = {bottom})"),
                    );
                }
            }
            self.range(&format!("{at}.yaw"), o.yaw, -3600.0, 3600.0);
            self.color(&format!("{at}.color"), o.color);
            self.material(&format!("{at}.material"), &o.material);
        }
        for (i, s) in w.spawners.iter().enumerate() {
            let at = format!("world.spawners[{i}]");
            if s.count == 0 || s.count > 1000 {
                self.err(
                    format!("{at}.count"),
                    format!("{}; expected 1 to 1000", s.count),
                );
            }
            if let Some(c) = s.color {
                self.color(&format!("{at}.color"), c);
            }
            self.material(&format!("{at}.material"), &s.material);
            if s.respawn_every == Some(0) {
                self.err(
                    format!("{at}.respawn_every"),
                    "must be at least 1 theta cycle",
                );
            }
            let shape_ok = self.shape(&format!("{at}.shape"), &s.shape);
            let (lo, hi) = (s.region.min, s.region.max);
            if !(self.finite3(&format!("{at}.region.min"), lo)
                && self.finite3(&format!("{at}.region.max"), hi)
                && shape_ok)
            {
                continue;
            }
            if (0..3).any(|k| lo[k] > hi[k]) {
                self.err(
                    format!("{at}.region"),
                    format!("min {lo:?} exceeds max {hi:?}"),
                );
                continue;
            }
            let r = s.shape.bounding_radius();
            for (k, name) in [(0, "x"), (2, "z")] {
                let half = a.size[k / 2] / 2.0;
                if lo[k] - r < -half - 1e-3 || hi[k] + r > half + 1e-3 {
                    self.err(
                        format!("{at}.region"),
                        format!(
                            "objects of radius {r} would leave the arena along {name} (arena spans ±{half})"
                        ),
                    );
                }
            }
            if lo[1] - s.shape.half_extents()[1] < -1e-3 {
                self.err(
                    format!("{at}.region.min"),
                    "objects would start below the floor",
                );
            }
            // Rejection sampling needs room: the objects' footprints may fill at most half of
            // the region's floor area (plus one footprint of slack at the edges).
            let area = (hi[0] - lo[0] + 2.0 * r) * (hi[2] - lo[2] + 2.0 * r);
            let need = s.count as f32 * (2.0 * r) * (2.0 * r);
            if s.count > 1 && need > 0.5 * area && s.motion == Motion::Static {
                self.err(
                    format!("{at}.count"),
                    format!(
                        "{} objects of radius {r} do not fit apart in the region (they need {need:.1} m² of its {area:.1} m²)",
                        s.count
                    ),
                );
            }
        }
    }

    fn shape(&mut self, at: &str, s: &Shape) -> bool {
        match *s {
            Shape::Box { size } => {
                let mut ok = true;
                for (k, v) in size.iter().enumerate() {
                    ok &= self.positive(&format!("{at}.size[{k}]"), *v, 100.0);
                }
                ok
            }
            Shape::Sphere { radius } => self.positive(&format!("{at}.radius"), radius, 50.0),
            Shape::Capsule { radius, height } => {
                let ok = self.positive(&format!("{at}.radius"), radius, 50.0)
                    & self.positive(&format!("{at}.height"), height, 100.0);
                if ok && height < 2.0 * radius {
                    self.err(
                        format!("{at}.height"),
                        format!("{height} is less than twice the radius ({radius})"),
                    );
                    return false;
                }
                ok
            }
            Shape::Cylinder { radius, height } => {
                self.positive(&format!("{at}.radius"), radius, 50.0)
                    & self.positive(&format!("{at}.height"), height, 100.0)
            }
        }
    }

    fn material(&mut self, at: &str, m: &Material) {
        self.positive(&format!("{at}.mass"), m.mass, 1e6);
        self.range(&format!("{at}.restitution"), m.restitution, 0.0, 1.0);
        self.range(&format!("{at}.friction"), m.friction, 0.0, 2.0);
    }

    fn inside(&mut self, field: &str, f: &Flat, a: &Arena) {
        let (hx, hz) = (a.size[0] / 2.0, a.size[1] / 2.0);
        let (x, z) = f.centre();
        let (ex, ez) = f.half_extent();
        if x.abs() + ex > hx + 1e-3 || z.abs() + ez > hz + 1e-3 {
            self.err(
                field,
                format!(
                    "({x}, {z}) is not inside the arena: the thing spans ±{ex:.2} along x and ±{ez:.2} along z, the arena x within ±{hx}, z within ±{hz}"
                ),
            );
        }
    }

    fn agent(&mut self, at: &str, a: &AgentSpec, arena: &Arena) {
        let errors_before = self.errors.len();
        if a.name.trim().is_empty() {
            self.err(format!("{at}.name"), "must not be empty");
        }
        let b = &a.body;
        let body_ok = self.positive(&format!("{at}.body.radius"), b.radius, 5.0)
            & self.positive(&format!("{at}.body.height"), b.height, 10.0);
        if body_ok && b.height < 2.0 * b.radius {
            self.err(
                format!("{at}.body.height"),
                format!("{} is less than twice the radius ({})", b.height, b.radius),
            );
        }
        if self.positive(&format!("{at}.body.eye_height"), b.eye_height, 10.0)
            && body_ok
            && b.eye_height > b.height
        {
            self.err(
                format!("{at}.body.eye_height"),
                format!(
                    "{} is above the top of the body ({})",
                    b.eye_height, b.height
                ),
            );
        }
        self.color(&format!("{at}.body.color"), b.color);
        self.range(&format!("{at}.body.speed"), b.speed, 0.0, 20.0);
        self.positive(&format!("{at}.body.turn_rate"), b.turn_rate, 720.0);
        if a.pos.iter().all(|v| v.is_finite()) && body_ok {
            let flat = Flat::Circle {
                x: a.pos[0],
                z: a.pos[1],
                r: b.radius,
            };
            self.inside(&format!("{at}.pos"), &flat, arena);
        } else if !a.pos.iter().all(|v| v.is_finite()) {
            self.err(format!("{at}.pos"), format!("{:?} must be finite", a.pos));
        }
        self.range(&format!("{at}.yaw"), a.yaw, -3600.0, 3600.0);
        let r = &a.sensors.retina;
        let rat = format!("{at}.sensors.retina");
        for (name, v) in [("width", r.width), ("height", r.height)] {
            if !(4..=128).contains(&v) {
                self.err(
                    format!("{rat}.{name}"),
                    format!("{v} px; expected 4 to 128"),
                );
            }
        }
        if !(r.fov.is_finite() && r.fov > 0.0 && r.fov < 180.0) {
            self.err(
                format!("{rat}.fov"),
                format!("{}°; expected more than 0 and less than 180", r.fov),
            );
        }
        self.positive(&format!("{rat}.max_range"), r.max_range, 10_000.0);
        self.range(&format!("{rat}.pitch"), r.pitch, -89.0, 89.0);
        if r.channels.is_empty() {
            self.err(
                format!("{rat}.channels"),
                "needs at least one of Luminance, Rgb, Depth",
            );
        }
        for (i, ch) in r.channels.iter().enumerate() {
            if r.channels[..i].contains(ch) {
                self.err(
                    format!("{rat}.channels[{i}]"),
                    format!("{ch:?} is listed twice"),
                );
            }
        }
        if a.actions.is_empty() || a.actions.len() > 8 {
            self.err(
                format!("{at}.actions"),
                format!("{} actions; expected 1 to 8", a.actions.len()),
            );
        }
        for (i, act) in a.actions.iter().enumerate() {
            if a.actions[..i].contains(act) {
                self.err(
                    format!("{at}.actions[{i}]"),
                    format!("{act:?} is listed twice"),
                );
            }
        }
        match &a.policy {
            Policy::Random { persistence } => {
                if !(persistence.is_finite() && (0.0..1.0).contains(persistence)) {
                    self.err(
                        format!("{at}.policy.persistence"),
                        format!("{persistence}; expected 0 ≤ p < 1"),
                    );
                }
            }
            Policy::Scripted(list) => {
                if list.is_empty() {
                    self.err(format!("{at}.policy"), "a script needs at least one action");
                }
                for (i, act) in list.iter().enumerate() {
                    if !a.actions.contains(act) {
                        self.err(
                            format!("{at}.policy[{i}]"),
                            format!("{act:?} is not one of the agent's actions {:?}", a.actions),
                        );
                    }
                }
            }
            Policy::Keyboard => {}
        }
        match &a.brain {
            crate::scenario::BrainSpec::Cortex(c) => {
                for (name, v) in [("pools", c.pools), ("units", c.units)] {
                    if v.iter().any(|x| *x == 0 || *x > 32) {
                        self.err(
                            format!("{at}.brain.{name}"),
                            format!("{v:?}; each side 1 to 32"),
                        );
                    }
                }
                if let Err(e) = c.deep.theta.validate() {
                    self.err(format!("{at}.brain.deep.theta"), e.to_string());
                } else if self.errors.len() == errors_before {
                    // The circuit the run would build, checked as `Network::new` checks it,
                    // so that a `deep` value out of range (an initial weight, say) fails here
                    // rather than when the run starts. Only for an otherwise valid agent: its
                    // retina and actions shape the circuit.
                    let spec = super::circuit::agent_network(a, c, 0);
                    if let Err(e) = spec.validate() {
                        self.err(format!("{at}.brain.deep"), e.to_string());
                    }
                }
            }
            crate::scenario::BrainSpec::Backprop(b) => {
                if b.hidden > 4096 {
                    self.err(
                        format!("{at}.brain.hidden"),
                        format!("{}; expected 1 to 4096", b.hidden),
                    );
                }
                if let Err(crate::brain::BrainError::InvalidParam {
                    field,
                    value,
                    reason,
                }) = b.params().validate()
                {
                    let field = field.trim_start_matches("backprop.");
                    self.err(format!("{at}.brain.{field}"), format!("{value}; {reason}"));
                }
            }
            crate::scenario::BrainSpec::CopyLast => {}
        }
    }

    fn run(&mut self, r: &RunSpec) {
        if r.theta_cycles == 0 || r.theta_cycles > 10_000_000 {
            self.err(
                "run.theta_cycles",
                format!("{}; expected 1 to 10000000", r.theta_cycles),
            );
        }
        if r.physics_steps == 0 || r.physics_steps > 200 {
            self.err(
                "run.physics_steps",
                format!("{}; expected 1 to 200", r.physics_steps),
            );
        }
        if !(r.final_window.is_finite() && r.final_window > 0.0 && r.final_window <= 1.0) {
            self.err(
                "run.final_window",
                format!("{}; expected more than 0, at most 1", r.final_window),
            );
        }
    }

    /// Hand-placed objects and agents must not start inside each other.
    fn overlaps(&mut self, sc: &Scenario) {
        let mut fp: Vec<Footprint> = Vec::new();
        for (i, o) in sc.world.objects.iter().enumerate() {
            let h = o.shape.half_extents()[1];
            fp.push(Footprint {
                field: format!("world.objects[{i}]"),
                flat: Flat::of(&o.shape, o.pos, o.yaw),
                y0: o.pos[1] - h,
                y1: o.pos[1] + h,
            });
        }
        for (i, a) in sc.agents.iter().enumerate() {
            fp.push(Footprint {
                field: format!("agents[{i}]"),
                flat: Flat::Circle {
                    x: a.pos[0],
                    z: a.pos[1],
                    r: a.body.radius,
                },
                y0: 0.0,
                y1: a.body.height,
            });
        }
        for j in 0..fp.len() {
            for i in 0..j {
                let (a, b) = (&fp[i], &fp[j]);
                let overlap_y = a.y0 < b.y1 - 1e-3 && b.y0 < a.y1 - 1e-3;
                if overlap_y && a.flat.overlaps(&b.flat) {
                    let msg = format!("starts inside {}", a.field);
                    let field = format!("{}.pos", b.field);
                    self.err(field, msg);
                }
            }
        }
    }
}
