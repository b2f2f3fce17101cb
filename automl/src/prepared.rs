//! Prepared data shared by trial pods: an experiment's rows and feature columns, parsed
//! and profiled once by the controller, stored by content hash where the pods can read
//! it, and read by each pod instead of parsing (or downloading) the CSV again.
//!
//! A prepared file is: magic, format version, the payload's SHA-256, the payload
//! (postcard). Its name comes from what it was made of (the CSV's SHA-256 and the options
//! it was read with), so experiments on the same file and options share one, and a
//! changed file or option makes another. A pod refuses a file whose checksum differs from
//! the one in its trial spec, or that was made from other data, and then reads the CSV.
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use automl_core::data::{Column, Table, MISSING_CODE};
use automl_core::profile::ColumnKind;
use automl_core::task::{Target, Task};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::evaluate::TrialData;
use crate::trial::{DataRef, PreparedFile};
use crate::util::{frame_payload, hex, FrameError, FRAME_HEADER as HEADER};

const MAGIC: &[u8; 8] = b"AUTOMLDT";
/// Bumped whenever the payload's layout changes: older files are then made again.
const FORMAT_VERSION: u32 = 1;
/// Files end in this.
pub const EXTENSION: &str = "automl-data";

/// What a prepared copy was made from: the CSV (by its SHA-256) and how it was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// SHA-256 of the CSV.
    pub csv_sha256: String,
    /// Target column.
    pub target: String,
    /// The task.
    pub task: Task,
    /// Extra missing-value markers.
    pub na_values: Vec<String>,
    /// The field separator, when the user chose one.
    pub delimiter: Option<u8>,
}

impl Source {
    /// The source of a trial's data; `None` when the spec carries no digest of the CSV.
    pub fn of(data: &DataRef) -> Option<Source> {
        let csv_sha256 = data.sha256.clone().filter(|s| !s.is_empty())?;
        Some(Source { csv_sha256, target: data.target.clone(), task: data.task, na_values: data.na_values.clone(), delimiter: data.delimiter })
    }

    /// The file name of its prepared copy: a digest of the source and the format version
    /// (each text field ends with a 0 byte, so no two sources give the same bytes).
    pub fn file_name(&self) -> String {
        let mut h = Sha256::new();
        h.update(FORMAT_VERSION.to_le_bytes());
        for text in [&self.csv_sha256, &self.target, &self.task.to_string()].into_iter().chain(&self.na_values) {
            h.update(text.as_bytes());
            h.update([0u8]);
        }
        h.update([u8::from(self.delimiter.is_some()), self.delimiter.unwrap_or(0)]);
        format!("{}.{EXTENSION}", &hex(&h.finalize())[..32])
    }
}

#[derive(Serialize)]
struct PayloadRef<'a> {
    source: &'a Source,
    table: &'a Table,
    target: &'a Target,
    features: &'a [(String, ColumnKind)],
}

#[derive(Deserialize)]
struct Payload {
    source: Source,
    table: Table,
    target: Target,
    features: Vec<(String, ColumnKind)>,
}

/// Makes sure `dir` holds the prepared copy of `data` (made from `source`): an existing
/// one is checked whole and kept, a missing or damaged one is written, atomically. Returns
/// its path in `dir` and the SHA-256 of its payload.
pub fn share(dir: &Path, source: &Source, data: &TrialDataRef<'_>) -> Result<(PathBuf, String)> {
    let path = dir.join(source.file_name());
    if let Ok(sha256) = read_checked(&path).map(|(_, sha)| sha) {
        return Ok((path, sha256));
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let tmp = crate::util::temp_beside(&path);
    let written = write(&tmp, source, data).and_then(|sha| std::fs::rename(&tmp, &path).map(|()| sha));
    written.inspect_err(|_| drop(std::fs::remove_file(&tmp))).map(|sha| (path.clone(), sha)).map_err(|e| Error::io(&path, e))
}

/// The parts of an experiment's data a prepared copy holds, borrowed from the controller's.
pub struct TrialDataRef<'a> {
    /// Feature columns, rows with a target only.
    pub table: &'a Table,
    /// Target values.
    pub target: &'a Target,
    /// Features used, with their kinds.
    pub features: &'a [(String, ColumnKind)],
}

/// Streams the file: header with a zero checksum, the payload through the hasher, then
/// the checksum written in place.
fn write(path: &Path, source: &Source, data: &TrialDataRef<'_>) -> std::io::Result<String> {
    struct Hashing<W> {
        inner: W,
        hasher: Sha256,
    }
    impl<W: Write> Write for Hashing<W> {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let n = self.inner.write(buf)?;
            self.hasher.update(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            self.inner.flush()
        }
    }
    let mut file = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    file.write_all(MAGIC)?;
    file.write_all(&FORMAT_VERSION.to_le_bytes())?;
    file.write_all(&[0u8; 32])?;
    let payload = PayloadRef { source, table: data.table, target: data.target, features: data.features };
    let mut out = Hashing { inner: file, hasher: Sha256::new() };
    postcard::to_io(&payload, &mut out).map_err(std::io::Error::other)?;
    let digest = out.hasher.finalize();
    let mut file = out.inner.into_inner().map_err(|e| e.into_error())?;
    file.seek(SeekFrom::Start(12))?;
    file.write_all(&digest)?;
    file.sync_all()?;
    Ok(hex(&digest))
}

/// The file's bytes and payload SHA-256, once its magic, version and checksum are right.
fn read_checked(path: &Path) -> std::result::Result<(Vec<u8>, String), String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let digest = frame_payload(&bytes, MAGIC, FORMAT_VERSION).map(|payload| hex(&Sha256::digest(payload))).map_err(|e| match e {
        FrameError::NotOurs => "not a prepared data file".to_string(),
        FrameError::Version(v) => format!("format version {v}, this automl reads {FORMAT_VERSION}"),
        FrameError::Damaged => "damaged: its checksum does not match its contents".to_string(),
    })?;
    Ok((bytes, digest))
}

/// Reads the prepared copy `file` of `data`, refusing one that is damaged, whose payload
/// is not the one the controller wrote (`file.sha256`), that was made from other data or
/// options, or whose parts do not fit together. The error says why; the caller reads the
/// CSV instead.
pub fn load(file: &PreparedFile, data: &DataRef) -> Result<TrialData> {
    let bad = |why: String| Error::Config(format!("the prepared data {} cannot be used: {why}", file.path.display()));
    let (bytes, sha256) = read_checked(&file.path).map_err(bad)?;
    if sha256 != file.sha256 {
        return Err(bad(format!("its SHA-256 is {sha256}, not the {} the experiment wrote", file.sha256)));
    }
    let payload: Payload = postcard::from_bytes(&bytes[HEADER..]).map_err(|e| bad(format!("cannot decode it ({e})")))?;
    drop(bytes);
    if Source::of(data).as_ref() != Some(&payload.source) {
        return Err(bad("it was made from other data or read options than this trial's".into()));
    }
    check(&payload).map_err(bad)?;
    let Payload { table, target, features, source } = payload;
    Ok(TrialData { table, target, task: source.task, features })
}

/// Every column and the target as long as the table, category codes in range, and every
/// feature a column of the table.
fn check(p: &Payload) -> std::result::Result<(), String> {
    let n = p.table.n_rows;
    if p.table.names.len() != p.table.columns.len() {
        return Err(format!("{} column names for {} columns", p.table.names.len(), p.table.columns.len()));
    }
    for (name, column) in p.table.names.iter().zip(&p.table.columns) {
        if column.len() != n {
            return Err(format!("column '{name}' has {} rows, the table {n}", column.len()));
        }
        if let Column::Str(s) = column {
            if s.codes.iter().any(|&c| c != MISSING_CODE && c as usize >= s.levels.len()) {
                return Err(format!("column '{name}' has a category code past its {} levels", s.levels.len()));
            }
        }
    }
    if p.target.len() != n {
        return Err(format!("{} target values for {n} rows", p.target.len()));
    }
    if let Target::Classes { codes, labels } = &p.target {
        if codes.iter().any(|&c| c >= labels.len()) {
            return Err(format!("a target class past its {} labels", labels.len()));
        }
    }
    match p.features.iter().find(|(f, _)| !p.table.names.contains(f)) {
        Some((f, _)) => Err(format!("feature '{f}' is not one of its columns")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automl_core::data::StrColumn;

    fn data() -> (Table, Target, Vec<(String, ColumnKind)>) {
        let table = Table {
            names: vec!["x".into(), "c".into(), "d".into()],
            columns: vec![
                Column::Numeric(vec![1.0, f64::NAN, 3.5]),
                Column::Str(StrColumn::from_values([Some("a"), None, Some("b")])),
                Column::Datetime(vec![Some(0), None, Some(86_400_000)]),
            ],
            n_rows: 3,
        };
        let target = Target::Classes { codes: vec![0, 1, 0], labels: vec!["no".into(), "yes".into()] };
        (table, target, vec![("x".into(), ColumnKind::Numeric), ("c".into(), ColumnKind::Categorical), ("d".into(), ColumnKind::Datetime)])
    }

    fn data_ref(sha: &str) -> DataRef {
        DataRef { path: "d.csv".into(), target: "y".into(), task: Task::Binary, na_values: vec!["?".into()], delimiter: None, sha256: Some(sha.into()), plugins: Vec::new(), sandbox: None, prepared: None }
    }

    fn share_one(dir: &Path, d: &DataRef) -> PreparedFile {
        let (table, target, features) = data();
        let source = Source::of(d).expect("digest");
        let (path, sha256) = share(dir, &source, &TrialDataRef { table: &table, target: &target, features: &features }).expect("written");
        PreparedFile { path, sha256 }
    }

    #[test]
    fn a_prepared_copy_reads_back_as_written_and_is_shared_by_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = data_ref(&"ab".repeat(32));
        let file = share_one(dir.path(), &d);
        let back = load(&file, &d).expect("loads");
        let (table, target, features) = data();
        assert_eq!(back.target, target);
        assert_eq!(back.features, features);
        assert_eq!(back.task, Task::Binary);
        assert_eq!(back.table.names, table.names);
        assert!(matches!(&back.table.columns[0], Column::Numeric(v) if v[0] == 1.0 && v[1].is_nan() && v[2] == 3.5));
        assert_eq!(back.table.columns[1..], table.columns[1..]);
        // The same source gives the same file, kept as it is.
        let modified = std::fs::metadata(&file.path).and_then(|m| m.modified()).expect("mtime");
        assert_eq!(share_one(dir.path(), &d), file);
        assert_eq!(std::fs::metadata(&file.path).and_then(|m| m.modified()).expect("mtime"), modified);
        // Other read options make another file.
        let mut other = d.clone();
        other.na_values.clear();
        assert_ne!(share_one(dir.path(), &other).path, file.path);
    }

    #[test]
    fn a_damaged_forged_or_foreign_copy_is_refused_with_the_reason() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = data_ref(&"ab".repeat(32));
        let file = share_one(dir.path(), &d);
        let err = |f: &PreparedFile, d: &DataRef| load(f, d).err().map(|e| e.to_string()).unwrap_or_default();
        // Made from another CSV.
        let mut other = d.clone();
        other.sha256 = Some("cd".repeat(32));
        assert!(err(&file, &other).contains("other data"), "{}", err(&file, &other));
        // Not the payload the spec names.
        let forged = PreparedFile { sha256: "00".repeat(32), ..file.clone() };
        assert!(err(&forged, &d).contains("not the"), "{}", err(&forged, &d));
        // One byte changed.
        let mut bytes = std::fs::read(&file.path).expect("read");
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&file.path, &bytes).expect("write");
        assert!(err(&file, &d).contains("damaged"), "{}", err(&file, &d));
        // share() notices and writes it again.
        assert_eq!(share_one(dir.path(), &d), file);
        assert!(load(&file, &d).is_ok());
        // Missing.
        std::fs::remove_file(&file.path).expect("remove");
        assert!(err(&file, &d).contains(&file.path.display().to_string()));
    }

    #[test]
    fn parts_that_do_not_fit_together_are_refused() {
        let (table, target, features) = data();
        let source = Source::of(&data_ref(&"ab".repeat(32))).expect("digest");
        let ok = Payload { source, table, target, features };
        assert!(check(&ok).is_ok());
        let mut short = Payload { target: Target::Values(vec![1.0]), ..clone(&ok) };
        assert!(check(&short).unwrap_err().contains("target values"));
        short = clone(&ok);
        short.table.columns[1] = Column::Str(StrColumn { codes: vec![0, 5, 0], levels: vec!["a".into()] });
        assert!(check(&short).unwrap_err().contains("category code"));
        short = clone(&ok);
        short.features.push(("z".into(), ColumnKind::Numeric));
        assert!(check(&short).unwrap_err().contains("'z'"));
    }

    fn clone(p: &Payload) -> Payload {
        Payload { source: p.source.clone(), table: p.table.clone(), target: p.target.clone(), features: p.features.clone() }
    }
}
