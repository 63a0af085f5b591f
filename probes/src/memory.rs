//! What the idle agent keeps of the heap it used during a test (issue 15: the agent's own cost
//! should stay within 10 MB RSS while idle).
//!
//! glibc's malloc keeps freed memory for reuse: the buffers, TLS sessions and HTTP clients of a
//! download or upload are freed when the run ends, but the pages stay resident in the arena that
//! served them, and every thread that allocates gets an arena of its own (up to 8 per core), so
//! the Tokio workers and each short-lived blocking thread (name lookups) hold their own left-over
//! pages. An agent is idle almost all the time, so it hands those pages back to the kernel after
//! every run ([`release_free_memory`]) and shares two arenas between its threads
//! ([`limit_arenas`]); `scripts/agent_rss.py` measures the effect (BENCHMARKS.md, "1,000 agents").
//! Other allocators and other C libraries: both are no-ops.

/// Cap the number of malloc arenas (call before any thread starts). Fewer arenas mean less
/// memory parked per thread; two keep the two Tokio workers from contending on one lock.
pub fn limit_arenas(arenas: i32) {
    imp::limit_arenas(arenas);
}

/// Return free heap pages to the kernel (all arenas, including free chunks below the top).
/// Takes well under a millisecond on an idle agent's heap.
pub fn release_free_memory() {
    imp::release_free_memory();
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
mod imp {
    pub fn limit_arenas(arenas: i32) {
        // SAFETY: mallopt only sets an allocator parameter; M_ARENA_MAX takes any positive count.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, arenas.max(1));
        }
    }

    pub fn release_free_memory() {
        // SAFETY: malloc_trim takes no pointers; it locks each arena while trimming it.
        unsafe {
            libc::malloc_trim(0);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
mod imp {
    pub fn limit_arenas(_arenas: i32) {}
    pub fn release_free_memory() {}
}

#[cfg(test)]
mod tests {
    #[test]
    fn releasing_after_a_large_free_keeps_the_heap_usable() {
        super::limit_arenas(2);
        let big: Vec<Vec<u8>> = (0..64).map(|i| vec![i as u8; 64 * 1024]).collect();
        let sum: u64 = big.iter().map(|v| v[0] as u64).sum();
        drop(big);
        super::release_free_memory();
        let again = vec![7u8; 4 * 1024 * 1024];
        assert_eq!(sum, (0..64).sum::<u64>());
        assert!(again.iter().all(|&b| b == 7));
    }
}
