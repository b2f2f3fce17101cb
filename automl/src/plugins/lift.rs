//! Results lifted from a guest within a byte budget. A guest's result may hold many
//! `list<u8>` or `string` values that all point at the same bytes of its memory: one copy
//! for the guest, one per value for a host that lifts them as `Vec<u8>` and `String`. The
//! [`Bytes`] and [`Text`] types lift like those, but first charge their length to the call's
//! budget (the plugin's memory cap) and refuse once it is spent, before copying anything.
//!
//! Results are lifted by wasmtime, before the guest's post-return frees them, on the
//! thread that runs the call: the budget is kept per thread, set by a [`Budget`] guard.
//! These impls delegate to wasmtime's own for `Vec<u8>` and `String`, through the hidden
//! traits its derive macros use (pinned to the wasmtime major version in Cargo.toml).
#![allow(unsafe_code)]

use std::cell::Cell;

use wasmtime::component::__internal::{CanonicalAbiInfo, InstanceType, InterfaceType, LiftContext};
use wasmtime::component::{ComponentType, Lift};
use wasmtime::ValRaw;

/// What a refusal says, given the budget in bytes.
pub type Refusal = fn(usize) -> String;

thread_local! {
    /// The call's budget, what its results have used of it, and what a refusal says.
    static BUDGET: Cell<Option<(usize, usize, Refusal)>> = const { Cell::new(None) };
}

/// The budget of the call being lifted on this thread, for as long as it lives: hold it
/// across the call's `await` (the call is polled, and its results lifted, on this thread;
/// dropping the guard, as a cancelled call does, restores what was there).
pub struct Budget {
    before: Option<(usize, usize, Refusal)>,
}

impl Budget {
    /// `bytes` for the [`Bytes`] and [`Text`] values lifted from now on.
    pub fn set(bytes: usize, refusal: Refusal) -> Budget {
        Budget { before: BUDGET.replace(Some((bytes, 0, refusal))) }
    }
}

impl Drop for Budget {
    fn drop(&mut self) {
        BUDGET.set(self.before);
    }
}

fn charge(len: usize) -> wasmtime::Result<()> {
    let Some((cap, spent, refusal)) = BUDGET.get() else { return Ok(()) };
    let spent = spent.saturating_add(len);
    if spent > cap {
        return Err(wasmtime::Error::msg(refusal(cap)));
    }
    BUDGET.set(Some((cap, spent, refusal)));
    Ok(())
}

/// The length of a `(pointer, length)` pair, as flat values or in memory.
fn flat_len(src: &[ValRaw; 2]) -> usize {
    src[1].get_u32() as usize
}

fn memory_len(bytes: &[u8]) -> usize {
    bytes.get(4..8).and_then(|b| b.try_into().ok()).map_or(usize::MAX, |b| u32::from_le_bytes(b) as usize)
}

macro_rules! charged {
    ($name:ident, $inner:ty, $units:expr, $mask:expr, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(pub $inner);

        // SAFETY: the layout, ABI and type check are those of the inner type, to which
        // lifting is delegated unchanged after the length is charged.
        unsafe impl ComponentType for $name {
            type Lower = [ValRaw; 2];
            const ABI: CanonicalAbiInfo = <$inner as ComponentType>::ABI;
            fn typecheck(ty: &InterfaceType, types: &InstanceType) -> wasmtime::Result<()> {
                <$inner as ComponentType>::typecheck(ty, types)
            }
        }

        // SAFETY: see above; only the inner type's lifting reads guest memory.
        unsafe impl Lift for $name {
            fn linear_lift_from_flat(cx: &mut LiftContext<'_>, ty: InterfaceType, src: &Self::Lower) -> wasmtime::Result<Self> {
                charge((flat_len(src) & $mask).saturating_mul($units))?;
                <$inner as Lift>::linear_lift_from_flat(cx, ty, src).map($name)
            }
            fn linear_lift_from_memory(cx: &mut LiftContext<'_>, ty: InterfaceType, bytes: &[u8]) -> wasmtime::Result<Self> {
                charge((memory_len(bytes) & $mask).saturating_mul($units))?;
                <$inner as Lift>::linear_lift_from_memory(cx, ty, bytes).map($name)
            }
        }
    };
}

// A string's length counts code units (its top bit tags UTF-16 in the latin1+utf16
// encoding): up to 3 bytes each once re-encoded as UTF-8 on the host.
charged!(Bytes, Vec<u8>, 1, usize::MAX, "A `list<u8>` lifted within the call's budget.");
charged!(Text, String, 3, 0x7fff_ffff, "A `string` lifted within the call's budget.");

