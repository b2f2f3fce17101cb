//! Byte codecs for the wire layout of `automl:plugins@0.1.0`: little-endian numbers,
//! one byte per boolean, Arrow-style validity bitmaps.
//!
//! [`Table`](crate::Table), [`Column`](crate::Column) and
//! [`Predictions`](crate::Predictions) use these already; they are public for plugins
//! that keep numbers in their own state bytes. Decoders never panic: a buffer whose
//! length is not a whole number of values is an `Err`.

use crate::DecodeError;

/// Decodes `N`-byte chunks with `f`, refusing a length that is not a multiple of `N`.
fn decode<const N: usize, T>(bytes: &[u8], f: fn([u8; N]) -> T) -> Result<Vec<T>, DecodeError> {
    if bytes.len() % N != 0 {
        return Err(DecodeError::Length { len: bytes.len(), width: N });
    }
    Ok(bytes
        .chunks_exact(N)
        .map(|chunk| {
            let mut array = [0u8; N];
            array.copy_from_slice(chunk);
            f(array)
        })
        .collect())
}

/// Little-endian IEEE 754 doubles, 8 bytes each.
pub fn f64s_from_le(bytes: &[u8]) -> Result<Vec<f64>, DecodeError> {
    decode(bytes, f64::from_le_bytes)
}

/// Little-endian signed 64-bit integers, 8 bytes each.
pub fn i64s_from_le(bytes: &[u8]) -> Result<Vec<i64>, DecodeError> {
    decode(bytes, i64::from_le_bytes)
}

/// Little-endian unsigned 32-bit integers (UTF-8 offsets), 4 bytes each.
pub fn u32s_from_le(bytes: &[u8]) -> Result<Vec<u32>, DecodeError> {
    decode(bytes, u32::from_le_bytes)
}

/// Encodes doubles as little-endian bytes.
pub fn f64s_to_le(values: &[f64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Encodes signed 64-bit integers as little-endian bytes.
pub fn i64s_to_le(values: &[i64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Encodes unsigned 32-bit integers as little-endian bytes.
pub fn u32s_to_le(values: &[u32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Booleans, one byte each, which must be 0 or 1.
pub fn bools_from_bytes(bytes: &[u8]) -> Result<Vec<bool>, DecodeError> {
    bytes
        .iter()
        .enumerate()
        .map(|(index, &byte)| match byte {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError::Bool { index, byte }),
        })
        .collect()
}

/// Encodes booleans as one byte each (0 or 1).
pub fn bools_to_bytes(values: &[bool]) -> Vec<u8> {
    values.iter().map(|&v| u8::from(v)).collect()
}

/// Packs flags into a bitmap, least significant bit first (Arrow's layout).
pub fn bitmap_from_bools(flags: &[bool]) -> Vec<u8> {
    let mut bitmap = vec![0u8; flags.len().div_ceil(8)];
    for (i, _) in flags.iter().enumerate().filter(|(_, &set)| set) {
        bitmap[i / 8] |= 1 << (i % 8);
    }
    bitmap
}

/// Bit `i` of a bitmap, least significant bit first; `None` past its end.
pub fn bitmap_get(bitmap: &[u8], i: usize) -> Option<bool> {
    bitmap.get(i / 8).map(|byte| byte & (1 << (i % 8)) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f64s_round_trip_little_endian() {
        let values = [0.0, -1.5, f64::INFINITY, 1e300, f64::MIN_POSITIVE];
        let bytes = f64s_to_le(&values);
        assert_eq!(bytes.len(), 40);
        assert_eq!(&bytes[8..16], &(-1.5f64).to_le_bytes());
        assert_eq!(f64s_from_le(&bytes), Ok(values.to_vec()));
    }

    #[test]
    fn f64s_decode_a_known_byte_pattern() {
        // 1.0 = 0x3FF0000000000000, little-endian: the high byte comes last.
        let bytes = [0, 0, 0, 0, 0, 0, 0xF0, 0x3F];
        assert_eq!(f64s_from_le(&bytes), Ok(vec![1.0]));
    }

    #[test]
    fn nan_bits_survive() {
        let bytes = f64s_to_le(&[f64::NAN]);
        let decoded = f64s_from_le(&bytes).unwrap();
        assert!(decoded[0].is_nan());
    }

    #[test]
    fn i64s_and_u32s_round_trip() {
        let ints = [i64::MIN, -1, 0, 1, i64::MAX];
        assert_eq!(i64s_from_le(&i64s_to_le(&ints)), Ok(ints.to_vec()));
        assert_eq!(i64s_from_le(&[0xFF; 8]), Ok(vec![-1]));
        let offsets = [0u32, 3, 3, u32::MAX];
        assert_eq!(u32s_from_le(&u32s_to_le(&offsets)), Ok(offsets.to_vec()));
        assert_eq!(u32s_from_le(&[1, 0, 0, 0]), Ok(vec![1]));
    }

    #[test]
    fn empty_buffers_decode_to_empty() {
        assert_eq!(f64s_from_le(&[]), Ok(vec![]));
        assert_eq!(i64s_from_le(&[]), Ok(vec![]));
        assert_eq!(bools_from_bytes(&[]), Ok(vec![]));
    }

    #[test]
    fn rejects_length_not_a_multiple_of_the_width() {
        assert!(matches!(f64s_from_le(&[0; 13]), Err(DecodeError::Length { len: 13, width: 8 })));
        assert!(matches!(i64s_from_le(&[0; 7]), Err(DecodeError::Length { len: 7, width: 8 })));
        assert!(matches!(u32s_from_le(&[0; 5]), Err(DecodeError::Length { len: 5, width: 4 })));
    }

    #[test]
    fn rejects_boolean_bytes_other_than_0_or_1() {
        assert_eq!(bools_from_bytes(&[0, 1, 1]), Ok(vec![false, true, true]));
        assert!(matches!(bools_from_bytes(&[0, 2]), Err(DecodeError::Bool { index: 1, byte: 2 })));
        assert_eq!(bools_to_bytes(&[true, false]), vec![1, 0]);
    }

    #[test]
    fn bitmap_is_least_significant_bit_first() {
        let flags = [true, false, true, true, false, false, false, false, true];
        let bitmap = bitmap_from_bools(&flags);
        assert_eq!(bitmap, vec![0b0000_1101, 0b0000_0001]);
        for (i, &flag) in flags.iter().enumerate() {
            assert_eq!(bitmap_get(&bitmap, i), Some(flag));
        }
        assert_eq!(bitmap_get(&bitmap, 15), Some(false));
        assert_eq!(bitmap_get(&bitmap, 16), None);
        assert!(bitmap_from_bools(&[]).is_empty());
    }
}
