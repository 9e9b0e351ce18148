//! [`Guarded`]: the global allocator of a migrator program. An allocation that fails ends the
//! program with a message on stderr and exit code [`EXIT_CODE`] (7), instead of Rust's default:
//! SIGABRT after "memory allocation of N bytes failed" (exit 134 from a shell), which names
//! neither what was being done nor what to change.
//!
//! The buffers whose size the data and the options decide (a document's read buffer, a batch's
//! COPY payloads and documents) are allocated fallibly where they are made ([`try_reserve`]):
//! their failure is a [`crate::run_error::RunError::OutOfMemory`] naming the collection, what
//! was allocated and its size. Every other allocation that fails ends here, as a last resort:
//! stable Rust has no hook for allocation failures, so the allocator itself reports a null
//! result, without allocating, and leaves with `_exit` (no destructors, no `atexit` handlers:
//! nothing that could allocate again). Everything committed stays committed; the same command
//! resumes.
//!
//! The crate's default feature `allocator` makes `Guarded<System>` the global allocator of any
//! program that links migrator, so a schema crate's binary gets it with no code of its own. A
//! program with an allocator of its own (jemalloc, mimalloc) turns the feature off
//! (`default-features = false`) and may wrap its allocator: `Guarded::new(MiMalloc)`.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::TryReserveError;
use std::sync::atomic::{AtomicU8, Ordering};

/// The exit code of a program that ran out of memory (the up-front check, a buffer that could
/// not be allocated, or any other allocation).
pub const EXIT_CODE: u8 = 7;

/// Under an address-space limit, caps the C allocator's arenas at two. glibc reserves 64 MiB of
/// address space for each arena and makes one for each thread that allocates while the others
/// are busy (up to eight per core), so without a cap a run's address space would depend on how
/// its threads happened to meet, not on its options, and the stated minimum would not hold.
/// Called before the runtime starts its threads; elsewhere than glibc it does nothing.
pub fn bound_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only sets a tunable of the C allocator; no memory is touched.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// A global allocator that reports a failed allocation and exits with [`EXIT_CODE`].
///
/// ```ignore
/// #[global_allocator]
/// static ALLOCATOR: migrator::allocator::Guarded<mimalloc::MiMalloc> =
///     migrator::allocator::Guarded::new(mimalloc::MiMalloc);
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct Guarded<A = System> {
    inner: A,
}

impl Guarded<System> {
    /// The system allocator, guarded.
    pub const fn system() -> Self {
        Guarded { inner: System }
    }
}

impl<A> Guarded<A> {
    /// `inner`, guarded.
    pub const fn new(inner: A) -> Self {
        Guarded { inner }
    }
}

// SAFETY: every call is passed on to `inner` unchanged, with its own contract; a null result is
// returned as it is (a fallible allocation, see `try_reserve`) or ends the process.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Guarded<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        checked(unsafe { self.inner.alloc(layout) }, layout.size())
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc_zeroed`'s contract.
        checked(unsafe { self.inner.alloc_zeroed(layout) }, layout.size())
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller upholds `GlobalAlloc::dealloc`'s contract.
        unsafe { self.inner.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract.
        checked(
            unsafe { self.inner.realloc(ptr, layout, new_size) },
            new_size,
        )
    }
}

/// `ptr`, unless it is null outside a fallible allocation: then the process ends.
fn checked(ptr: *mut u8, size: usize) -> *mut u8 {
    if ptr.is_null() && FALLIBLE.try_with(Cell::get).unwrap_or(0) == 0 {
        out_of_memory(size);
    }
    ptr
}

thread_local! {
    /// How many fallible allocations this thread is inside of (a null result is theirs to report).
    static FALLIBLE: Cell<u32> = const { Cell::new(0) };
    /// What this thread does, for the message (`reading `tasks``); empty: the run's [`Activity`].
    static LABEL: Cell<Label> = const { Cell::new(Label::EMPTY) };
}

/// Reserves room for `additional` more elements in `vec`, returning the failure instead of
/// ending the process (see [`Guarded`]).
pub fn try_reserve<T>(vec: &mut Vec<T>, additional: usize) -> Result<(), TryReserveError> {
    let _fallible = Fallible::enter();
    vec.try_reserve(additional)
}

/// Marks the allocations of the current thread fallible while it lives.
struct Fallible;

impl Fallible {
    fn enter() -> Fallible {
        let _ = FALLIBLE.try_with(|n| n.set(n.get() + 1));
        Fallible
    }
}

impl Drop for Fallible {
    fn drop(&mut self) {
        let _ = FALLIBLE.try_with(|n| n.set(n.get().saturating_sub(1)));
    }
}

/// What the run is doing, for the message of an allocation that fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
#[non_exhaustive]
pub enum Activity {
    Starting = 0,
    SettingUp,
    Loading,
    References,
    Constraints,
    Validating,
}

impl Activity {
    const ALL: [Activity; 6] = [
        Activity::Starting,
        Activity::SettingUp,
        Activity::Loading,
        Activity::References,
        Activity::Constraints,
        Activity::Validating,
    ];

    fn text(self) -> &'static str {
        match self {
            Activity::Starting => "starting",
            Activity::SettingUp => "setting up the target",
            Activity::Loading => "loading",
            Activity::References => "resolving references",
            Activity::Constraints => "adding constraints",
            Activity::Validating => "validating",
        }
    }
}

static ACTIVITY: AtomicU8 = AtomicU8::new(Activity::Starting as u8);

/// Records what the run is doing now.
pub fn set_activity(activity: Activity) {
    ACTIVITY.store(activity as u8, Ordering::Relaxed);
}

/// Records what the current thread does (at most [`Label::CAPACITY`] bytes are kept), for the
/// message of an allocation that fails on it.
pub fn set_thread_label(parts: &[&str]) {
    let mut label = Label::EMPTY;
    for part in parts {
        label.push(part.as_bytes());
    }
    let _ = LABEL.try_with(|l| l.set(label));
}

/// A short text in a fixed buffer (no allocation to make or read it).
#[derive(Clone, Copy)]
struct Label {
    bytes: [u8; Label::CAPACITY],
    len: usize,
}

impl Label {
    const CAPACITY: usize = 96;
    const EMPTY: Label = Label {
        bytes: [0; Label::CAPACITY],
        len: 0,
    };

    fn push(&mut self, text: &[u8]) {
        let room = Label::CAPACITY - self.len;
        let n = text.len().min(room);
        self.bytes[self.len..self.len + n].copy_from_slice(&text[..n]);
        self.len += n;
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// The message for an allocation of `size` bytes that failed while doing `what`.
fn message(size: usize, what: &[u8]) -> Message {
    let mut m = Message::new();
    m.push(b"error: out of memory: allocating ");
    m.push_number(size);
    m.push(b" bytes failed while ");
    m.push(what);
    m.push(
        b". A run's memory is bounded by its batches in flight: lower `--batch-bytes` or \
          `--jobs`, or raise the memory limit (`ulimit -v`). Everything committed before this \
          is kept: run the same command to resume.\n",
    );
    m
}

/// Writes the message to stderr and ends the process with [`EXIT_CODE`], allocating nothing.
fn out_of_memory(size: usize) -> ! {
    let label = LABEL.try_with(Cell::get).unwrap_or(Label::EMPTY);
    let activity = Activity::ALL
        .get(usize::from(ACTIVITY.load(Ordering::Relaxed)))
        .copied()
        .unwrap_or(Activity::Starting);
    let what = if label.len > 0 {
        label.as_bytes()
    } else {
        activity.text().as_bytes()
    };
    let text = message(size, what);
    let mut rest = text.as_bytes();
    while !rest.is_empty() {
        // SAFETY: writes `rest.len()` initialised bytes from a live buffer to fd 2.
        let written = unsafe { libc::write(2, rest.as_ptr().cast(), rest.len()) };
        match usize::try_from(written) {
            Ok(n) if n > 0 => rest = &rest[n.min(rest.len())..],
            _ => break,
        }
    }
    // SAFETY: `_exit` ends the process at once; nothing runs after it.
    unsafe { libc::_exit(i32::from(EXIT_CODE)) }
}

/// The text of the message, in a fixed buffer.
struct Message {
    bytes: [u8; 512],
    len: usize,
}

impl Message {
    fn new() -> Self {
        Message {
            bytes: [0; 512],
            len: 0,
        }
    }

    fn push(&mut self, text: &[u8]) {
        let n = text.len().min(self.bytes.len() - self.len);
        self.bytes[self.len..self.len + n].copy_from_slice(&text[..n]);
        self.len += n;
    }

    fn push_number(&mut self, mut n: usize) {
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        loop {
            at -= 1;
            // A digit: `n % 10` is below 10.
            digits[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.push(&digits[at..]);
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_names_the_size_the_activity_and_the_options() {
        let text = message(17_025_537, b"reading `tasks`");
        let text = std::str::from_utf8(text.as_bytes()).expect("text");
        assert!(
            text.starts_with(
                "error: out of memory: allocating 17025537 bytes failed while reading `tasks`."
            ),
            "{text}"
        );
        for part in [
            "`--batch-bytes`",
            "`--jobs`",
            "run the same command to resume",
        ] {
            assert!(text.contains(part), "{part} in {text}");
        }
        assert!(text.ends_with('\n'));
        let zero = message(0, Activity::Loading.text().as_bytes());
        assert!(std::str::from_utf8(zero.as_bytes())
            .is_ok_and(|t| t.contains("allocating 0 bytes failed while loading.")));
    }

    #[test]
    fn a_fallible_reservation_that_cannot_be_met_is_an_error() {
        let mut v: Vec<u8> = Vec::new();
        // More than any address space: the allocator refuses, and the caller hears of it.
        assert!(try_reserve(&mut v, usize::MAX / 4).is_err());
        assert!(try_reserve(&mut v, 64).is_ok() && v.capacity() >= 64);
        assert_eq!(FALLIBLE.with(Cell::get), 0, "left the fallible section");
    }

    #[test]
    fn labels_are_cut_to_their_capacity() {
        let mut label = Label::EMPTY;
        label.push(&[b'x'; 200]);
        assert_eq!(label.as_bytes().len(), Label::CAPACITY);
    }
}
