#if canImport(Glibc)
import Glibc
#endif

/// A one-line progress bar on stderr, only when stderr is a terminal.
final class Progress {
    private let total: Int?
    private let enabled = isatty(2) != 0
    private let clock = ContinuousClock()
    private let start: ContinuousClock.Instant

    init(total: Int?) {
        self.total = total
        start = clock.now
    }

    func update(sent: Int, bytes: Int) {
        guard enabled else { return }
        let elapsed = (clock.now - start).seconds
        let rate = elapsed > 0 ? Int(Double(sent) / elapsed) : 0
        var line = "\r\(sent.formattedWithSeparators) sent, \(rate.formattedWithSeparators)/s"
        if let total, total > 0 {
            let fraction = min(1, Double(bytes) / Double(total))
            let width = 30
            let filled = Int(fraction * Double(width))
            line = "\r[" + String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled) + "] \(Int(fraction * 100))% " + line.dropFirst()
        }
        write(2, line, line.utf8.count)
    }

    func finish(sent: Int) {
        guard enabled else { return }
        let clear = "\r\u{1B}[K"
        write(2, clear, clear.utf8.count)
    }
}
