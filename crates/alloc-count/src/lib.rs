//! A counting global allocator, for the tests that prove a hot path allocates nothing (zone
//! lookups, cache answers, the engine's answers and proofs, cookies). Test support only: no
//! product crate depends on it. A test crate installs it and reads the count around the code
//! under test:
//!
//! ```ignore
//! #[global_allocator]
//! static GLOBAL: alloc_count::Counting = alloc_count::Counting;
//!
//! let before = alloc_count::allocations();
//! hot_path();
//! assert_eq!(alloc_count::allocations(), before);
//! ```
//!
//! The one crate of the workspace with `unsafe`: implementing `GlobalAlloc` requires it.

#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The system allocator, counting allocations (and reallocations) per thread.
#[derive(Debug)]
pub struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; the counter is a
// thread-local `Cell` that needs no allocation to update.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Allocations made on this thread so far (only counted while [`Counting`] is the global
/// allocator).
pub fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

#[cfg(test)]
mod tests {
    #[global_allocator]
    static GLOBAL: super::Counting = super::Counting;

    #[test]
    fn counts_allocations_and_reallocations_of_this_thread() {
        let before = super::allocations();
        let mut v: Vec<u64> = Vec::with_capacity(1);
        v.extend([1, 2, 3, 4]);
        assert_eq!(
            super::allocations(),
            before + 2,
            "one allocation, one growth"
        );
        let other = std::thread::spawn(|| {
            let before = super::allocations();
            drop(Box::new(7u8));
            super::allocations() - before
        });
        // The other thread counts its own box alone (spawning allocates on this thread).
        assert_eq!(other.join().ok(), Some(1));
        drop(v);
    }
}
