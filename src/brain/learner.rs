//! What every learner does each theta cycle: predict the next frame from the current one and
//! the action, then take the outcome and learn. The simulation drives brains only through
//! [`Learner`], so any learner can sit in any agent.

use super::backprop::{BackpropParams, Srn};
use super::error::{BrainError, Result};

/// What a learner is shown at the start of a theta cycle.
#[derive(Clone, Copy, Debug)]
pub struct Cue<'a> {
    /// Frame t in frame order (channel planes, row-major), values in [0, 1].
    pub frame: &'a [f32],
    /// Index of the action about to be taken (the efference copy).
    pub action: usize,
    /// Body senses (vestibular, touch) concatenated; empty without them.
    pub senses: &'a [f32],
}

/// Object plumbing every cloneable learner gets from a blanket impl.
pub trait LearnerObject {
    /// An independent copy (for what-if predictions that must not touch the learner).
    fn clone_box(&self) -> Box<dyn Learner>;

    /// The concrete learner, for code that needs one kind (a cortex's layers, say).
    fn as_any(&self) -> &dyn std::any::Any;

    /// The concrete learner, mutably.
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any;
}

impl<T: Learner + Clone + 'static> LearnerObject for T {
    fn clone_box(&self) -> Box<dyn Learner> {
        Box::new(self.clone())
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}

/// A next-frame learner, driven once per theta cycle: [`Self::predict`] (the minus phase),
/// [`Self::outcome`] (the plus phase), [`Self::learn`].
pub trait Learner: LearnerObject + Send + Sync {
    /// Short name for reports: `cortex`, `backprop`, `copy`.
    fn kind(&self) -> &'static str;

    /// Predicts frame t+1 in frame order, before the outcome exists.
    fn predict(&mut self, cue: &Cue) -> Result<&[f32]>;

    /// Shows the outcome (frame t+1).
    fn outcome(&mut self, frame: &[f32]) -> Result<()>;

    /// Learns from the cycle's prediction and outcome, or (`learn` false) closes the cycle
    /// without changing weights, for fixed brains.
    fn learn(&mut self, learn: bool) -> Result<()>;

    /// Everything needed to continue later, as bytes.
    fn to_bytes(&self) -> Result<Vec<u8>>;
}

/// Predicts that nothing changes: frame t+1 = frame t. The baseline every metric's skill is
/// measured against.
#[derive(Clone, Debug, Default)]
pub struct CopyLast {
    pred: Vec<f32>,
}

impl Learner for CopyLast {
    fn kind(&self) -> &'static str {
        "copy"
    }

    fn predict(&mut self, cue: &Cue) -> Result<&[f32]> {
        self.pred.clear();
        self.pred.extend_from_slice(cue.frame);
        Ok(&self.pred)
    }

    fn outcome(&mut self, _frame: &[f32]) -> Result<()> {
        Ok(())
    }

    fn learn(&mut self, _learn: bool) -> Result<()> {
        Ok(())
    }

    fn to_bytes(&self) -> Result<Vec<u8>> {
        Ok(Vec::new())
    }
}

/// The backprop baseline on frames: an [`Srn`] whose input is frame t, a one-hot action and
/// the senses, and whose output is frame t+1 in the same layout.
#[derive(Clone, Debug)]
pub struct Backprop {
    net: Srn,
    frame_len: usize,
    actions: usize,
    senses: usize,
    x: Vec<f32>,
    /// The outcome of the cycle, until it is learned.
    target: Option<Vec<f32>>,
}

impl Backprop {
    /// A learner for frames of `frame_len` values, `actions` possible actions and `senses`
    /// extra values.
    pub fn new(
        frame_len: usize,
        actions: usize,
        senses: usize,
        params: BackpropParams,
        seed: u64,
    ) -> Result<Self> {
        let n_in = frame_len + actions + senses;
        Ok(Self {
            net: Srn::new(n_in, frame_len, params, seed)?,
            frame_len,
            actions,
            senses,
            x: vec![0.0; n_in],
            target: None,
        })
    }

    /// Reads a learner written by [`Learner::to_bytes`], checking it fits these sizes.
    pub fn from_bytes(
        bytes: &[u8],
        origin: &str,
        frame_len: usize,
        actions: usize,
        senses: usize,
    ) -> Result<Self> {
        let net = Srn::from_bytes(bytes, origin)?;
        let n_in = frame_len + actions + senses;
        if net.inputs() != n_in || net.outputs() != frame_len {
            return Err(BrainError::Decode {
                path: origin.into(),
                reason: format!(
                    "a backprop learner of {} inputs and {} outputs; this agent needs {n_in} and \
                     {frame_len}",
                    net.inputs(),
                    net.outputs()
                ),
            });
        }
        Ok(Self {
            net,
            frame_len,
            actions,
            senses,
            x: vec![0.0; n_in],
            target: None,
        })
    }

    /// The network.
    pub fn net(&self) -> &Srn {
        &self.net
    }
}

impl Learner for Backprop {
    fn kind(&self) -> &'static str {
        "backprop"
    }

    fn predict(&mut self, cue: &Cue) -> Result<&[f32]> {
        for (what, got, expected) in [
            ("frame", cue.frame.len(), self.frame_len),
            ("senses", cue.senses.len(), self.senses),
        ] {
            if got != expected {
                return Err(BrainError::Shape {
                    what: format!("backprop {what}"),
                    expected,
                    got,
                });
            }
        }
        if cue.action >= self.actions {
            return Err(BrainError::Shape {
                what: "backprop action index".into(),
                expected: self.actions,
                got: cue.action + 1,
            });
        }
        let (f, rest) = self.x.split_at_mut(self.frame_len);
        f.copy_from_slice(cue.frame);
        let (a, s) = rest.split_at_mut(self.actions);
        a.iter_mut().for_each(|v| *v = 0.0);
        a[cue.action] = 1.0;
        s.copy_from_slice(cue.senses);
        self.net.predict(&self.x)
    }

    fn outcome(&mut self, frame: &[f32]) -> Result<()> {
        if frame.len() != self.frame_len {
            return Err(BrainError::Shape {
                what: "backprop outcome".into(),
                expected: self.frame_len,
                got: frame.len(),
            });
        }
        self.target = Some(frame.to_vec());
        Ok(())
    }

    fn learn(&mut self, learn: bool) -> Result<()> {
        match self.target.take() {
            Some(t) if learn => self.net.learn(&t).map(|_| ()),
            Some(_) => Ok(()),
            None => Err(BrainError::Order("learn before outcome".into())),
        }
    }

    fn to_bytes(&self) -> Result<Vec<u8>> {
        self.net.to_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::brain::math::mse;

    /// A bar one pixel wide moving one pixel per step in the direction of the action
    /// (0: right, 1: left), wrapping around a 12-pixel line.
    fn bar_stream(steps: usize) -> Vec<(Vec<f32>, usize)> {
        let mut pos = 3usize;
        let mut out = Vec::new();
        for k in 0..steps {
            let mut f = vec![0.0; 12];
            f[pos] = 1.0;
            let action = usize::from((k / 7) % 2 == 1);
            out.push((f, action));
            pos = if action == 0 {
                (pos + 1) % 12
            } else {
                (pos + 11) % 12
            };
        }
        out
    }

    /// Mean error of each learner over the last 100 of 1500 steps.
    fn late_error(l: &mut dyn Learner) -> f64 {
        let s = bar_stream(1501);
        let mut errs = Vec::new();
        for w in s.windows(2) {
            let cue = Cue {
                frame: &w[0].0,
                action: w[0].1,
                senses: &[],
            };
            let p = l.predict(&cue).unwrap().to_vec();
            errs.push(mse(&p, &w[1].0));
            l.outcome(&w[1].0).unwrap();
            l.learn(true).unwrap();
        }
        errs[errs.len() - 100..].iter().sum::<f64>() / 100.0
    }

    #[test]
    fn backprop_learns_where_the_action_moves_the_bar() {
        let p = BackpropParams {
            hidden: 24,
            lrate: 0.01,
            ..Default::default()
        };
        let mut bp = Backprop::new(12, 2, 0, p, 1).unwrap();
        let copy = late_error(&mut CopyLast::default());
        let learned = late_error(&mut bp);
        // Copying errs on two pixels of twelve every step: 2/12.
        assert!((copy - 2.0 / 12.0).abs() < 1e-9, "{copy}");
        assert!(learned < 0.1 * copy, "backprop {learned} vs copy {copy}");
    }

    #[test]
    fn wrong_sizes_are_errors() {
        let mut bp = Backprop::new(4, 2, 1, BackpropParams::default(), 0).unwrap();
        let f = [0.0; 4];
        let cue = |frame: &'static [f32], action, senses: &'static [f32]| Cue {
            frame,
            action,
            senses,
        };
        assert!(bp.predict(&cue(&[0.0; 3], 0, &[0.0])).is_err());
        assert!(bp.predict(&cue(&[0.0; 4], 2, &[0.0])).is_err());
        assert!(bp.predict(&cue(&[0.0; 4], 1, &[])).is_err());
        assert!(
            bp.predict(&Cue {
                frame: &f,
                action: 1,
                senses: &[0.5]
            })
            .is_ok()
        );
        let bytes = bp.to_bytes().unwrap();
        assert!(Backprop::from_bytes(&bytes, "b", 4, 2, 1).is_ok());
        let e = Backprop::from_bytes(&bytes, "b", 5, 2, 1).unwrap_err();
        assert!(e.to_string().contains("this agent needs 8"), "{e}");
    }
}
