//! Hostile preprocessor plugin `column-bomb`, for the host's memory tests: `transform`
//! returns 25,000 columns whose names and data all point at the same bytes of its own
//! memory (one buffer of `rows × 8` bytes). The guest holds one copy; a host that copies
//! every `list<u8>` while lifting the result would allocate 25,000 (2 GB for 10,000
//! rows). The host must bound what it lifts by the plugin's memory cap and refuse the
//! result before copying. `fit` returns 40 MiB of state, which the host must refuse too:
//! a fitted state is stored in `model.automl`.
//!
//! The aliasing needs `unsafe` (several `Vec`s over one allocation, which the canonical
//! ABI's post-return then frees more than once): this is a deliberately broken guest.
//!
//! Build: `../../build.sh` (writes `dist/column_bomb.wasm`).

#[allow(missing_docs, clippy::all)]
mod bindings {
    wit_bindgen::generate!({ path: "../../../../plugins-wit/wit/v0.1", world: "preprocessor-plugin" });
}

use bindings::automl::plugins::types::{Column, Dtype, PluginInfo, PluginKind, Table};
use bindings::exports::automl::plugins::preprocessor::Guest;

/// How many columns `transform` returns.
pub const COLUMNS: usize = 25_000;

/// Bytes of state `fit` returns.
pub const STATE_BYTES: usize = 40 << 20;

/// The plugin.
pub struct ColumnBomb;

/// A `Vec` over `len` bytes at `ptr` that is never the only owner of them.
#[allow(unsafe_code)]
fn alias(ptr: *mut u8, len: usize) -> Vec<u8> {
    // SAFETY: none; several of these share one allocation on purpose (see the crate docs).
    unsafe { Vec::from_raw_parts(ptr, len, len) }
}

impl Guest for ColumnBomb {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "column-bomb".into(),
            kind: PluginKind::Preprocessor,
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Test plugin: transform returns columns that all alias one buffer".into(),
        }
    }

    fn fit(_train: Table) -> Result<Vec<u8>, String> {
        Ok(vec![7u8; STATE_BYTES])
    }

    fn transform(_state: Vec<u8>, data: Table) -> Result<Table, String> {
        let bytes = usize::try_from(data.rows).map_err(|e| e.to_string())? * 8;
        let buffer = std::mem::ManuallyDrop::new(vec![0u8; bytes]);
        let name = std::mem::ManuallyDrop::new(String::from("x"));
        let ptr = buffer.as_ptr().cast_mut();
        let columns = (0..COLUMNS)
            .map(|_| Column {
                name: String::from_utf8(alias(name.as_ptr().cast_mut(), name.len())).unwrap_or_default(),
                dtype: Dtype::Float64,
                data: alias(ptr, bytes),
                offsets: Vec::new(),
                validity: Vec::new(),
            })
            .collect();
        Ok(Table { rows: data.rows, columns })
    }
}

bindings::export!(ColumnBomb with_types_in bindings);
