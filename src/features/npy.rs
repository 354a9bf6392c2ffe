//! Reading and writing NumPy `.npy` files of 2-D float arrays.
//!
//! Feature matrices are exchanged with the Python side as `.npy` (rows = frames, columns =
//! coefficients). Only what that needs is supported: little-endian `f4`/`f8`, C order, one or two
//! dimensions; anything else is refused with a message saying what was found.

use std::io::{Read, Write};

use super::FeatureMatrix;

const MAGIC: &[u8] = b"\x93NUMPY";

/// Errors reading or writing `.npy` data.
#[derive(Debug, thiserror::Error)]
pub enum NpyError {
    /// The underlying reader or writer failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The bytes are not an `.npy` array this module can read.
    #[error("not a supported .npy array: {0}")]
    Format(String),
}

/// Writes `matrix` as a little-endian f32 `.npy` array of shape `(rows, cols)`.
pub fn write_f32(matrix: &FeatureMatrix, mut out: impl Write) -> Result<(), NpyError> {
    let dict = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': ({}, {}), }}",
        matrix.rows, matrix.cols
    );
    // Header (magic + version + length + dict + newline) padded to a multiple of 64 bytes.
    let unpadded = MAGIC.len() + 2 + 2 + dict.len() + 1;
    let padding = (64 - unpadded % 64) % 64;
    let header_len = dict.len() + padding + 1;
    let header_len = u16::try_from(header_len)
        .map_err(|_| NpyError::Format("header longer than 65535 bytes".into()))?;
    out.write_all(MAGIC)?;
    out.write_all(&[1, 0])?;
    out.write_all(&header_len.to_le_bytes())?;
    out.write_all(dict.as_bytes())?;
    out.write_all(&vec![b' '; padding])?;
    out.write_all(b"\n")?;
    let mut bytes = Vec::with_capacity(matrix.data.len() * 4);
    for v in &matrix.data {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    out.write_all(&bytes)?;
    Ok(())
}

/// Reads a 1-D or 2-D little-endian `f4` or `f8` array as f32 (a 1-D array becomes one column).
pub fn read_f32(mut input: impl Read) -> Result<FeatureMatrix, NpyError> {
    let mut preamble = [0u8; 8];
    input.read_exact(&mut preamble)?;
    if &preamble[..6] != MAGIC {
        return Err(NpyError::Format("missing \\x93NUMPY magic".into()));
    }
    let header_len = match preamble[6] {
        1 => {
            let mut len = [0u8; 2];
            input.read_exact(&mut len)?;
            usize::from(u16::from_le_bytes(len))
        }
        2 | 3 => {
            let mut len = [0u8; 4];
            input.read_exact(&mut len)?;
            u32::from_le_bytes(len) as usize
        }
        v => return Err(NpyError::Format(format!("unknown version {v}"))),
    };
    let mut header = vec![0u8; header_len];
    input.read_exact(&mut header)?;
    let header = String::from_utf8_lossy(&header);
    let descr = dict_value(&header, "descr")?;
    let width = match descr.trim_matches(|c| c == '\'' || c == '"') {
        "<f4" => 4,
        "<f8" => 8,
        other => return Err(NpyError::Format(format!("dtype {other} (need <f4 or <f8)"))),
    };
    if dict_value(&header, "fortran_order")?.trim() != "False" {
        return Err(NpyError::Format(
            "Fortran-ordered arrays are not supported".into(),
        ));
    }
    let shape = dict_value(&header, "shape")?;
    let dims: Vec<usize> = shape
        .trim_matches(|c| c == '(' || c == ')')
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse()
                .map_err(|_| NpyError::Format(format!("bad shape {shape}")))
        })
        .collect::<Result<_, _>>()?;
    let (rows, cols) = match dims.as_slice() {
        [n] => (*n, 1),
        [r, c] => (*r, *c),
        _ => return Err(NpyError::Format(format!("{}-D array", dims.len()))),
    };
    let mut raw = vec![0u8; rows * cols * width];
    input.read_exact(&mut raw)?;
    let data = if width == 4 {
        raw.chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    } else {
        raw.chunks_exact(8)
            .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32)
            .collect()
    };
    Ok(FeatureMatrix { data, rows, cols })
}

/// Extracts the raw text of `key`'s value from the header's Python dict literal.
fn dict_value<'a>(header: &'a str, key: &str) -> Result<&'a str, NpyError> {
    let missing = || NpyError::Format(format!("header lacks '{key}'"));
    let at = header
        .find(&format!("'{key}'"))
        .or_else(|| header.find(&format!("\"{key}\"")))
        .ok_or_else(missing)?;
    let rest = &header[at + key.len() + 2..];
    let rest = rest
        .trim_start()
        .strip_prefix(':')
        .ok_or_else(missing)?
        .trim_start();
    let end = if rest.starts_with('(') {
        rest.find(')').map(|i| i + 1)
    } else {
        rest.find([',', '}'])
    }
    .ok_or_else(missing)?;
    Ok(&rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let m = FeatureMatrix {
            data: vec![1.0, -2.5, 3.25, 0.0, f32::MIN_POSITIVE, 7.0],
            rows: 3,
            cols: 2,
        };
        let mut bytes = Vec::new();
        write_f32(&m, &mut bytes).unwrap();
        assert_eq!((bytes.len() - 24) % 64, 0, "header is padded to 64 bytes");
        let back = read_f32(bytes.as_slice()).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn empty_matrix_round_trips() {
        let m = FeatureMatrix {
            data: vec![],
            rows: 0,
            cols: 13,
        };
        let mut bytes = Vec::new();
        write_f32(&m, &mut bytes).unwrap();
        assert_eq!(read_f32(bytes.as_slice()).unwrap(), m);
    }

    #[test]
    fn refuses_other_arrays() {
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        let dict = "{'descr': '<i2', 'fortran_order': False, 'shape': (2,), }\n";
        bytes.extend_from_slice(&(dict.len() as u16).to_le_bytes());
        bytes.extend_from_slice(dict.as_bytes());
        bytes.extend_from_slice(&[0; 4]);
        let err = read_f32(bytes.as_slice()).unwrap_err().to_string();
        assert!(err.contains("<i2"), "{err}");
        assert!(read_f32(&b"not numpy"[..]).is_err());
    }
}
