//! The cortex as a [`Learner`]: a deep predictive [`Network`] seen through frames.
//!
//! Frame t drives the input layer and the action its one-hot layer through the minus phase;
//! the pulvinar's minus-phase activity is the prediction, read back as pixel values by a
//! [`MonotoneDecoder`]. In the plus phase frame t+1 drives the pulvinar (and, by default, the
//! input layer), the decoder calibrates on that activity, and the network learns.

use serde::{Deserialize, Serialize};

use super::decoder::MonotoneDecoder;
use super::error::{BrainError, Result};
use super::learner::{Cue, Learner};
use super::network::Network;

/// Framing of saved cortices: the network's own bytes and the decoder.
const FORMAT: super::framing::Format = super::framing::Format {
    magic: b"THETACTX",
    version: 1,
};

/// Which layers of the network play which part.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CortexLayers {
    /// The driver (input) layer shown frame t.
    pub input: String,
    /// The action (efference copy) layer.
    pub action: String,
    /// The pulvinar, whose minus phase is the prediction.
    pub pulvinar: String,
    /// Extra input layers for the senses, in the order of [`Cue::senses`].
    pub senses: Vec<String>,
}

/// A cortical learner.
#[derive(Clone, Debug)]
pub struct Cortex {
    net: Network,
    layers: CortexLayers,
    input: usize,
    action: usize,
    pulvinar: usize,
    /// Sense layers with their sizes.
    senses: Vec<(usize, usize)>,
    /// The input layer also shows the outcome in the plus phase.
    outcome_to_input: bool,
    /// Frame index of each input unit.
    perm: Vec<usize>,
    decoder: MonotoneDecoder,
    /// Scratch: a frame in input order.
    staged: Vec<f32>,
    /// The pulvinar's minus-phase activity in frame order.
    pred_act: Vec<f32>,
    /// The prediction in frame space.
    prediction: Vec<f32>,
}

impl Cortex {
    /// A learner over `net`: `perm[k]` is the frame index of input unit `k` (the pulvinar has
    /// the input's layout).
    pub fn new(
        net: Network,
        layers: CortexLayers,
        perm: Vec<usize>,
        outcome_to_input: bool,
    ) -> Result<Self> {
        let n = perm.len();
        Self::with_decoder(net, layers, perm, outcome_to_input, MonotoneDecoder::new(n))
    }

    fn with_decoder(
        net: Network,
        layers: CortexLayers,
        perm: Vec<usize>,
        outcome_to_input: bool,
        decoder: MonotoneDecoder,
    ) -> Result<Self> {
        let input = net.layer_index(&layers.input)?;
        let action = net.layer_index(&layers.action)?;
        let pulvinar = net.layer_index(&layers.pulvinar)?;
        let mut senses = Vec::new();
        for s in &layers.senses {
            let i = net.layer_index(s)?;
            senses.push((i, net.spec().layers[i].shape.len()));
        }
        let n = perm.len();
        for (what, li) in [("input", input), ("pulvinar", pulvinar)] {
            let len = net.spec().layers[li].shape.len();
            if len != n {
                return Err(BrainError::Shape {
                    what: format!("cortex {what} layer for the frame"),
                    expected: n,
                    got: len,
                });
            }
        }
        if decoder.units() != n {
            return Err(BrainError::Shape {
                what: "cortex decoder".into(),
                expected: n,
                got: decoder.units(),
            });
        }
        Ok(Self {
            net,
            layers,
            input,
            action,
            pulvinar,
            senses,
            outcome_to_input,
            perm,
            decoder,
            staged: vec![0.0; n],
            pred_act: vec![0.0; n],
            prediction: vec![0.0; n],
        })
    }

    /// Which layers play which part.
    pub fn layers(&self) -> &CortexLayers {
        &self.layers
    }

    /// The network.
    pub fn network(&self) -> &Network {
        &self.net
    }

    /// The activity-to-pixel map.
    pub fn decoder(&self) -> &MonotoneDecoder {
        &self.decoder
    }

    /// Index of the pulvinar layer.
    pub fn pulvinar(&self) -> usize {
        self.pulvinar
    }

    /// The pulvinar's minus-phase activity of the latest prediction, in frame order.
    pub fn prediction_activity(&self) -> &[f32] {
        &self.pred_act
    }

    /// Replaces network and decoder by saved ones, if their layers fit this learner's.
    pub fn replace(&mut self, net: Network, decoder: MonotoneDecoder) -> Result<()> {
        let layout = |n: &Network| {
            n.spec()
                .layers
                .iter()
                .map(|l| (l.name.clone(), l.shape))
                .collect::<Vec<_>>()
        };
        if layout(&net) != layout(&self.net) {
            let what = |n: &Network| {
                n.spec()
                    .layers
                    .iter()
                    .map(|l| format!("{} {}", l.name, l.shape.len()))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Err(BrainError::Order(format!(
                "the saved network does not fit (saved: {}; this agent: {})",
                what(&net),
                what(&self.net)
            )));
        }
        if decoder.units() != self.decoder.units() {
            return Err(BrainError::Order(format!(
                "the saved decoder reads {} units, this agent's pulvinar has {}",
                decoder.units(),
                self.decoder.units()
            )));
        }
        self.net = net;
        self.decoder = decoder;
        Ok(())
    }

    /// Reads bytes written by [`Learner::to_bytes`] into a learner shaped like this one.
    pub fn restore_bytes(&mut self, bytes: &[u8], origin: &str) -> Result<()> {
        let dec = |reason: String| BrainError::Decode {
            path: origin.to_string(),
            reason,
        };
        let (net, decoder): (Vec<u8>, MonotoneDecoder) = FORMAT.decode(bytes).map_err(dec)?;
        let net = Network::from_bytes(&net, origin)?;
        self.replace(net, decoder).map_err(|e| dec(e.to_string()))
    }

    fn stage(&mut self, frame: &[f32]) -> Result<()> {
        if frame.len() != self.perm.len() {
            return Err(BrainError::Shape {
                what: "cortex frame".into(),
                expected: self.perm.len(),
                got: frame.len(),
            });
        }
        for (s, &f) in self.staged.iter_mut().zip(&self.perm) {
            *s = frame[f];
        }
        Ok(())
    }
}

impl Learner for Cortex {
    fn kind(&self) -> &'static str {
        "cortex"
    }

    fn predict(&mut self, cue: &Cue) -> Result<&[f32]> {
        let want: usize = self.senses.iter().map(|s| s.1).sum();
        if cue.senses.len() != want {
            return Err(BrainError::Shape {
                what: "cortex senses".into(),
                expected: want,
                got: cue.senses.len(),
            });
        }
        self.net.start_theta()?;
        self.stage(cue.frame)?;
        self.net.set_input(self.input, &self.staged)?;
        let units = self.net.spec().layers[self.action].shape.len();
        let mut act = vec![0.0f32; units];
        act[cue.action.min(units - 1)] = 1.0;
        self.net.set_input(self.action, &act)?;
        let mut at = 0;
        for &(layer, len) in &self.senses {
            self.net.set_input(layer, &cue.senses[at..at + len])?;
            at += len;
        }
        self.net.run_minus()?;
        let pred = self.net.prediction(self.pulvinar);
        let decoded = self.decoder.decode(pred);
        for (k, &f) in self.perm.iter().enumerate() {
            self.pred_act[f] = pred[k];
            self.prediction[f] = decoded[k];
        }
        Ok(&self.prediction)
    }

    fn outcome(&mut self, frame: &[f32]) -> Result<()> {
        self.stage(frame)?;
        if self.outcome_to_input {
            self.net.set_input(self.input, &self.staged)?;
        }
        self.net.apply_outcome(self.input, &self.staged)?;
        self.net.run_plus()?;
        self.decoder
            .observe(self.net.outcome_activity(self.pulvinar), &self.staged);
        Ok(())
    }

    fn learn(&mut self, learn: bool) -> Result<()> {
        if learn {
            self.net.learn()
        } else {
            self.net.skip_learning()
        }
    }

    fn to_bytes(&self) -> Result<Vec<u8>> {
        FORMAT
            .encode(&(self.net.to_bytes()?, &self.decoder))
            .map_err(|reason| BrainError::Decode {
                path: "cortex learner".into(),
                reason,
            })
    }
}
