import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A child process started with posix_spawn and reaped by polling
/// `waitpid(…, WNOHANG)`: every wait is bounded, honours task cancellation and
/// holds no thread while it waits. A child that a wait gives up on is
/// SIGKILLed and reaped, and so is every child still running when the test
/// process exits. (Foundation's `Process.waitUntilExit` can hang when called
/// from a task; a blocking `waitpid` cannot be cancelled.)
final class ChildProcess: Sendable {
    let pid: pid_t
    /// Whether the child leads a process group of its own, so that killing
    /// it kills what it started too (`enqueue bench` starts workers).
    let ownsGroup: Bool
    /// Set once reaped: the exit code, or 128 + signal when a signal ended it.
    private let reaped = Mutex<Int32?>(nil)

    /// Starts `path` with `arguments` and extra `environment` variables. Its
    /// stdout goes to `logPath` (or nowhere), its stderr to `errorPath`, or
    /// with stdout when that is nil. With `ownGroup`, the child leads a new
    /// process group, and SIGKILLs go to the whole group (a Ctrl-C on the
    /// terminal then no longer reaches it: only for programs that start
    /// processes of their own).
    init(_ path: String, _ arguments: [String], environment: [String: String] = [:], logPath: String = "/dev/null",
         errorPath: String? = nil, ownGroup: Bool = false) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        if let errorPath {
            posix_spawn_file_actions_addopen(&actions, 2, errorPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        } else {
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        // Threads of the test runner block signals; the child must not inherit
        // that mask, or it would never see the SIGTERM that stops it.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaults = sigset_t()
        sigfillset(&defaults)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | (ownGroup ? POSIX_SPAWN_SETPGROUP : 0)))
        posix_spawnattr_setpgroup(&attributes, 0)
        var variables: [String] = []
        var index = 0
        while let entry = environ[index] {
            let text = String(cString: entry)
            if !environment.keys.contains(where: { text.hasPrefix($0 + "=") }) { variables.append(text) }
            index += 1
        }
        variables += environment.map { "\($0.key)=\($0.value)" }
        let envp: [UnsafeMutablePointer<CChar>?] = variables.map { strdup($0) } + [nil]
        defer { envp.forEach { free($0) } }
        _ = Self.killLeftoversAtExit
        var child = pid_t()
        let result = posix_spawn(&child, path, &actions, &attributes, argv, envp)
        guard result == 0 else { throw SpawnFailed(path: path, code: result) }
        pid = child
        ownsGroup = ownGroup
        Self.running.withLock { $0[child] = ownGroup }
    }

    /// The exit status once the process has been reaped, else nil.
    var exitStatus: Int32? { reaped.withLock { $0 } }

    /// Reaps the process if it has exited and returns its status; nil while
    /// it runs. Never blocks.
    @discardableResult
    func poll() -> Int32? {
        reaped.withLock { status in
            guard status == nil else { return status }
            var raw: Int32 = 0
            let result = waitpid(pid, &raw, WNOHANG)
            if result == pid {
                let signal = raw & 0x7F
                status = signal == 0 ? (raw >> 8) & 0xFF : 128 + signal
            } else if result < 0 && errno == ECHILD {
                status = -1  // not ours to reap any more; never happens unless someone else waited
            }
            if status != nil { _ = Self.running.withLock { $0.removeValue(forKey: pid) } }
            return status
        }
    }

    /// Sends `signal` unless the process has been reaped (its pid may have
    /// been reused since); to its whole group with `toGroup`, if it leads one.
    func send(_ signal: Int32, toGroup: Bool = false) {
        reaped.withLock { status in
            if status == nil { _ = kill(toGroup && ownsGroup ? -pid : pid, signal) }
        }
    }

    /// Waits until the process exits and returns its status. If `seconds`
    /// pass first, or the calling task is cancelled, the process is SIGKILLed
    /// and reaped and the result is nil: nil always means "it did not end by
    /// itself in time".
    @discardableResult
    func exited(within seconds: Double? = nil) async -> Int32? {
        let deadline = seconds.map { ContinuousClock.now + .milliseconds(Int($0 * 1_000)) }
        while true {
            if let status = poll() { return status }
            if Task.isCancelled || deadline.map({ ContinuousClock.now >= $0 }) == true { return killNow() }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Sends `signal` (SIGTERM by default; with SIGCONT after it, so a
    /// stopped process sees it too) and waits like `exited(within:)`: a
    /// process still running after `seconds` is SIGKILLed, and the result is nil.
    @discardableResult
    func terminate(_ signal: Int32 = SIGTERM, within seconds: Double = 30) async -> Int32? {
        send(signal)
        if signal != SIGKILL { send(SIGCONT) }
        return await exited(within: seconds)
    }

    /// `terminate` for code that cannot await (deinit, synchronous cleanup):
    /// polls on this thread, at most `seconds`, then SIGKILLs.
    @discardableResult
    func stop(_ signal: Int32 = SIGTERM, within seconds: Double = 10) -> Int32? {
        send(signal)
        if signal != SIGKILL { send(SIGCONT) }
        return waitForExit(within: seconds)
    }

    /// Waits on this thread (polling) until the process exits, at most
    /// `seconds` or until the calling task is cancelled; then SIGKILLs it and
    /// returns nil. Prefer `exited(within:)` in async code.
    @discardableResult
    func waitForExit(within seconds: Double = 60) -> Int32? {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1_000))
        while true {
            if let status = poll() { return status }
            if Task.isCancelled || ContinuousClock.now >= deadline { return killNow() }
            usleep(5_000)
        }
    }

    /// SIGKILLs and reaps the process (bounded: gives up after 5 s, which
    /// only a process stuck in the kernel takes). Returns its status if it
    /// had ended by itself meanwhile, else nil.
    private func killNow() -> Int32? {
        send(SIGKILL, toGroup: true)
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline {
            if let status = poll() { return status == 128 + SIGKILL ? nil : status }
            usleep(1_000)
        }
        return nil
    }

    deinit {
        if poll() == nil { _ = killNow() }
    }

    /// Children started and not yet reaped, SIGKILLed when the test process
    /// exits, so a failed or timed-out test leaves no worker behind.
    private static let running = Mutex<[pid_t: Bool]>([:])  // pid: leads its own group
    private static let killLeftoversAtExit: Void = {
        atexit {
            for (pid, ownsGroup) in ChildProcess.running.withLock({ $0 }) { kill(ownsGroup ? -pid : pid, SIGKILL) }
        }
    }()
}

struct SpawnFailed: Error, CustomStringConvertible {
    let path: String
    let code: Int32
    var description: String { "cannot start \(path): \(String(cString: strerror(code)))" }
}
