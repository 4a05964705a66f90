//! The full-text indexer yields the CPU to deliveries.
//!
//! Indexing a 100 KB message (FTS5 trigrams) costs more CPU than receiving and storing it: a
//! profile of 100 KB SMTP ingest found half the server's CPU on the indexer's SQLite thread
//! (bench/README.md, round 5). The index may lag, since SEARCH scans what it does not hold yet,
//! while a delivery's `250` waits on the CPU. So the indexer's thread runs at a lower
//! priority: under a burst it takes what deliveries leave, and it catches up when they stop.

/// The name of the indexer connection's worker thread, by which it is found; at most 15
/// octets, which is what the kernel keeps of a thread's name.
pub(super) const INDEXER_THREAD: &str = "postwerk-index";

/// The indexer thread's nice value, the lowest priority there is. Linux's scheduler weighs
/// nice 19 at 15 against nice 0's 1024, so the indexer gets about 1.5% of a busy core and all
/// of an idle one. Raising one's own nice value needs no privilege.
#[cfg(target_os = "linux")]
const INDEXER_NICE: i32 = 19;

/// Lowers the priority of every thread named [`INDEXER_THREAD`] in this process (the
/// indexer's SQLite worker; one per open store). On Linux the nice value belongs to the
/// thread, so `setpriority(PRIO_PROCESS, tid)` touches that thread alone (setpriority(2),
/// NOTES). Elsewhere, and on any failure, the indexer keeps the normal priority: it only
/// loses speed, never correctness.
#[cfg(target_os = "linux")]
pub(super) fn lower() {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return;
    };
    for task in tasks.flatten() {
        let name = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if name.trim_end() != INDEXER_THREAD {
            continue;
        }
        let tid = task.file_name().to_str().and_then(|tid| tid.parse().ok());
        let Some(pid) = tid.and_then(rustix::process::Pid::from_raw) else {
            continue;
        };
        // Only ever down: a server run with `nice` keeps its lower priority everywhere.
        let current = rustix::process::getpriority_process(Some(pid)).unwrap_or(INDEXER_NICE);
        if current >= INDEXER_NICE {
            continue;
        }
        if let Err(error) = rustix::process::setpriority_process(Some(pid), INDEXER_NICE) {
            tracing::debug!(%error, "could not lower the search indexer's priority");
        }
    }
}

#[cfg(not(target_os = "linux"))]
pub(super) fn lower() {}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// A thread of that name ends up at the indexer's nice value; others keep theirs.
    #[test]
    fn the_named_thread_alone_is_lowered() {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let indexer = std::thread::Builder::new()
            .name(INDEXER_THREAD.to_owned())
            .spawn(move || {
                ready_tx.send(rustix::thread::gettid()).ok();
                done_rx.recv().ok();
            })
            .expect("a thread");
        let tid = ready_rx.recv().expect("the thread's id");
        let own = rustix::process::getpriority_process(None).expect("our nice value");
        lower();
        let lowered = rustix::process::getpriority_process(Some(tid)).expect("its nice value");
        done_tx.send(()).ok();
        indexer.join().ok();
        assert_eq!(lowered, INDEXER_NICE.max(own));
        assert_eq!(rustix::process::getpriority_process(None).ok(), Some(own));
    }
}
