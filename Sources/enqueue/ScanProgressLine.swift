import Synchronization
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// How far a dead-letter scan got, as one line on stderr redrawn in place,
/// only when stderr is a terminal and the scan is long enough to notice
/// (stdout keeps just the data, for pipes and `--json`).
final class ScanProgressLine: Sendable {
    private let enabled = isatty(2) != 0
    private let verb: String
    private let shown = Mutex<ContinuousClock.Instant?>(nil)
    private let start = ContinuousClock.now

    init(_ verb: String) {
        self.verb = verb
    }

    /// Shows `progress`, at most ten times a second, from half a second on.
    func update(_ progress: DeadLetterScanProgress) {
        guard enabled else { return }
        let now = ContinuousClock.now
        let due = shown.withLock { last in
            guard now - start > .milliseconds(500), last.map({ now - $0 > .milliseconds(100) }) ?? true else { return false }
            last = now
            return true
        }
        guard due else { return }
        let percent = progress.total > 0 ? progress.seen * 100 / progress.total : 100
        let line = "\r\(verb) \(progress.seen.formattedWithSeparators) of \(progress.total.formattedWithSeparators) dead letters (\(percent)%)\u{1B}[K"
        write(2, line, line.utf8.count)
    }

    /// Clears the line, if one was shown.
    func finish() {
        guard enabled, shown.withLock({ $0 != nil }) else { return }
        let clear = "\r\u{1B}[K"
        write(2, clear, clear.utf8.count)
    }
}
