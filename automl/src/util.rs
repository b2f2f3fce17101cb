//! Small helpers shared by the runner, the journal, the executors and the trial pods:
//! digests, JSON files and lines, and experiment ids. Nothing here knows about
//! experiments or clusters.
use std::io::Write;
use std::path::Path;

use automl_core::data::{Column, Table};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Bytes before the payload of a checked file (the model file, a prepared copy of the
/// data): an 8-byte magic, the format version (u32, little-endian), the payload's SHA-256.
pub const FRAME_HEADER: usize = 8 + 4 + 32;

/// Why the bytes of a checked file were refused (see [`frame_payload`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// Too short, or another magic: not a file of this kind.
    NotOurs,
    /// Another format version (the one found).
    Version(u32),
    /// The payload's SHA-256 does not match the header's.
    Damaged,
}

/// The payload of a checked file once its magic, version and checksum are right.
pub fn frame_payload<'a>(bytes: &'a [u8], magic: &[u8; 8], version: u32) -> std::result::Result<&'a [u8], FrameError> {
    if bytes.len() < 12 || &bytes[..8] != magic {
        return Err(FrameError::NotOurs);
    }
    let found = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    if found != version {
        return Err(FrameError::Version(found));
    }
    if bytes.len() < FRAME_HEADER || Sha256::digest(&bytes[FRAME_HEADER..]).as_slice() != &bytes[12..FRAME_HEADER] {
        return Err(FrameError::Damaged);
    }
    Ok(&bytes[FRAME_HEADER..])
}

/// Text from outside the process (a plugin, a pod) made safe to print, journal and put in
/// a CSV cell: terminal escape sequences (CSI, OSC and other `ESC` sequences) removed, other
/// control characters (C0, DEL, C1; line breaks and tabs included) turned into spaces, and
/// at most `max_chars` characters kept, the cut marked with `…`.
pub fn printable(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars * 4));
    let mut chars = text.chars().peekable();
    let mut kept = 0;
    while let Some(c) = chars.next() {
        if kept == max_chars {
            out.push('…');
            break;
        }
        match c {
            '\u{1b}' => skip_escape(&mut chars),
            // A C1 CSI or OSC opens a sequence as ESC [ or ESC ] does.
            '\u{9b}' | '\u{9d}' => skip_sequence_body(c == '\u{9d}', &mut chars),
            c if c.is_control() => {
                out.push(' ');
                kept += 1;
            }
            c => {
                out.push(c);
                kept += 1;
            }
        }
    }
    out
}

/// Skips what follows an `ESC`: a CSI (`[` ... final byte), an OSC, DCS, SOS, PM or APC
/// string (up to BEL or `ESC \\`), or one more character.
fn skip_escape(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    match chars.next() {
        Some('[') => skip_sequence_body(false, chars),
        Some(']' | 'P' | 'X' | '^' | '_') => skip_sequence_body(true, chars),
        _ => {}
    }
}

/// Skips a CSI's parameters and final byte (`string`: false) or a control string up to its
/// terminator (`string`: true).
fn skip_sequence_body(string: bool, chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while let Some(c) = chars.next() {
        if string {
            if c == '\u{7}' || c == '\u{9c}' || (c == '\u{1b}' && chars.next_if_eq(&'\\').is_some()) {
                return;
            }
        } else if ('\u{40}'..='\u{7e}').contains(&c) || c.is_control() {
            return;
        }
    }
}

/// SHA-256 of a file's bytes, as hex.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h)?;
    Ok(hex(&h.finalize()))
}

/// SHA-256 of bytes, as hex.
pub fn sha256_bytes(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Digest of an in-memory table's names and values, standing in for a file's digest.
pub fn sha256_table(table: &Table) -> String {
    let mut h = Sha256::new();
    for (name, column) in table.names.iter().zip(&table.columns) {
        h.update(name.as_bytes());
        h.update([0u8]);
        match column {
            // The same bytes as each value's `to_le_bytes`, in one call on little-endian hosts.
            Column::Numeric(v) if cfg!(target_endian = "little") => h.update(bytemuck::cast_slice::<f64, u8>(v)),
            Column::Numeric(v) => v.iter().for_each(|x| h.update(x.to_le_bytes())),
            Column::Datetime(v) => v.iter().for_each(|x| h.update(x.unwrap_or(i64::MIN).to_le_bytes())),
            Column::Str(s) => {
                s.codes.iter().for_each(|c| h.update(c.to_le_bytes()));
                s.levels.iter().for_each(|l| {
                    h.update(l.as_bytes());
                    h.update([0u8]);
                });
            }
        }
    }
    hex(&h.finalize())
}

/// A temporary file's path beside `path`, unique to this process and call (for writing a
/// file whole and renaming it into place): `NAME.tmp-PID-N`.
pub fn temp_beside(path: &Path) -> std::path::PathBuf {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp-{}-{n}", std::process::id()));
    path.with_file_name(name)
}

/// Writes `bytes` to `path` whole: to a temporary file beside it, then renamed into place,
/// so a reader never sees half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temp_beside(path);
    std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path)).inspect_err(|_| drop(std::fs::remove_file(&tmp))).map_err(|e| Error::io(path, e))
}

/// Writes `value` as pretty JSON (with a final newline) to `path`.
pub fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Error::Serialize { what: format!("{} as JSON", path.display()), source: Box::new(e) })?;
    std::fs::write(path, text + "\n").map_err(|e| Error::io(path, e))
}

/// Appends `value` as one JSON line to `path` (which must exist).
pub fn append_json_line(path: &Path, value: &serde_json::Value) -> Result<()> {
    let mut f = std::fs::OpenOptions::new().append(true).open(path).map_err(|e| Error::io(path, e))?;
    writeln!(f, "{value}").map_err(|e| Error::io(path, e))
}

/// A short id for a new experiment (it names and labels its Jobs): 8 hex digits from the
/// clock and the process id.
pub fn new_experiment_id() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let mut h = Sha256::new();
    h.update(nanos.to_le_bytes());
    h.update(std::process::id().to_le_bytes());
    hex(&h.finalize()[..4])
}

/// Locks a mutex, taking the data of a poisoned one (a panicking trial thread must not
/// take the run down with it).
pub fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn experiment_ids_are_eight_hex_digits() {
        let id = new_experiment_id();
        assert_eq!(id.len(), 8);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
        assert_eq!(hex(&[0, 15, 255]), "000fff");
    }
}
