//! What the idle agent keeps of the heap it used during a test (issue 15: the agent's own cost
//! should stay within 10 MB RSS while idle).
//!
//! glibc's malloc keeps freed memory for reuse: the buffers, TLS sessions and HTTP clients of a
//! download or upload are freed when the run ends, but the pages stay resident in the arena that
//! served them, and every thread that allocates gets an arena of its own (up to 8 per core), so
//! the Tokio workers and each short-lived blocking thread (name lookups) hold their own left-over
//! pages. An agent is idle almost all the time, so it hands those pages back to the kernel after
//! every run ([`release_free_memory`]) and all its threads share one arena ([`limit_arenas`]):
//! `malloc_trim` returns the free top of the main arena, but never the top of another arena,
//! which held 1.2–1.4 MB of free, resident memory in an idle agent with two arenas (glibc's
//! `malloc_info`). `scripts/agent_rss.py` measures the effect (BENCHMARKS.md, "1,000 agents").
//! Other allocators and other C libraries: both are no-ops.
//!
//! The rest of an idle agent's resident set is the `probe` executable's own code and read-only
//! data: every page of it the agent ever ran stays mapped, and the kernel maps 64 kB of the
//! file around each page touched ("fault-around"; the whole page-cache folio on recent kernels,
//! 128 kB for a copied binary on Linux 6.18), so after one round of tests most of the
//! ~10 MB binary (which also holds the speed-test servers) is mapped although the idle agent
//! runs a small fraction of it. Those pages are never written (a read-only, private mapping of
//! the file), so the agent can drop its mappings of them when its last test ends
//! ([`release_code`]) and start-up is done: they leave the process for real (VmRSS, RssFile
//! and Pss fall), the page cache keeps them, and whatever runs next maps what it needs again
//! from there (a minor fault). Before a test starts the agent maps the whole range again in
//! one call ([`map_code`]), so no page fault of its own lands in a timed phase of a
//! measurement (connect, TLS, first byte, latency samples). `MADV_COLD` would leave the pages
//! mapped, and `MADV_PAGEOUT` skips pages mapped by more than one process and files the
//! process may not write (an agent running as a service user), so neither shrinks the resident
//! set where it matters. Without glibc's `dl_iterate_phdr` or on other systems both are no-ops.

/// Cap the number of malloc arenas (call before any thread starts). Fewer arenas mean less
/// memory parked per thread, and with one, `malloc_trim` can return all of the free heap. The
/// lock it costs is rarely taken: glibc serves small allocations from per-thread caches.
pub fn limit_arenas(arenas: i32) {
    imp::limit_arenas(arenas);
}

/// Return free heap pages to the kernel: free chunks of every arena and the main arena's top
/// (glibc never trims another arena's top here, hence one arena for the agent). Takes well
/// under a millisecond on an idle agent's heap.
pub fn release_free_memory() {
    imp::release_free_memory();
}

/// Drop this process's mappings of the executable's read-only segments (code and read-only
/// data; never the relocated read-only data or anything writable). The pages stay in the page
/// cache and are mapped again on use. Returns the bytes advised (0 where not supported).
pub fn release_code() -> usize {
    code::advise_code(code::Advice::Release)
}

/// Map the executable's read-only segments in one go (from the page cache; read from disk only
/// if the kernel evicted them), so the code a test runs does not fault during the test. Returns
/// the bytes advised (0 where not supported, e.g. kernels before 5.14).
pub fn map_code() -> usize {
    code::advise_code(code::Advice::Populate)
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

#[cfg(all(target_os = "linux", target_env = "gnu", target_pointer_width = "64"))]
#[allow(unsafe_code)]
mod code {
    use std::ffi::{c_int, c_void};
    use std::sync::OnceLock;

    pub enum Advice {
        Release,
        Populate,
    }

    pub fn advise_code(advice: Advice) -> usize {
        let advice = match advice {
            Advice::Release => libc::MADV_DONTNEED,
            Advice::Populate => libc::MADV_POPULATE_READ,
        };
        let mut done = 0;
        for &(start, end) in code_ranges() {
            // SAFETY: the range is page-aligned and lies inside a read-only, file-backed
            // PT_LOAD segment of the executable (outside PT_GNU_RELRO), mapped privately and
            // never written: MADV_DONTNEED only drops page-table entries, and the next access
            // maps the same file contents again. MADV_POPULATE_READ only faults pages in.
            if unsafe { libc::madvise(start as *mut c_void, end - start, advice) } == 0 {
                done += end - start;
            }
        }
        done
    }

    /// Page-aligned `[start, end)` address ranges of the executable's read-only segments, found
    /// once from its program headers.
    pub fn code_ranges() -> &'static [(usize, usize)] {
        static RANGES: OnceLock<Vec<(usize, usize)>> = OnceLock::new();
        RANGES.get_or_init(|| {
            let mut ranges: Vec<(usize, usize)> = Vec::new();
            // SAFETY: the callback only reads the headers glibc passes it and writes to the
            // Vec behind `data`, which outlives the call.
            unsafe {
                libc::dl_iterate_phdr(Some(executable), &mut ranges as *mut _ as *mut c_void);
            }
            ranges
        })
    }

    /// `dl_iterate_phdr` callback: glibc reports the executable first, so read its headers and
    /// stop.
    unsafe extern "C" fn executable(
        info: *mut libc::dl_phdr_info,
        _size: usize,
        data: *mut c_void,
    ) -> c_int {
        // SAFETY: glibc passes a valid info whose dlpi_phdr points at dlpi_phnum headers, and
        // `data` is the Vec of code_ranges.
        let (info, out) = unsafe { (&*info, &mut *(data as *mut Vec<(usize, usize)>)) };
        if info.dlpi_phdr.is_null() {
            return 1;
        }
        // SAFETY: as above.
        let phdrs = unsafe { std::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum.into()) };
        // SAFETY: sysconf has no preconditions.
        let page = match unsafe { libc::sysconf(libc::_SC_PAGESIZE) } {
            p if p > 0 => p as usize,
            _ => return 1,
        };
        let base = info.dlpi_addr as usize;
        let span = |p: &libc::Elf64_Phdr| {
            let start = base + p.p_vaddr as usize;
            (start, start + p.p_memsz as usize)
        };
        let relro: Vec<(usize, usize)> = phdrs
            .iter()
            .filter(|p| p.p_type == libc::PT_GNU_RELRO)
            .map(span)
            .collect();
        for p in phdrs {
            // Read-only and wholly file-backed (no zero-filled tail): pages that only ever hold
            // the file's contents.
            if p.p_type != libc::PT_LOAD || p.p_flags & libc::PF_W != 0 || p.p_filesz != p.p_memsz {
                continue;
            }
            let (start, end) = span(p);
            // Only whole pages inside the segment: a page shared with a neighbour stays.
            let (start, end) = (start.next_multiple_of(page), end / page * page);
            // RELRO data is relocated in place (private, written copies) before it is made
            // read-only; dropping it would lose the relocations. It is never in a read-only
            // PT_LOAD, but check rather than rely on the linker.
            if start < end && relro.iter().all(|&(s, e)| e <= start || end <= s) {
                out.push((start, end));
            }
        }
        1
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
mod imp {
    pub fn limit_arenas(_arenas: i32) {}
    pub fn release_free_memory() {}
}

#[cfg(not(all(target_os = "linux", target_env = "gnu", target_pointer_width = "64")))]
mod code {
    pub enum Advice {
        Release,
        Populate,
    }
    pub fn advise_code(_advice: Advice) -> usize {
        0
    }
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

    /// Read-only data only this test reads: 256 kB (four fault-around windows) in .rodata.
    static UNTOUCHED: [u8; 256 << 10] = [0x5a; 256 << 10];

    /// Whether the page holding `addr` is mapped in this process (/proc/self/pagemap bit 63;
    /// readable without privileges).
    #[cfg(all(target_os = "linux", target_env = "gnu", target_pointer_width = "64"))]
    fn mapped(addr: usize) -> bool {
        use std::io::{Read, Seek, SeekFrom};
        let mut f = std::fs::File::open("/proc/self/pagemap").unwrap();
        f.seek(SeekFrom::Start((addr / 4096 * 8) as u64)).unwrap();
        let mut entry = [0u8; 8];
        f.read_exact(&mut entry).unwrap();
        u64::from_le_bytes(entry) >> 63 == 1
    }

    #[cfg(all(target_os = "linux", target_env = "gnu", target_pointer_width = "64"))]
    #[test]
    fn released_code_pages_leave_the_process_and_come_back_intact() {
        let probe = &UNTOUCHED[128 << 10] as *const u8 as usize;
        assert!(
            super::code::code_ranges()
                .iter()
                .any(|&(s, e)| (s..e).contains(&probe)),
            "read-only data outside the advised ranges"
        );
        let here = released_code_pages_leave_the_process_and_come_back_intact as *const () as usize;
        assert!(super::code::code_ranges()
            .iter()
            .any(|&(s, e)| (s..e).contains(&here)));
        assert!(super::map_code() > 0);
        assert!(mapped(probe), "mapped after map_code");
        assert!(super::release_code() > 0);
        assert!(!mapped(probe), "still mapped after release_code");
        // Mapped again from the file on use, with the same contents.
        let sum: u64 = std::hint::black_box(&UNTOUCHED)
            .iter()
            .map(|&b| b as u64)
            .sum();
        assert_eq!(sum, 0x5a * (256 << 10));
        assert!(mapped(probe));
    }
}
