//! Arithmetic that gives Python's bits: `round(x, 4)`, libm's `exp`/`pow`, float sums in dict order.

use std::cmp::Ordering;

extern "C" {
    // libm's, which math.exp and float ** call: the same bits as the Python path.
    #[link_name = "exp"]
    fn libm_exp(x: f64) -> f64;
    #[link_name = "pow"]
    fn libm_pow(x: f64, y: f64) -> f64;
}

/// `math.exp(x)`: Rust's `f64::exp` may come from another implementation (or be folded by LLVM).
pub fn exp(x: f64) -> f64 {
    // SAFETY: a pure libm function.
    unsafe { libm_exp(x) }
}

/// `x ** y` for floats, as CPython computes it.
pub fn pow(x: f64, y: f64) -> f64 {
    // SAFETY: a pure libm function.
    unsafe { libm_pow(x, y) }
}

/// `round(x, 4)` as Python computes it: the double nearest to the decimal that `x` rounds to, to
/// 4 places, ties to even on the exact binary value. `x * 1e4` is split into its rounded product
/// and the exact error (an FMA), which decides the rare cases the rounded product gets wrong.
pub fn round4(x: f64) -> f64 {
    if !x.is_finite() {
        return x;
    }
    let p = x * 10000.0;
    let err = 10000.0f64.mul_add(x, -p); // x * 1e4 == p + err exactly
    let low = p.floor();
    let d = (p - low) - 0.5; // exact: p and low are close, 0.5 is representable
    let up = if d != 0.0 {
        d > 0.0
    } else if err != 0.0 {
        err > 0.0
    } else {
        low % 2.0 != 0.0 // a true tie: to even
    };
    let n = if up { low + 1.0 } else { low };
    let r = n / 10000.0; // both exact: one correctly rounded division, as strtod gives
    if r == 0.0 {
        0.0f64.copysign(x)
    } else {
        r
    }
}

/// Python's `max(a, b)`: the first argument on a tie (it matters for -0.0).
pub fn py_max(a: f64, b: f64) -> f64 {
    if b > a {
        b
    } else {
        a
    }
}

/// Python's `<` on floats, as a sort order (no NaN reaches a sort here).
pub trait PyOrder {
    fn total_cmp_py(self, other: f64) -> Ordering;
}

impl PyOrder for f64 {
    fn total_cmp_py(self, other: f64) -> Ordering {
        self.partial_cmp(&other).unwrap_or(Ordering::Equal)
    }
}

/// A dict of counts that remembers first insertion, as Python's does: float sums over it then
/// follow the order the Python path adds them in.
pub struct Counts {
    slot: Vec<u32>,
    pub items: Vec<(usize, f64)>,
}

impl Counts {
    pub fn new(size: usize) -> Self {
        Counts { slot: vec![u32::MAX; size], items: Vec::new() }
    }

    /// `counts[key] = counts.get(key, 0.0) + value`
    pub fn add(&mut self, key: usize, value: f64) {
        match self.slot[key] {
            u32::MAX => {
                self.slot[key] = self.items.len() as u32;
                self.items.push((key, 0.0 + value));
            }
            at => self.items[at as usize].1 += value,
        }
    }

    /// Where `key` is in `items`, if it was ever added.
    pub fn index(&self, key: usize) -> Option<usize> {
        match self.slot[key] {
            u32::MAX => None,
            at => Some(at as usize),
        }
    }

    pub fn get(&self, key: usize) -> Option<f64> {
        match self.slot[key] {
            u32::MAX => None,
            at => Some(self.items[at as usize].1),
        }
    }
}
