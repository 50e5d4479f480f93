//! Seed sets as users write them: `A..B` (half-open, as in Rust), a list `1,5,9`, or one seed.

use std::fmt;
use std::str::FromStr;

/// An ordered set of seeds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seeds(pub Vec<u64>);

/// Why a seed set could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("seeds `{text}`: {why} (write A..B for A, A+1, …, B−1, or a list like 1,5,9)")]
pub struct SeedsError {
    text: String,
    why: String,
}

impl FromStr for Seeds {
    type Err = SeedsError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| SeedsError {
            text: s.to_string(),
            why: why.to_string(),
        };
        let num = |t: &str| {
            t.trim()
                .parse::<u64>()
                .map_err(|_| bad(&format!("`{}` is not a seed", t.trim())))
        };
        let t = s.trim();
        if t.is_empty() {
            return Err(bad("empty"));
        }
        if let Some((a, b)) = t.split_once("..") {
            if b.starts_with('=') {
                return Err(bad("ranges are half-open: A..B, not A..=B"));
            }
            let (a, b) = (num(a)?, num(b)?);
            if b <= a {
                return Err(bad("the range is empty"));
            }
            if b - a > 1_000_000 {
                return Err(bad("more than a million seeds"));
            }
            return Ok(Seeds((a..b).collect()));
        }
        let mut v = Vec::new();
        for part in t.split(',') {
            let x = num(part)?;
            if v.contains(&x) {
                return Err(bad(&format!("{x} is listed twice")));
            }
            v.push(x);
        }
        Ok(Seeds(v))
    }
}

impl fmt::Display for Seeds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = &self.0;
        if v.len() > 1 && v.windows(2).all(|w| w[1] == w[0] + 1) {
            return write!(f, "{}..{}", v[0], v[v.len() - 1] + 1);
        }
        let parts: Vec<String> = v.iter().map(u64::to_string).collect();
        write!(f, "{}", parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_half_open_and_lists_keep_their_order() {
        assert_eq!("0..3".parse::<Seeds>().unwrap().0, [0, 1, 2]);
        assert_eq!("5".parse::<Seeds>().unwrap().0, [5]);
        assert_eq!(" 9, 1,5 ".parse::<Seeds>().unwrap().0, [9, 1, 5]);
        assert_eq!("0..3".parse::<Seeds>().unwrap().to_string(), "0..3");
        assert_eq!("9,1".parse::<Seeds>().unwrap().to_string(), "9,1");
    }

    #[test]
    fn bad_seed_sets_say_why() {
        for (s, why) in [
            ("3..3", "empty"),
            ("0..=2", "half-open"),
            ("a..2", "`a` is not a seed"),
            ("1,x", "`x` is not a seed"),
            ("1,1", "twice"),
            ("", "empty"),
            ("-1", "not a seed"),
        ] {
            let e = s.parse::<Seeds>().unwrap_err().to_string();
            assert!(e.contains(why), "{s}: {e}");
        }
    }
}
