//! Small standard tasks for testing learners: the Reber grammar and random associations.

use rand::Rng;
use rand::seq::SliceRandom;

/// The seven symbols of the Reber grammar, in unit order.
pub const REBER_SYMBOLS: [char; 7] = ['B', 'T', 'S', 'X', 'V', 'P', 'E'];

/// Transitions of the Reber grammar: from a state, the two (symbol, next state) choices.
/// State 6 is "after B", state 7 the end.
const REBER: [[(usize, usize); 2]; 6] = [
    [(1, 1), (5, 2)], // s0: T→s1, P→s2
    [(2, 1), (3, 3)], // s1: S→s1, X→s3
    [(1, 2), (4, 4)], // s2: T→s2, V→s4
    [(3, 2), (2, 5)], // s3: X→s2, S→s5
    [(5, 3), (4, 5)], // s4: P→s3, V→s5
    [(6, 7), (6, 7)], // s5: E→end
];

/// One Reber string as (symbol index, valid successor symbols) pairs; the last element is E
/// with no successors.
pub fn reber_sequence(rng: &mut impl Rng) -> Vec<(usize, Vec<usize>)> {
    let mut out = vec![(0usize, vec![1usize, 5])]; // B, then T or P
    let mut state = 0usize;
    loop {
        let (sym, next) = REBER[state][rng.random_range(0..2)];
        let succ = if next == 7 {
            Vec::new()
        } else {
            let mut s: Vec<usize> = REBER[next].iter().map(|t| t.0).collect();
            s.dedup();
            s
        };
        out.push((sym, succ));
        if next == 7 {
            return out;
        }
        state = next;
    }
}

/// `n` random binary patterns of `size` units with `on` units active each, all distinct.
pub fn random_patterns(n: usize, size: usize, on: usize, rng: &mut impl Rng) -> Vec<Vec<f32>> {
    let mut out: Vec<Vec<f32>> = Vec::with_capacity(n);
    let mut idx: Vec<usize> = (0..size).collect();
    while out.len() < n {
        idx.shuffle(rng);
        let mut p = vec![0.0; size];
        for &i in &idx[..on] {
            p[i] = 1.0;
        }
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

/// Indices of the `k` largest values (ties broken by lower index).
pub fn top_k(xs: &[f32], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..xs.len()).collect();
    idx.sort_by(|&a, &b| xs[b].total_cmp(&xs[a]).then(a.cmp(&b)));
    idx.truncate(k);
    idx.sort_unstable();
    idx
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn reber_strings_are_grammatical() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..200 {
            let s = reber_sequence(&mut rng);
            assert_eq!(s[0].0, 0);
            assert_eq!(s.last().unwrap().0, 6);
            for w in s.windows(2) {
                assert!(w[0].1.contains(&w[1].0), "{s:?}");
            }
        }
    }

    #[test]
    fn patterns_are_distinct_with_k_on() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let p = random_patterns(25, 25, 6, &mut rng);
        assert_eq!(p.len(), 25);
        assert!(p.iter().all(|x| x.iter().sum::<f32>() == 6.0));
        assert_eq!(top_k(&[0.1, 0.9, 0.5, 0.9], 2), vec![1, 3]);
    }
}
