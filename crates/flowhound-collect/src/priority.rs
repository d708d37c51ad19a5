//! Thread priority: the Parquet writer runs niced, so that under a burst
//! the receiving and decoding threads get the CPU and the writer catches up
//! from the write-ahead log afterwards.

/// How much nicer than the rest the writer is (0 = same, 19 = nicest).
const WRITER_NICE: libc::c_int = 10;

/// Lower the calling thread's scheduling priority. Best effort: on failure
/// the thread simply keeps the process's priority.
#[allow(unsafe_code)]
pub fn lower_this_thread() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid and setpriority take plain integers, touch no
        // memory of ours, and only report failure through their result.
        let tid = unsafe { libc::gettid() };
        let _ = unsafe { libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, WRITER_NICE) };
    }
}
