//! `F8`: eight `f32` lanes with element-wise operators.
//!
//! Each operator is a loop over 8 lanes that the compiler turns into vector instructions for
//! whatever target features the enclosing function is compiled with (SSE2 by default, AVX2/AVX-512
//! under `#[target_feature]`), so kernels written with it vectorise reliably without `unsafe` or
//! platform intrinsics.

use std::ops::{Add, AddAssign, Div, Mul, MulAssign, Neg, Sub, SubAssign};

use super::math::fast_exp;

/// Eight `f32` lanes.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[repr(transparent)]
pub struct F8(pub [f32; 8]);

/// Eight lane conditions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(transparent)]
pub struct M8(pub [bool; 8]);

macro_rules! lanewise {
    ($a:expr, |$x:ident| $e:expr) => {{
        let a = $a;
        let mut r = [0.0f32; 8];
        for l in 0..8 {
            let $x = a.0[l];
            r[l] = $e;
        }
        F8(r)
    }};
}

macro_rules! binop {
    ($tr:ident, $f:ident, $op:tt) => {
        impl $tr for F8 {
            type Output = F8;
            #[inline(always)]
            fn $f(self, b: F8) -> F8 {
                let mut r = [0.0f32; 8];
                for l in 0..8 {
                    r[l] = self.0[l] $op b.0[l];
                }
                F8(r)
            }
        }
        impl $tr<f32> for F8 {
            type Output = F8;
            #[inline(always)]
            fn $f(self, b: f32) -> F8 {
                self $op F8::splat(b)
            }
        }
        impl $tr<F8> for f32 {
            type Output = F8;
            #[inline(always)]
            fn $f(self, b: F8) -> F8 {
                F8::splat(self) $op b
            }
        }
    };
}
binop!(Add, add, +);
binop!(Sub, sub, -);
binop!(Mul, mul, *);
binop!(Div, div, /);

impl AddAssign for F8 {
    #[inline(always)]
    fn add_assign(&mut self, b: F8) {
        *self = *self + b;
    }
}

impl SubAssign for F8 {
    #[inline(always)]
    fn sub_assign(&mut self, b: F8) {
        *self = *self - b;
    }
}

impl MulAssign<f32> for F8 {
    #[inline(always)]
    fn mul_assign(&mut self, b: f32) {
        *self = *self * b;
    }
}

impl Neg for F8 {
    type Output = F8;
    #[inline(always)]
    fn neg(self) -> F8 {
        lanewise!(self, |x| -x)
    }
}

macro_rules! cmp {
    ($name:ident, $op:tt) => {
        /// Lane-wise comparison.
        #[inline(always)]
        pub fn $name(self, b: impl Into<F8>) -> M8 {
            let b = b.into();
            let mut r = [false; 8];
            for l in 0..8 {
                r[l] = self.0[l] $op b.0[l];
            }
            M8(r)
        }
    };
}

impl From<f32> for F8 {
    #[inline(always)]
    fn from(x: f32) -> F8 {
        F8::splat(x)
    }
}

impl F8 {
    /// All lanes `x`.
    #[inline(always)]
    pub fn splat(x: f32) -> F8 {
        F8([x; 8])
    }

    /// Lane-wise minimum (no NaN handling: NaN never reaches the kernels).
    #[inline(always)]
    pub fn min(self, b: impl Into<F8>) -> F8 {
        let b = b.into();
        let mut r = [0.0f32; 8];
        for l in 0..8 {
            r[l] = if self.0[l] < b.0[l] {
                self.0[l]
            } else {
                b.0[l]
            };
        }
        F8(r)
    }

    /// Lane-wise maximum.
    #[inline(always)]
    pub fn max(self, b: impl Into<F8>) -> F8 {
        let b = b.into();
        let mut r = [0.0f32; 8];
        for l in 0..8 {
            r[l] = if self.0[l] > b.0[l] {
                self.0[l]
            } else {
                b.0[l]
            };
        }
        F8(r)
    }

    /// Clamp to `[lo, hi]`.
    #[inline(always)]
    pub fn clamp(self, lo: f32, hi: f32) -> F8 {
        self.max(lo).min(hi)
    }

    /// Lane-wise absolute value.
    #[inline(always)]
    pub fn abs(self) -> F8 {
        lanewise!(self, |x| x.abs())
    }

    /// Lane-wise [`fast_exp`].
    #[inline(always)]
    pub fn exp(self) -> F8 {
        lanewise!(self, |x| fast_exp(x))
    }

    cmp!(lt, <);
    cmp!(le, <=);
    cmp!(gt, >);
    cmp!(ge, >=);
}

impl M8 {
    /// `a` where the condition holds, else `b`.
    #[inline(always)]
    pub fn select(self, a: impl Into<F8>, b: impl Into<F8>) -> F8 {
        let (a, b) = (a.into(), b.into());
        let mut r = [0.0f32; 8];
        for l in 0..8 {
            r[l] = if self.0[l] { a.0[l] } else { b.0[l] };
        }
        F8(r)
    }

    /// Both conditions.
    #[inline(always)]
    pub fn and(self, b: M8) -> M8 {
        let mut r = [false; 8];
        for l in 0..8 {
            r[l] = self.0[l] & b.0[l];
        }
        M8(r)
    }

    /// Either condition.
    #[inline(always)]
    pub fn or(self, b: M8) -> M8 {
        let mut r = [false; 8];
        for l in 0..8 {
            r[l] = self.0[l] | b.0[l];
        }
        M8(r)
    }

    /// 1.0 where the condition holds, else 0.0.
    #[inline(always)]
    pub fn as_f8(self) -> F8 {
        self.select(1.0, 0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanewise_ops() {
        let a = F8([1.0, -2.0, 3.0, -4.0, 5.0, -6.0, 7.0, -8.0]);
        let b = F8::splat(2.0);
        assert_eq!((a + b).0[1], 0.0);
        assert_eq!((a * b).0[3], -8.0);
        assert_eq!((a / b).0[4], 2.5);
        assert_eq!(a.abs().0[7], 8.0);
        assert_eq!(
            a.clamp(-3.0, 3.0).0,
            [1.0, -2.0, 3.0, -3.0, 3.0, -3.0, 3.0, -3.0]
        );
        let m = a.gt(0.0);
        assert_eq!(
            m.select(1.0, 0.0).0,
            [1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0]
        );
        assert!((F8::splat(1.0).exp().0[0] - std::f32::consts::E).abs() < 1e-6);
    }
}
