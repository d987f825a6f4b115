#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// The hand-off between async Swift and a thread that owns a C connection.
///
/// Callers on any thread `push` jobs; the owning thread `drain`s them. A
/// non-blocking pipe wakes the owning thread, so it can sleep in `poll(2)` on
/// the pipe and its socket at once and react to whichever comes first. The
/// pipe is written only when the queue goes from empty to non-empty, so a
/// burst of jobs costs one wake-up.
final class JobQueue<Job: Sendable>: Sendable {
    private struct State {
        var jobs: [Job] = []
        var closed = false
    }

    private let state = Mutex(State())
    /// Readable when jobs are waiting; poll it beside the connection's socket.
    let wakeDescriptor: Int32
    private let wakeWriter: Int32

    init() {
        var ends: [Int32] = [0, 0]
        precondition(pipe(&ends) == 0, "pipe failed: errno \(errno)")
        for end in ends {
            _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
        }
        wakeDescriptor = ends[0]
        wakeWriter = ends[1]
    }

    deinit {
        Glibc.close(wakeDescriptor)
        Glibc.close(wakeWriter)
    }

    /// Queues a job. Returns false (and drops nothing: the caller still holds
    /// the job) when the queue was closed because its thread has stopped.
    func push(_ job: Job) -> Bool {
        let wasEmpty: Bool? = state.withLock { state in
            if state.closed { return nil }
            state.jobs.append(job)
            return state.jobs.count == 1
        }
        guard let wasEmpty else { return false }
        if wasEmpty { wake() }
        return true
    }

    /// Takes every queued job. The wake-up is reset *before* the queue is
    /// emptied, so a job pushed after the reset always writes the pipe again.
    func drain() -> [Job] {
        // One read is enough: a byte is written only when the queue goes from
        // empty to non-empty, and only this drain empties it, so at most a
        // couple are pending. (Reading until EAGAIN cost a syscall per wake.)
        var scratch = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        _ = read(wakeDescriptor, &scratch, MemoryLayout.size(ofValue: scratch))
        return state.withLock { state in
            let jobs = state.jobs
            state.jobs.removeAll(keepingCapacity: true)
            return jobs
        }
    }

    /// Refuses further jobs and returns the ones still queued, so the owner can
    /// fail them with a reason instead of leaving their callers waiting.
    func close() -> [Job] {
        state.withLock { state in
            state.closed = true
            let jobs = state.jobs
            state.jobs.removeAll()
            return jobs
        }
    }

    var isClosed: Bool { state.withLock { $0.closed } }

    private func wake() {
        var one: UInt8 = 1
        _ = write(wakeWriter, &one, 1)
    }

    /// Sleeps until a job arrives, `descriptor` (if any, not negative) becomes
    /// readable, or `timeoutMilliseconds` pass (-1: no limit).
    /// Returns true when `descriptor` is readable or in error.
    @discardableResult
    func wait(alsoOn descriptor: Int32 = -1, timeoutMilliseconds: Int32) -> Bool {
        var fds = [pollfd(fd: wakeDescriptor, events: Int16(POLLIN), revents: 0)]
        if descriptor >= 0 {
            fds.append(pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0))
        }
        let result = poll(&fds, nfds_t(fds.count), timeoutMilliseconds)
        guard result > 0, fds.count > 1 else { return false }
        return fds[1].revents != 0
    }
}
