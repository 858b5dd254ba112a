//! A small allocator for the wasm build: power-of-two size classes from
//! 16 B to 32 KiB, each with a free list, and whole 64 KiB pages for larger
//! blocks, kept on a list of their own for reuse. A few hundred bytes of
//! code where `dlmalloc` costs 6 KB; the queue's allocations (batches,
//! handle lists, the pending deque) round up to at most twice their size.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::{addr_of_mut, null_mut};

const PAGE: usize = 65_536;
/// Blocks up to half a page come from size classes 16, 32, … 32,768 bytes.
const CLASSES: usize = 12;
const SMALLEST: usize = 16;

struct Heap {
    /// Free blocks of each class, linked through their first word.
    free: [usize; CLASSES],
    /// Free runs of whole pages: each starts with its page count, then the
    /// next run's address.
    large: usize,
    /// Where the next small block is carved, and the end of its page.
    bump: usize,
    end: usize,
}

static mut HEAP: Heap = Heap {
    free: [0; CLASSES],
    large: 0,
    bump: 0,
    end: 0,
};

/// New pages from the browser; `None` when memory cannot grow.
fn grow(pages: usize) -> Option<usize> {
    let old = core::arch::wasm32::memory_grow(0, pages);
    (old != usize::MAX).then_some(old * PAGE)
}

/// The class index and block size for `layout`, if it is small.
fn class_of(layout: &Layout) -> Option<(usize, usize)> {
    let size = layout.size().max(layout.align()).max(SMALLEST);
    if size > PAGE / 2 {
        return None;
    }
    let class = (usize::BITS - (size - 1).leading_zeros()) as usize - 4;
    Some((class, SMALLEST << class))
}

fn pages_of(layout: &Layout) -> usize {
    layout.size().max(layout.align()).div_ceil(PAGE)
}

impl Heap {
    /// A block of `size` (a power of two, at most half a page), aligned
    /// to its size.
    unsafe fn carve(&mut self, size: usize) -> usize {
        let at = (self.bump + size - 1) & !(size - 1);
        if self.bump == 0 || at + size > self.end {
            let Some(page) = grow(1) else {
                return 0;
            };
            // The rest of the old page is left: small, and rarely any.
            self.bump = page;
            self.end = page + PAGE;
            return self.carve(size);
        }
        self.bump = at + size;
        at
    }

    unsafe fn alloc_pages(&mut self, pages: usize) -> usize {
        let mut link: *mut usize = addr_of_mut!(self.large);
        while *link != 0 {
            let run = *link;
            let next = (run + 4) as *mut usize;
            if *(run as *const usize) >= pages {
                *link = *next;
                return run;
            }
            link = next;
        }
        grow(pages).unwrap_or(0)
    }
}

pub struct SmallAlloc;

unsafe impl GlobalAlloc for SmallAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let heap = &mut *addr_of_mut!(HEAP);
        let at = match class_of(&layout) {
            Some((class, size)) => match heap.free[class] {
                0 => heap.carve(size),
                block => {
                    heap.free[class] = *(block as *const usize);
                    block
                }
            },
            None => heap.alloc_pages(pages_of(&layout)),
        };
        match at {
            0 => null_mut(),
            at => at as *mut u8,
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let heap = &mut *addr_of_mut!(HEAP);
        let block = ptr as usize;
        match class_of(&layout) {
            Some((class, _)) => {
                *(block as *mut usize) = heap.free[class];
                heap.free[class] = block;
            }
            None => {
                // A run keeps the size it was given: reused whole.
                *(block as *mut usize) = pages_of(&layout);
                *((block + 4) as *mut usize) = heap.large;
                heap.large = block;
            }
        }
    }
}
