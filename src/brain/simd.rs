//! `Vf`: [`WIDTH`] `f32` lanes with element-wise operators.
//!
//! Each operator is a loop over the lanes that the compiler turns into vector instructions for
//! whatever target features the enclosing function is compiled with (SSE2 by default, AVX2/AVX-512
//! under `#[target_feature]`), so kernels written with it vectorise reliably without `unsafe` or
//! platform intrinsics.

use std::ops::{Add, AddAssign, Div, Mul, MulAssign, Neg, Sub, SubAssign};

/// Lanes per vector.
pub const WIDTH: usize = 16;

/// [`WIDTH`] `f32` lanes.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(transparent)]
pub struct Vf(pub [f32; WIDTH]);

impl Default for Vf {
    fn default() -> Self {
        Vf([0.0; WIDTH])
    }
}

/// [`WIDTH`] lane conditions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(transparent)]
pub struct Vm(pub [bool; WIDTH]);

/// Defines a method `$name` that runs `$generic` (an `#[inline(always)]` method written with
/// [`Vf`] or plain slice loops) compiled for the widest vectors the processor has: AVX-512F,
/// AVX2, or the target's baseline. It also defines the two `#[target_feature]` builds,
/// `$avx512` and `$avx2`, which tests call directly to compare them with `$generic`.
///
/// Every build computes the same IEEE operations in the same order (Rust never fuses
/// multiply–adds on its own), so results are bit-identical across machines.
macro_rules! widest_vectors {
    (
        $(#[$meta:meta])*
        fn $name:ident(&self $(, $arg:ident: $ty:ty)* $(,)?)
            = $generic:ident, $avx512:ident, $avx2:ident;
    ) => {
        $(#[$meta])*
        fn $name(&self $(, $arg: $ty)*) {
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the processor supports AVX-512F (checked just above), the only
                // requirement of calling a function compiled with that target feature.
                #[allow(unsafe_code)]
                unsafe {
                    self.$avx512($($arg),*)
                };
                return;
            }
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: as above, for AVX2.
                #[allow(unsafe_code)]
                unsafe {
                    self.$avx2($($arg),*)
                };
                return;
            }
            self.$generic($($arg),*);
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx512f")]
        fn $avx512(&self $(, $arg: $ty)*) {
            self.$generic($($arg),*);
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2")]
        fn $avx2(&self $(, $arg: $ty)*) {
            self.$generic($($arg),*);
        }
    };
}
pub(crate) use widest_vectors;

macro_rules! lanewise {
    ($a:expr, |$x:ident| $e:expr) => {{
        let a = $a;
        let mut r = [0.0f32; WIDTH];
        for l in 0..WIDTH {
            let $x = a.0[l];
            r[l] = $e;
        }
        Vf(r)
    }};
}

macro_rules! binop {
    ($tr:ident, $f:ident, $op:tt) => {
        impl $tr for Vf {
            type Output = Vf;
            #[inline(always)]
            fn $f(self, b: Vf) -> Vf {
                let mut r = [0.0f32; WIDTH];
                for l in 0..WIDTH {
                    r[l] = self.0[l] $op b.0[l];
                }
                Vf(r)
            }
        }
        impl $tr<f32> for Vf {
            type Output = Vf;
            #[inline(always)]
            fn $f(self, b: f32) -> Vf {
                self $op Vf::splat(b)
            }
        }
        impl $tr<Vf> for f32 {
            type Output = Vf;
            #[inline(always)]
            fn $f(self, b: Vf) -> Vf {
                Vf::splat(self) $op b
            }
        }
    };
}
binop!(Add, add, +);
binop!(Sub, sub, -);
binop!(Mul, mul, *);
binop!(Div, div, /);

impl AddAssign for Vf {
    #[inline(always)]
    fn add_assign(&mut self, b: Vf) {
        *self = *self + b;
    }
}

impl SubAssign for Vf {
    #[inline(always)]
    fn sub_assign(&mut self, b: Vf) {
        *self = *self - b;
    }
}

impl MulAssign<f32> for Vf {
    #[inline(always)]
    fn mul_assign(&mut self, b: f32) {
        *self = *self * b;
    }
}

impl Neg for Vf {
    type Output = Vf;
    #[inline(always)]
    fn neg(self) -> Vf {
        lanewise!(self, |x| -x)
    }
}

macro_rules! cmp {
    ($name:ident, $op:tt) => {
        /// Lane-wise comparison.
        #[inline(always)]
        pub fn $name(self, b: impl Into<Vf>) -> Vm {
            let b = b.into();
            let mut r = [false; WIDTH];
            for l in 0..WIDTH {
                r[l] = self.0[l] $op b.0[l];
            }
            Vm(r)
        }
    };
}

impl From<f32> for Vf {
    #[inline(always)]
    fn from(x: f32) -> Vf {
        Vf::splat(x)
    }
}

impl Vf {
    /// All lanes `x`.
    #[inline(always)]
    pub fn splat(x: f32) -> Vf {
        Vf([x; WIDTH])
    }

    /// Lane-wise minimum (no NaN handling: NaN never reaches the kernels).
    #[inline(always)]
    pub fn min(self, b: impl Into<Vf>) -> Vf {
        let b = b.into();
        let mut r = [0.0f32; WIDTH];
        for l in 0..WIDTH {
            r[l] = if self.0[l] < b.0[l] {
                self.0[l]
            } else {
                b.0[l]
            };
        }
        Vf(r)
    }

    /// Lane-wise maximum.
    #[inline(always)]
    pub fn max(self, b: impl Into<Vf>) -> Vf {
        let b = b.into();
        let mut r = [0.0f32; WIDTH];
        for l in 0..WIDTH {
            r[l] = if self.0[l] > b.0[l] {
                self.0[l]
            } else {
                b.0[l]
            };
        }
        Vf(r)
    }

    /// Clamp to `[lo, hi]`.
    #[inline(always)]
    pub fn clamp(self, lo: f32, hi: f32) -> Vf {
        self.max(lo).min(hi)
    }

    /// Lane-wise absolute value.
    #[inline(always)]
    pub fn abs(self) -> Vf {
        lanewise!(self, |x| x.abs())
    }

    /// Lane-wise [`fast_exp`](super::math::fast_exp), bit for bit (its steps, as whole-vector
    /// operations: a loop over `fast_exp` itself is unrolled before the vectoriser sees it and
    /// came out scalar).
    #[inline(always)]
    pub fn exp(self) -> Vf {
        const LOG2E: f32 = std::f32::consts::LOG2_E;
        const MAGIC: f32 = 12_582_912.0; // 1.5 · 2^23, as in fast_exp
        let t = self.clamp(-87.0, 88.0) * LOG2E;
        let tm = t + MAGIC;
        let n = tm - MAGIC;
        let r = (t - n) * std::f32::consts::LN_2;
        let p = 1.0
            + r * (1.0
                + r * (0.5
                    + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
        let mut scale = [0.0f32; WIDTH];
        for l in 0..WIDTH {
            let ni = (tm.0[l].to_bits() as i32).wrapping_sub(MAGIC.to_bits() as i32);
            scale[l] = f32::from_bits(((ni + 127) << 23) as u32);
        }
        Vf(scale) * p
    }

    cmp!(ne, !=);
    cmp!(lt, <);
    cmp!(le, <=);
    cmp!(gt, >);
    cmp!(ge, >=);
}

impl Vm {
    /// `a` where the condition holds, else `b`.
    #[inline(always)]
    pub fn select(self, a: impl Into<Vf>, b: impl Into<Vf>) -> Vf {
        let (a, b) = (a.into(), b.into());
        let mut r = [0.0f32; WIDTH];
        for l in 0..WIDTH {
            r[l] = if self.0[l] { a.0[l] } else { b.0[l] };
        }
        Vf(r)
    }

    /// Both conditions.
    #[inline(always)]
    pub fn and(self, b: Vm) -> Vm {
        let mut r = [false; WIDTH];
        for l in 0..WIDTH {
            r[l] = self.0[l] & b.0[l];
        }
        Vm(r)
    }

    /// Either condition.
    #[inline(always)]
    pub fn or(self, b: Vm) -> Vm {
        let mut r = [false; WIDTH];
        for l in 0..WIDTH {
            r[l] = self.0[l] | b.0[l];
        }
        Vm(r)
    }

    /// 1.0 where the condition holds, else 0.0.
    #[inline(always)]
    pub fn as_f8(self) -> Vf {
        self.select(1.0, 0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanewise_ops() {
        let mut a = Vf::default();
        for (l, x) in a.0.iter_mut().enumerate() {
            *x = if l % 2 == 0 {
                l as f32 + 1.0
            } else {
                -(l as f32 + 1.0)
            };
        }
        let b = Vf::splat(2.0);
        assert_eq!((a + b).0[1], 0.0);
        assert_eq!((a * b).0[3], -8.0);
        assert_eq!((a / b).0[4], 2.5);
        assert_eq!(a.abs().0[7], 8.0);
        let c = a.clamp(-3.0, 3.0);
        assert_eq!(c.0[..8], [1.0, -2.0, 3.0, -3.0, 3.0, -3.0, 3.0, -3.0]);
        assert_eq!(a.gt(0.0).select(1.0, 0.0).0[..4], [1.0, 0.0, 1.0, 0.0]);
        assert_eq!(a.ne(1.0).select(1.0, 0.0).0[..2], [0.0, 1.0]);
        assert!((Vf::splat(1.0).exp().0[0] - std::f32::consts::E).abs() < 1e-6);
    }

    #[test]
    fn exp_is_fast_exp_bit_for_bit() {
        use crate::brain::math::fast_exp;
        let mut x = -100.0f32;
        while x < 100.0 {
            let mut v = Vf::splat(0.0);
            for (l, a) in v.0.iter_mut().enumerate() {
                *a = x + l as f32 * 0.0011;
            }
            for (a, e) in v.0.iter().zip(v.exp().0) {
                assert_eq!(fast_exp(*a).to_bits(), e.to_bits(), "exp({a})");
            }
            x += 0.0173;
        }
    }
}
