//! The framing every saved thing shares: eight magic bytes naming what it is, a little-endian
//! `u32` format version, then a postcard body. A file of another kind, or of a format this
//! build does not read, is refused with a reason instead of being misread.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A kind of saved bytes: its magic and the format version this build writes and reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Format {
    /// Eight bytes naming the kind, e.g. `THETANET`.
    pub magic: &'static [u8; 8],
    /// Format version.
    pub version: u32,
}

impl Format {
    /// `value` framed: magic, version, postcard body.
    pub fn encode<T: Serialize>(&self, value: &T) -> Result<Vec<u8>, String> {
        let mut out = Vec::with_capacity(1 << 12);
        out.extend_from_slice(self.magic);
        out.extend_from_slice(&self.version.to_le_bytes());
        postcard::to_extend(value, out).map_err(|e| e.to_string())
    }

    /// The value framed in `bytes`, or why it cannot be read.
    pub fn decode<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, String> {
        if bytes.len() < 12 || &bytes[..8] != self.magic {
            return Err(format!(
                "missing {} header",
                String::from_utf8_lossy(self.magic)
            ));
        }
        let v = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        if v != self.version {
            return Err(format!(
                "format version {v}, this build reads {}",
                self.version
            ));
        }
        postcard::from_bytes(&bytes[12..]).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Format = Format {
        magic: b"THETA_A_",
        version: 2,
    };

    #[test]
    fn frames_round_trip_and_refuse_other_kinds() {
        let bytes = A.encode(&(7u32, vec![1.5f32, -2.0])).unwrap();
        assert_eq!(&bytes[..8], b"THETA_A_");
        let back: (u32, Vec<f32>) = A.decode(&bytes).unwrap();
        assert_eq!(back, (7, vec![1.5, -2.0]));
        let other = Format {
            magic: b"THETA_B_",
            version: 2,
        };
        let e = other.decode::<(u32, Vec<f32>)>(&bytes).unwrap_err();
        assert!(e.contains("missing THETA_B_ header"), "{e}");
        let newer = Format {
            magic: b"THETA_A_",
            version: 3,
        };
        let e = newer.decode::<(u32, Vec<f32>)>(&bytes).unwrap_err();
        assert!(e.contains("format version 2, this build reads 3"), "{e}");
        assert!(A.decode::<(u32, Vec<f32>)>(&bytes[..11]).is_err());
    }
}
