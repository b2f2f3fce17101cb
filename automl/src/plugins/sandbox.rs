//! The sandbox around plugin calls: a store with a memory cap, a deadline for every call,
//! and a WASI context that grants nothing unless the user allowed it.
//!
//! A call's deadline is kept two ways, because guest code and host calls block
//! differently: an epoch deadline traps guest code that computes past it, and the call runs
//! as a future under a timer ([`bounded`]), so a guest blocked in a WASI call (a sleep, a
//! `pollable.block`) is cancelled when the timer fires, with the same error.
use std::future::Future;
use std::time::Duration;

use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, Store, Trap};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::options::SandboxPolicy;

/// Milliseconds per epoch tick: the resolution of plugin deadlines.
pub(super) const TICK_MS: u64 = 5;

/// The store's limits, on the whole store rather than on each memory or table: the bytes
/// of all its linear memories together (so many memories cannot multiply the cap), the
/// elements of all its tables together, and how many memories, tables and instances it
/// may have. It remembers the memory in use, so that a nearly full instance is not reused
/// (memory never shrinks).
struct Limits {
    memory_cap: usize,
    memory_total: usize,
    elements_total: usize,
}

/// Most linear memories, tables and core instances per store, and table elements in all
/// its tables: far above what Rust, Python and JavaScript guests use (a few memories, a
/// few dozen tables, tens of thousands of elements), far below what would exhaust the
/// host's address space (each memory reserves gigabytes of it).
const MAX_MEMORIES: usize = 16;
const MAX_TABLES: usize = 64;
const MAX_INSTANCES: usize = 64;
const MAX_TABLE_ELEMENTS: usize = 1 << 20;

/// Growing past a cap traps, with a message [`describe_error`] recognises.
fn refused(what: &str, desired: usize) -> wasmtime::Result<bool> {
    Err(wasmtime::Error::msg(format!("forcing trap when growing {what} to {desired}")))
}

impl ResourceLimiter for Limits {
    fn memory_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let total = (self.memory_total - current.min(self.memory_total)).saturating_add(desired);
        if total > self.memory_cap {
            return refused("memory", desired);
        }
        self.memory_total = total;
        Ok(true)
    }
    fn table_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let total = (self.elements_total - current.min(self.elements_total)).saturating_add(desired);
        if total > MAX_TABLE_ELEMENTS {
            return refused("a table", desired);
        }
        self.elements_total = total;
        Ok(true)
    }
    fn instances(&self) -> usize {
        MAX_INSTANCES
    }
    fn tables(&self) -> usize {
        MAX_TABLES
    }
    fn memories(&self) -> usize {
        MAX_MEMORIES
    }
}

/// Per-store state: WASI, its resources, the limits and the captured output.
pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: Limits,
    pub stdout: MemoryOutputPipe,
    pub stderr: MemoryOutputPipe,
    /// How much of stdout and stderr was written before the current call.
    marks: (usize, usize),
    /// Host-side buffers for encoding call arguments, kept with the instance so that
    /// repeated calls reuse them.
    pub scratch: [Vec<f64>; 3],
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

struct FrozenClock;

impl HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

/// Captured output kept per store.
const OUTPUT_CAPACITY: usize = 64 << 10;

/// A fresh store; [`arm`] it before each call.
pub fn new_store(engine: &wasmtime::Engine, config: &SandboxPolicy) -> Result<Store<HostState>, String> {
    let stdout = MemoryOutputPipe::new(OUTPUT_CAPACITY);
    let stderr = MemoryOutputPipe::new(OUTPUT_CAPACITY);
    let mut b = WasiCtxBuilder::new();
    b.stdout(stdout.clone()).stderr(stderr.clone());
    if !config.clock {
        b.wall_clock(FrozenClock).monotonic_clock(FrozenClock);
    }
    if config.network {
        b.inherit_network().allow_ip_name_lookup(true);
    }
    for (k, v) in &config.env {
        b.env(k, v);
    }
    for dir in &config.read_dirs {
        let guest = dir.display().to_string();
        b.preopened_dir(dir, &guest, FsPerms::ReadOnly).map_err(|e| format!("cannot grant {}: {e}", dir.display()))?;
    }
    let limits = Limits { memory_cap: config.memory_limit, memory_total: 0, elements_total: 0 };
    let mut store = Store::new(engine, HostState { wasi: b.build(), table: ResourceTable::new(), limits, stdout, stderr, marks: (0, 0), scratch: Default::default() });
    store.limiter(|s| &mut s.limits);
    store.epoch_deadline_trap();
    arm(&mut store, config);
    Ok(store)
}

/// Prepares a store for the next call: a full deadline from now, and the guest's output
/// counted from here (so an error shows what this call printed).
pub fn arm(store: &mut Store<HostState>, config: &SandboxPolicy) {
    let ticks = (config.call_timeout.as_millis() as u64).div_ceil(TICK_MS).max(1);
    store.set_epoch_deadline(ticks);
    let state = store.data_mut();
    state.marks = (state.stdout.contents().len(), state.stderr.contents().len());
}

/// Runs the plugin call that `call` makes (instantiation included) on this thread until it ends or `limit`
/// passes, whichever is first; at the limit the call is cancelled wherever it is, in guest
/// code or blocked in the host, and fails as [`Trap::Interrupt`].
///
/// The future runs on this thread, with WASI's timers and I/O driven by wasmtime-wasi's
/// runtime. On a thread of an async runtime (a caller inside a task) it runs on a thread of
/// its own instead: a plugin must never block the runtime's workers.
pub fn bounded<R: Send, F: Future<Output = wasmtime::Result<R>>>(limit: Duration, call: impl FnOnce() -> F + Send) -> wasmtime::Result<R> {
    let run = || {
        wasmtime_wasi::runtime::in_tokio(async {
            match tokio::time::timeout(limit, call()).await {
                Ok(result) => result,
                Err(_) => Err(Trap::Interrupt.into()),
            }
        })
    };
    if tokio::runtime::Handle::try_current().is_err() {
        return run();
    }
    std::thread::scope(|scope| match std::thread::Builder::new().name("plugin-call".into()).spawn_scoped(scope, run) {
        Ok(thread) => thread.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
        Err(e) => Err(wasmtime::Error::msg(format!("cannot start a thread for the plugin call: {e}"))),
    })
}

/// Whether a store that finished its call cleanly may serve another, with nearly the room
/// a fresh one has: not once its guest has printed more than 4 KiB (the capture is never
/// cleared, and a write past its capacity traps), nor once its linear memory has grown past
/// half the cap in all (memory never shrinks, and a fresh instance starts small).
pub fn reusable(store: &Store<HostState>, config: &SandboxPolicy) -> bool {
    let state = store.data();
    let printed = state.stdout.contents().len().max(state.stderr.contents().len());
    printed <= OUTPUT_LEFT_FOR_REUSE && state.limits.memory_total <= config.memory_limit / 2
}

/// See [`reusable`].
const OUTPUT_LEFT_FOR_REUSE: usize = 4 << 10;

/// A wasmtime error in words: the trap or the root cause, not a backtrace.
pub fn describe_error(e: &wasmtime::Error) -> String {
    if let Some(trap) = e.downcast_ref::<Trap>() {
        return match trap {
            Trap::Interrupt => "exceeded its time limit".to_string(),
            Trap::UnreachableCodeReached => "trapped: unreachable code reached (a Rust guest panicked)".to_string(),
            Trap::StackOverflow => "trapped: call stack exhausted (unbounded recursion?)".to_string(),
            Trap::MemoryOutOfBounds => "trapped: out-of-bounds memory access".to_string(),
            other => format!("trapped: {other}"),
        };
    }
    let chain: Vec<String> = e.chain().map(|c| c.to_string()).collect();
    if let Some(grow) = chain.iter().find(|c| c.contains("forcing trap when growing")) {
        return format!("exceeded its memory limit ({grow})");
    }
    e.root_cause().to_string()
}

/// The error of a failed call: the cause, the time limit or memory cap it hit, and the
/// guest's captured stderr/stdout.
pub fn call_failure(store: &Store<HostState>, config: &SandboxPolicy, what: &str, e: &wasmtime::Error) -> String {
    let mut cause = describe_error(e);
    if cause == "exceeded its time limit" {
        cause = format!("exceeded its time limit of {:.1} s per call (raise it with --plugin-timeout)", config.call_timeout.as_secs_f64());
    } else if cause.starts_with("exceeded its memory limit") {
        cause = format!("exceeded its memory limit of {} MiB (raise it with --plugin-memory)", config.memory_limit >> 20);
    }
    let mut message = format!("{what} {cause}");
    let output = |pipe: &MemoryOutputPipe, mark: usize| {
        let all = pipe.contents();
        let printed = all.get(mark..).unwrap_or_default();
        // The last part of what the call printed, as safe text.
        let last = &printed[printed.len().saturating_sub(MAX_GUEST_TEXT * 4)..];
        let text = String::from_utf8_lossy(last);
        let chars = text.chars().count();
        crate::util::printable(text.chars().skip(chars.saturating_sub(MAX_GUEST_TEXT)).collect::<String>().trim(), MAX_GUEST_TEXT)
    };
    let state = store.data();
    let (err, out) = (output(&state.stderr, state.marks.1), output(&state.stdout, state.marks.0));
    if !err.is_empty() {
        message.push_str(&format!("; its stderr: {err}"));
    }
    if !out.is_empty() {
        message.push_str(&format!("; its stdout: {out}"));
    }
    message
}

/// Most characters of a guest's own text (an error, what it printed) kept in a message.
pub const MAX_GUEST_TEXT: usize = 2000;

#[cfg(test)]
mod tests {
    use super::*;

    /// A core module with these memories (initial sizes in 64 KiB pages) and tables
    /// (initial elements), assembled by hand: the limits act at instantiation.
    fn module(memories: &[u32], tables: &[u32]) -> Vec<u8> {
        fn leb(mut v: u32, out: &mut Vec<u8>) {
            loop {
                let byte = (v & 0x7f) as u8;
                v >>= 7;
                out.push(if v == 0 { byte } else { byte | 0x80 });
                if v == 0 {
                    break;
                }
            }
        }
        let section = |id: u8, items: &[u32], prefix: &[u8], out: &mut Vec<u8>| {
            if items.is_empty() {
                return;
            }
            let mut body = Vec::new();
            leb(items.len() as u32, &mut body);
            for &n in items {
                body.extend_from_slice(prefix);
                body.push(0x00); // limits: a minimum, no maximum
                leb(n, &mut body);
            }
            out.push(id);
            leb(body.len() as u32, out);
            out.extend(body);
        };
        let mut m = b"\0asm\x01\0\0\0".to_vec();
        section(4, tables, &[0x70], &mut m); // funcref tables
        section(5, memories, &[], &mut m);
        m
    }

    fn instantiate(memory_limit: usize, memories: &[u32], tables: &[u32]) -> Result<usize, String> {
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        let engine = wasmtime::Engine::new(&config).map_err(|e| e.to_string())?;
        let policy = SandboxPolicy { memory_limit, cache_dir: None, ..SandboxPolicy::default() };
        let mut store = new_store(&engine, &policy)?;
        let module = wasmtime::Module::new(&engine, module(memories, tables)).map_err(|e| e.to_string())?;
        wasmtime::Instance::new(&mut store, &module, &[]).map_err(|e| describe_error(&e))?;
        Ok(store.data().limits.memory_total)
    }

    #[test]
    fn the_memory_cap_holds_for_all_of_a_stores_memories_together() {
        // 4 MiB cap; 40 pages are 2.5 MiB.
        let cap = 4 << 20;
        assert_eq!(instantiate(cap, &[40], &[]), Ok(40 << 16));
        let e = instantiate(cap, &[40, 40], &[]).expect_err("two memories of 2.5 MiB exceed 4 MiB together");
        assert!(e.contains("exceeded its memory limit"), "{e}");
        // Nor can many small memories add up, or outnumber the count.
        assert!(instantiate(cap, &[4; 16], &[]).is_ok(), "16 memories of 256 KiB fit in 4 MiB");
        let e = instantiate(cap, &[0; 17], &[]).expect_err("17 memories");
        assert!(e.contains("memor"), "{e}");
    }

    #[test]
    fn tables_are_capped_in_number_and_in_elements_together() {
        let cap = 4 << 20;
        assert!(instantiate(cap, &[], &[1000; 8]).is_ok());
        let e = instantiate(cap, &[], &[600_000, 600_000]).expect_err("1.2M elements in all");
        assert!(e.contains("exceeded its memory limit"), "{e}");
        assert!(instantiate(cap, &[], &[1 << 21]).is_err(), "2M elements in one table");
        assert!(instantiate(cap, &[], &[1; 65]).is_err(), "65 tables");
    }
}
