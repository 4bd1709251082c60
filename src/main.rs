/// jemalloc instead of the system allocator: the sync's answers and bodies are whole documents of
/// 15–20 KB, each of its own size, and glibc's malloc was slow with them (`perf` put up to 40% of
/// the engine's samples in `_int_malloc`).
/// Twelve alternating bench runs: engine CPU per order 11% lower (median), simulator CPU 9–28%
/// lower, peak memory 7–9 MB higher (`docs/benchmarks.md`, "Allocator").
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    woocommerce_sync::cli::main()
}
