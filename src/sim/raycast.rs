//! Analytic ray casting against the world's colliders: boxes, spheres, capsules and cylinders.
//!
//! Every collider the sandbox creates is one of these four shapes ([`ShapeOf`] records which),
//! so the retina can intersect rays with the exact collider geometry in closed form, at the
//! poses Rapier just computed, much faster than a general GJK query. A bounding-sphere test
//! rejects most primitives per ray before the exact test.

use bevy::prelude::*;

use super::retina::{Hit, RayScene};
use super::world::{Albedo, ArenaPart, ShapeOf};
use crate::scenario::{Rgb, Shape};

/// One collider in the snapshot.
#[derive(Clone, Copy, Debug)]
pub struct Prim {
    /// Entity owning the collider (rays from an agent skip its own body).
    pub owner: Entity,
    pos: Vec3,
    rot: Quat,
    inv: Quat,
    shape: Shape,
    bound: f32,
    albedo: Rgb,
}

/// The inside of the arena: floor and four walls, seen from within, in one slab test.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Room {
    /// Half extents of the floor along x and z.
    pub half: [f32; 2],
    /// Wall height; rays leaving above it see the sky.
    pub wall_height: f32,
    /// Floor colour.
    pub floor: Rgb,
    /// Wall colours: −z, +x, +z, −x.
    pub walls: [Rgb; 4],
}

impl Room {
    /// Where a ray from inside leaves the room through the floor or a wall.
    fn exit(&self, o: Vec3, d: Vec3) -> Option<(f32, Vec3, Rgb)> {
        let [hx, hz] = self.half;
        let mut best = (f32::INFINITY, Vec3::ZERO, [0.0; 3]);
        let mut consider = |t: f32, n: Vec3, c: Rgb| {
            if t >= 0.0 && t < best.0 {
                best = (t, n, c);
            }
        };
        if d.x > 0.0 {
            consider((hx - o.x) / d.x, Vec3::NEG_X, self.walls[1]);
        } else if d.x < 0.0 {
            consider((-hx - o.x) / d.x, Vec3::X, self.walls[3]);
        }
        if d.z > 0.0 {
            consider((hz - o.z) / d.z, Vec3::NEG_Z, self.walls[2]);
        } else if d.z < 0.0 {
            consider((-hz - o.z) / d.z, Vec3::Z, self.walls[0]);
        }
        if d.y < 0.0 {
            consider(-o.y / d.y, Vec3::Y, self.floor);
        }
        let (t, n, c) = best;
        if !t.is_finite() {
            return None;
        }
        // Over the top of a wall: the sky.
        if n.y == 0.0 && o.y + d.y * t > self.wall_height {
            return None;
        }
        Some((t, n, c))
    }
}

/// All colliders at one instant.
#[derive(Resource, Clone, Debug, Default)]
pub struct PrimScene {
    prims: Vec<Prim>,
    room: Option<Room>,
}

impl PrimScene {
    /// A snapshot of `items` (sorted by entity so ties resolve the same way every run).
    pub fn new(mut items: Vec<(Entity, Transform, Shape, Rgb)>) -> Self {
        items.sort_by_key(|(e, ..)| *e);
        let prims = items
            .into_iter()
            .map(|(owner, t, shape, albedo)| Prim {
                owner,
                pos: t.translation,
                rot: t.rotation,
                inv: t.rotation.inverse(),
                shape,
                bound: shape.bounding_radius(),
                albedo,
            })
            .collect();
        Self { prims, room: None }
    }

    /// Replaces the arena's floor and wall primitives (which must not be among the items) by
    /// the faster inside-of-a-box test.
    pub fn with_room(mut self, room: Option<Room>) -> Self {
        self.room = room;
        self
    }

    /// Number of primitives.
    pub fn len(&self) -> usize {
        self.prims.len()
    }

    /// True when there is nothing to see.
    pub fn is_empty(&self) -> bool {
        self.prims.is_empty()
    }

    /// The part of the scene a camera at `o` could see: primitives whose bounding sphere comes
    /// within the cone around `axis` of half-angle `half` (radians) and within `max` metres,
    /// except those owned by `skip`. Rays cast into the result see exactly what they would see
    /// in the whole scene, at a fraction of the cost.
    pub fn view(
        &self,
        o: Vec3,
        axis: Vec3,
        half: f32,
        max: f32,
        skip: Option<Entity>,
    ) -> PrimScene {
        let prims = self
            .prims
            .iter()
            .filter(|p| {
                if Some(p.owner) == skip {
                    return false;
                }
                let d = p.pos - o;
                let dist = d.length();
                if dist <= p.bound {
                    return true;
                }
                if dist - p.bound > max {
                    return false;
                }
                let angle = (d.dot(axis) / dist).clamp(-1.0, 1.0).acos();
                angle <= half + (p.bound / dist).min(1.0).asin() + 1e-3
            })
            .copied()
            .collect();
        PrimScene {
            prims,
            room: self.room,
        }
    }

    /// The nearest hit within `max`, ignoring primitives owned by `skip`.
    pub fn cast_skipping(&self, o: Vec3, d: Vec3, max: f32, skip: Option<Entity>) -> Option<Hit> {
        let mut best: Option<(f32, Vec3, Rgb)> = None;
        let mut limit = max;
        if let Some(r) = &self.room
            && let Some(h) = r.exit(o, d)
            && h.0 <= max
        {
            limit = h.0;
            best = Some(h);
        }
        for p in &self.prims {
            if Some(p.owner) == skip {
                continue;
            }
            // Bounding sphere: skip unless the ray passes within `bound` of the centre before
            // the current nearest hit.
            let oc = p.pos - o;
            let along = oc.dot(d);
            let perp2 = oc.length_squared() - along * along;
            if perp2 > p.bound * p.bound || along + p.bound < 0.0 || along - p.bound > limit {
                continue;
            }
            let (lo, ld) = (p.inv * (o - p.pos), p.inv * d);
            if let Some((t, n)) = intersect(&p.shape, lo, ld)
                && t <= limit
            {
                limit = t;
                best = Some((t, p.rot * n, p.albedo));
            }
        }
        best.map(|(toi, normal, albedo)| Hit {
            toi,
            normal,
            albedo,
        })
    }
}

/// The scene as seen by one agent.
pub struct SceneFrom<'a> {
    /// The snapshot (or the part of it in view).
    pub scene: &'a PrimScene,
    /// The looking agent (its body is invisible to itself).
    pub me: Entity,
}

impl RayScene for SceneFrom<'_> {
    fn cast(&self, origin: Vec3, dir: Vec3, max: f32) -> Option<Hit> {
        self.scene.cast_skipping(origin, dir, max, Some(self.me))
    }
}

/// Builds the snapshot from every collider entity; arena parts are replaced by `room`.
pub fn snapshot(
    q: &Query<(Entity, &Transform, &ShapeOf, &Albedo, Has<ArenaPart>)>,
    room: Option<Room>,
) -> PrimScene {
    let items = q
        .iter()
        .filter(|(.., arena)| room.is_none() || !arena)
        .map(|(e, t, s, a, _)| (e, *t, s.0, a.0))
        .collect();
    PrimScene::new(items).with_room(room)
}

/// Ray–shape intersection in the shape's frame: nearest `t ≥ 0` and the outward normal.
/// A ray starting inside reports `t = 0` facing back along the ray.
fn intersect(s: &Shape, o: Vec3, d: Vec3) -> Option<(f32, Vec3)> {
    match *s {
        Shape::Box { size } => ray_box(o, d, Vec3::from(size) * 0.5),
        Shape::Sphere { radius } => ray_sphere(o, d, Vec3::ZERO, radius),
        Shape::Cylinder { radius, height } => ray_cylinder(o, d, radius, height / 2.0, false),
        Shape::Capsule { radius, height } => {
            ray_cylinder(o, d, radius, (height / 2.0 - radius).max(0.0), true)
        }
    }
}

fn ray_box(o: Vec3, d: Vec3, h: Vec3) -> Option<(f32, Vec3)> {
    let (mut t0, mut t1) = (f32::NEG_INFINITY, f32::INFINITY);
    let mut n0 = Vec3::ZERO;
    for k in 0..3 {
        let (ok, dk, hk) = (o[k], d[k], h[k]);
        if dk.abs() < 1e-12 {
            if ok.abs() > hk {
                return None;
            }
            continue;
        }
        let inv = 1.0 / dk;
        let (mut a, mut b) = ((-hk - ok) * inv, (hk - ok) * inv);
        let mut sign = -1.0;
        if a > b {
            std::mem::swap(&mut a, &mut b);
            sign = 1.0;
        }
        if a > t0 {
            t0 = a;
            n0 = Vec3::ZERO;
            n0[k] = sign;
        }
        t1 = t1.min(b);
        if t0 > t1 {
            return None;
        }
    }
    if t1 < 0.0 {
        return None;
    }
    if t0 < 0.0 {
        return Some((0.0, -d));
    }
    Some((t0, n0))
}

fn ray_sphere(o: Vec3, d: Vec3, c: Vec3, r: f32) -> Option<(f32, Vec3)> {
    let oc = o - c;
    let b = oc.dot(d);
    let cc = oc.length_squared() - r * r;
    if cc <= 0.0 {
        return Some((0.0, -d));
    }
    let disc = b * b - cc;
    if disc < 0.0 || b > 0.0 {
        return None;
    }
    let t = -b - disc.sqrt();
    Some((t, (oc + d * t) / r))
}

/// Upright cylinder (|y| ≤ h, flat caps) or capsule (segment |y| ≤ h, round caps).
fn ray_cylinder(o: Vec3, d: Vec3, r: f32, h: f32, round: bool) -> Option<(f32, Vec3)> {
    let mut best: Option<(f32, Vec3)> = None;
    let mut take = |t: f32, n: Vec3| {
        if t >= 0.0 && best.is_none_or(|(bt, _)| t < bt) {
            best = Some((t, n));
        }
    };
    // Side: x² + z² = r².
    let a = d.x * d.x + d.z * d.z;
    let b = o.x * d.x + o.z * d.z;
    let c = o.x * o.x + o.z * o.z - r * r;
    if c <= 0.0 && o.y.abs() <= h {
        return Some((0.0, -d));
    }
    if a > 1e-12 {
        let disc = b * b - a * c;
        if disc >= 0.0 {
            let t = (-b - disc.sqrt()) / a;
            let y = o.y + d.y * t;
            if y.abs() <= h {
                take(t, Vec3::new(o.x + d.x * t, 0.0, o.z + d.z * t) / r);
            }
        }
    }
    if round {
        for cy in [-h, h] {
            if let Some((t, n)) = ray_sphere(o, d, Vec3::new(0.0, cy, 0.0), r) {
                take(t, n);
            }
        }
    } else if d.y.abs() > 1e-12 {
        for (cy, ny) in [(-h, -1.0), (h, 1.0)] {
            let t = (cy - o.y) / d.y;
            let (x, z) = (o.x + d.x * t, o.z + d.z * t);
            if x * x + z * z <= r * r {
                take(t, Vec3::new(0.0, ny, 0.0));
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scene(shape: Shape, t: Transform) -> PrimScene {
        PrimScene::new(vec![(Entity::from_raw_u32(1).unwrap(), t, shape, [1.0; 3])])
    }

    fn hit(s: &PrimScene, o: Vec3, d: Vec3) -> Option<(f32, Vec3)> {
        s.cast_skipping(o, d.normalize(), 100.0, None)
            .map(|h| (h.toi, h.normal))
    }

    fn close(a: f32, b: f32) -> bool {
        (a - b).abs() < 1e-4
    }

    #[test]
    fn box_faces_and_rotation() {
        let s = scene(
            Shape::Box {
                size: [2.0, 2.0, 2.0],
            },
            Transform::from_xyz(0.0, 0.0, -5.0),
        );
        let (t, n) = hit(&s, Vec3::ZERO, -Vec3::Z).unwrap();
        assert!(close(t, 4.0) && n == Vec3::Z, "{t} {n}");
        assert!(hit(&s, Vec3::new(1.5, 0.0, 0.0), -Vec3::Z).is_none());
        // Rotated 45° about y: the corner points at the viewer, √2 from the centre.
        let r = scene(
            Shape::Box {
                size: [2.0, 2.0, 2.0],
            },
            Transform::from_xyz(0.0, 0.0, -5.0)
                .with_rotation(Quat::from_rotation_y(std::f32::consts::FRAC_PI_4)),
        );
        let (t, _) = hit(&r, Vec3::ZERO, -Vec3::Z).unwrap();
        assert!(close(t, 5.0 - std::f32::consts::SQRT_2), "{t}");
    }

    #[test]
    fn sphere_cylinder_capsule() {
        let sp = scene(
            Shape::Sphere { radius: 1.0 },
            Transform::from_xyz(0.0, 0.0, -5.0),
        );
        let (t, n) = hit(&sp, Vec3::ZERO, -Vec3::Z).unwrap();
        assert!(close(t, 4.0) && (n - Vec3::Z).length() < 1e-5);
        let cy = scene(
            Shape::Cylinder {
                radius: 1.0,
                height: 2.0,
            },
            Transform::from_xyz(0.0, 0.0, -5.0),
        );
        let (t, _) = hit(&cy, Vec3::ZERO, -Vec3::Z).unwrap();
        assert!(close(t, 4.0));
        // From above: the flat cap at y = 1.
        let (t, n) = hit(&cy, Vec3::new(0.0, 5.0, -5.0), -Vec3::Y).unwrap();
        assert!(close(t, 4.0) && n == Vec3::Y);
        // Above the cylinder's top a horizontal ray misses it, but not the capsule's dome.
        assert!(hit(&cy, Vec3::new(0.0, 1.5, 0.0), -Vec3::Z).is_none());
        let cap = scene(
            Shape::Capsule {
                radius: 1.0,
                height: 4.0,
            },
            Transform::from_xyz(0.0, 0.0, -5.0),
        );
        let (t, _) = hit(&cap, Vec3::new(0.0, 1.5, 0.0), -Vec3::Z).unwrap();
        assert!(close(t, 5.0 - (1.0f32 - 0.25).sqrt()), "{t}");
    }

    #[test]
    fn room_walls_floor_and_sky() {
        let room = Room {
            half: [5.0, 5.0],
            wall_height: 2.0,
            floor: [0.5; 3],
            walls: [
                [1.0, 0.0, 0.0],
                [0.0, 1.0, 0.0],
                [0.0, 0.0, 1.0],
                [1.0, 1.0, 0.0],
            ],
        };
        let s = PrimScene::default().with_room(Some(room));
        let eye = Vec3::new(0.0, 1.0, 0.0);
        let north = s.cast_skipping(eye, -Vec3::Z, 100.0, None).unwrap();
        assert!(
            close(north.toi, 5.0) && north.albedo == [1.0, 0.0, 0.0] && north.normal == Vec3::Z
        );
        let east = s.cast_skipping(eye, Vec3::X, 100.0, None).unwrap();
        assert_eq!(east.albedo, [0.0, 1.0, 0.0]);
        let down = s
            .cast_skipping(eye, Vec3::new(0.0, -1.0, -1.0).normalize(), 100.0, None)
            .unwrap();
        assert!(close(down.toi, std::f32::consts::SQRT_2) && down.normal == Vec3::Y);
        // Up and over the wall top: nothing.
        assert!(
            s.cast_skipping(eye, Vec3::new(0.0, 1.0, -1.0).normalize(), 100.0, None)
                .is_none()
        );
        // An object in front of the wall hides it.
        let e = Entity::from_raw_u32(1).unwrap();
        let s2 = PrimScene::new(vec![(
            e,
            Transform::from_xyz(0.0, 1.0, -2.0),
            Shape::Sphere { radius: 0.5 },
            [0.2; 3],
        )])
        .with_room(Some(room));
        assert!(close(
            s2.cast_skipping(eye, -Vec3::Z, 100.0, None).unwrap().toi,
            1.5
        ));
    }

    #[test]
    fn view_keeps_what_is_in_the_cone() {
        let e = |i| Entity::from_raw_u32(i).unwrap();
        let ball = Shape::Sphere { radius: 0.5 };
        let s = PrimScene::new(vec![
            (e(1), Transform::from_xyz(0.0, 0.0, -5.0), ball, [1.0; 3]),
            (e(2), Transform::from_xyz(0.0, 0.0, 5.0), ball, [1.0; 3]),
            (e(3), Transform::from_xyz(5.0, 0.0, -5.1), ball, [1.0; 3]),
            (e(4), Transform::from_xyz(0.0, 0.0, -50.0), ball, [1.0; 3]),
            (e(5), Transform::from_xyz(0.0, 0.0, 0.0), ball, [1.0; 3]),
        ]);
        let v = s.view(
            Vec3::ZERO,
            -Vec3::Z,
            std::f32::consts::FRAC_PI_4,
            20.0,
            Some(e(5)),
        );
        let mut kept: Vec<u32> = v.prims.iter().map(|p| p.owner.index_u32()).collect();
        kept.sort_unstable();
        // Ahead; just inside 45° (its edge is); behind, too far and the viewer's own body: out.
        assert_eq!(kept, vec![1, 3]);
    }

    #[test]
    fn nearest_hit_wins_and_owner_is_skipped() {
        let e1 = Entity::from_raw_u32(1).unwrap();
        let e2 = Entity::from_raw_u32(2).unwrap();
        let s = PrimScene::new(vec![
            (
                e2,
                Transform::from_xyz(0.0, 0.0, -3.0),
                Shape::Sphere { radius: 0.5 },
                [0.0, 1.0, 0.0],
            ),
            (
                e1,
                Transform::from_xyz(0.0, 0.0, -8.0),
                Shape::Sphere { radius: 0.5 },
                [1.0, 0.0, 0.0],
            ),
        ]);
        let h = s.cast_skipping(Vec3::ZERO, -Vec3::Z, 100.0, None).unwrap();
        assert_eq!(h.albedo, [0.0, 1.0, 0.0]);
        let h = s
            .cast_skipping(Vec3::ZERO, -Vec3::Z, 100.0, Some(e2))
            .unwrap();
        assert_eq!(h.albedo, [1.0, 0.0, 0.0]);
        assert!(
            s.cast_skipping(Vec3::ZERO, -Vec3::Z, 5.0, Some(e2))
                .is_none()
        );
    }
}
