//! A small size-class allocator for the wasm build (replaces dlmalloc, ~7 KB of code).
//!
//! The SDK keeps a few kilobytes alive for hours and allocates in small, repeating sizes
//! (strings of options, audit records, closures). Every request is rounded up to a power
//! of two (at least 8 bytes, at least its alignment) and served from that class's free
//! list, else cut from a bump region aligned to the block size, else from fresh pages.
//! Freed blocks go back to their class's list, so a steady workload reaches a steady heap.
//! No coalescing: at most 2× internal waste, which at our heap size is a few kilobytes.
//!
//! The arithmetic (`Heap`) is target independent and tested on the host with a fake
//! page source; only the `GlobalAlloc` install at the bottom is wasm32-only.

const MIN_SHIFT: u32 = 3; // 8-byte blocks
const CLASSES: usize = 29; // 2^3 ..= 2^31
const PAGE: usize = 65_536;

/// Free lists and a bump region. `grow(pages)` returns the start address of `pages`
/// new, contiguous, page-aligned pages (or None when memory is exhausted).
pub struct Heap {
    free: [usize; CLASSES],
    bump: usize,
    end: usize,
}

impl Heap {
    pub const fn new() -> Self {
        Heap {
            free: [0; CLASSES],
            bump: 0,
            end: 0,
        }
    }

    /// Size class of a request: the index of the smallest power of two ≥ size, align, 8.
    fn class(size: usize, align: usize) -> Option<usize> {
        let n = size.max(align).max(1 << MIN_SHIFT);
        let shift = usize::BITS - (n - 1).leading_zeros();
        let c = (shift - MIN_SHIFT) as usize;
        (c < CLASSES).then_some(c)
    }

    /// # Safety
    /// Addresses handed out by `grow` must be valid, writable and owned by this heap.
    pub unsafe fn alloc(
        &mut self,
        size: usize,
        align: usize,
        grow: impl FnOnce(usize) -> Option<usize>,
    ) -> *mut u8 {
        let Some(c) = Self::class(size, align) else {
            return core::ptr::null_mut();
        };
        let block = 1usize << (c as u32 + MIN_SHIFT);
        let head = self.free[c];
        if head != 0 {
            self.free[c] = *(head as *const usize);
            return head as *mut u8;
        }
        // Blocks are aligned to their size (to a page for the large ones), so any `align`
        // up to a page holds; nothing in this crate asks for more.
        if align > PAGE {
            return core::ptr::null_mut();
        }
        let a = block.min(PAGE);
        let start = (self.bump + a - 1) & !(a - 1);
        if self.bump != 0 && start + block <= self.end {
            self.bump = start + block;
            return start as *mut u8;
        }
        // Fresh pages: enough for this block, at least 1 page; the rest becomes the bump region
        // (what was left of the old region is dropped: less than one block of this class).
        let pages = block.div_ceil(PAGE);
        let Some(start) = grow(pages) else {
            return core::ptr::null_mut();
        };
        self.bump = start + block;
        self.end = start + pages * PAGE;
        start as *mut u8
    }

    /// # Safety
    /// `ptr` came from `alloc` with the same size and align and is not used again.
    pub unsafe fn dealloc(&mut self, ptr: *mut u8, size: usize, align: usize) {
        if let Some(c) = Self::class(size, align) {
            *(ptr as *mut usize) = self.free[c];
            self.free[c] = ptr as usize;
        }
    }

    /// Whether a block of `old` bytes can hold `new` bytes in place.
    pub fn same_class(old: usize, new: usize, align: usize) -> bool {
        Self::class(old, align) == Self::class(new, align) && Self::class(new, align).is_some()
    }
}

impl Default for Heap {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(target_arch = "wasm32")]
mod global {
    use super::{Heap, PAGE};
    use core::alloc::{GlobalAlloc, Layout};
    use core::cell::UnsafeCell;

    struct Wasm(UnsafeCell<Heap>);
    // wasm32-unknown-unknown without atomics is single-threaded.
    unsafe impl Sync for Wasm {}

    #[global_allocator]
    static ALLOC: Wasm = Wasm(UnsafeCell::new(Heap::new()));

    fn grow(pages: usize) -> Option<usize> {
        let old = core::arch::wasm32::memory_grow(0, pages);
        (old != usize::MAX).then(|| old * PAGE)
    }

    unsafe impl GlobalAlloc for Wasm {
        unsafe fn alloc(&self, l: Layout) -> *mut u8 {
            (*self.0.get()).alloc(l.size(), l.align(), grow)
        }
        unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
            (*self.0.get()).dealloc(p, l.size(), l.align())
        }
        unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
            if Heap::same_class(l.size(), new, l.align()) {
                return p;
            }
            let q = self.alloc(Layout::from_size_align_unchecked(new, l.align()));
            if !q.is_null() {
                core::ptr::copy_nonoverlapping(p, q, l.size().min(new));
                self.dealloc(p, l);
            }
            q
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake linear memory: page-aligned region inside a Vec, handed out page by page.
    struct Mem {
        buf: Vec<u8>,
        base: usize,
        used: usize,
        grows: usize,
    }

    impl Mem {
        fn new(pages: usize) -> Self {
            let buf = vec![0u8; (pages + 1) * PAGE];
            let base = (buf.as_ptr() as usize + PAGE - 1) & !(PAGE - 1);
            Mem {
                buf,
                base,
                used: 0,
                grows: 0,
            }
        }
        fn grow(&mut self, pages: usize) -> Option<usize> {
            if (self.used + pages) * PAGE > self.buf.len() - PAGE {
                return None;
            }
            let at = self.base + self.used * PAGE;
            self.used += pages;
            self.grows += 1;
            Some(at)
        }
    }

    #[test]
    fn classes_round_up_to_powers_of_two() {
        assert_eq!(Heap::class(1, 1), Some(0));
        assert_eq!(Heap::class(8, 8), Some(0));
        assert_eq!(Heap::class(9, 1), Some(1));
        assert_eq!(Heap::class(3, 16), Some(1));
        assert_eq!(Heap::class(65_536, 4), Some(13));
        assert_eq!(Heap::class(usize::MAX / 2, 1), None);
    }

    #[test]
    fn blocks_are_aligned_distinct_and_reused() {
        let mut m = Mem::new(64);
        let mut h = Heap::new();
        unsafe {
            let mut live = Vec::new();
            for (i, size) in [1usize, 7, 8, 24, 100, 1000, 5000, 70_000, 33, 16]
                .iter()
                .enumerate()
            {
                let align = 1 << (i % 4);
                let p = h.alloc(*size, align, |n| m.grow(n));
                assert!(!p.is_null());
                assert_eq!(p as usize % align, 0);
                core::ptr::write_bytes(p, i as u8, *size);
                live.push((p, *size, align, i as u8));
            }
            // No overlap: every block still holds its own byte pattern.
            for &(p, size, _, b) in &live {
                assert!(core::slice::from_raw_parts(p, size).iter().all(|x| *x == b));
            }
            // Free and allocate the same sizes again: the same addresses come back, no growth.
            let grows = m.grows;
            for &(p, size, align, _) in &live {
                h.dealloc(p, size, align);
            }
            for &(p, size, align, _) in live.iter().rev() {
                let q = h.alloc(size, align, |n| m.grow(n));
                assert_eq!(q, p, "size {size} reused");
            }
            assert_eq!(m.grows, grows);
        }
    }

    #[test]
    fn a_steady_workload_reaches_a_steady_heap() {
        let mut m = Mem::new(16);
        let mut h = Heap::new();
        unsafe {
            // An hour of one-second ticks: each tick makes and drops a few strings.
            for tick in 0..3600usize {
                let sizes = [16 + tick % 50, 120, 300 + tick % 7, 48];
                let ps: Vec<_> = sizes
                    .iter()
                    .map(|s| (h.alloc(*s, 1, |n| m.grow(n)), *s))
                    .collect();
                for (p, s) in ps {
                    assert!(!p.is_null());
                    h.dealloc(p, s, 1);
                }
            }
        }
        assert_eq!(m.used, 1, "one page serves the whole hour");
    }

    #[test]
    fn exhausted_memory_returns_null() {
        let mut m = Mem::new(1);
        let mut h = Heap::new();
        unsafe {
            assert!(h.alloc(200_000, 8, |n| m.grow(n)).is_null());
            assert!(!h.alloc(64, 8, |n| m.grow(n)).is_null());
        }
    }
}
