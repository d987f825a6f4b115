#if canImport(Glibc)
import Glibc
#endif

/// Human-readable output on stdout, flushed line by line; nothing when
/// `quiet` (a command printing JSON instead).
final class Report: Sendable {
    private let quiet: Bool

    init(quiet: Bool = false) {
        self.quiet = quiet
    }

    func line(_ text: String) {
        guard !quiet else { return }
        print(text)
        fflush(nil)
    }

    static func format(_ duration: Duration) -> String {
        let seconds = duration.seconds
        if seconds < 1 { return "\(rounded(seconds * 1_000)) ms" }
        return "\(rounded(seconds)) s"
    }

    static func rate(_ count: Int, _ duration: Duration) -> String {
        let seconds = duration.seconds
        guard seconds > 0 else { return "—" }
        return "\(Int(Double(count) / seconds).formattedWithSeparators)/s"
    }

    private static func rounded(_ value: Double) -> String {
        let tenths = (value * 10).rounded() / 10
        return tenths == tenths.rounded() ? String(Int(tenths)) : String(tenths)
    }
}

extension Int {
    /// 12345 → "12,345".
    var formattedWithSeparators: String {
        let digits = String(magnitude)
        var out = ""
        for (index, character) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { out.append(",") }
            out.append(character)
        }
        return (self < 0 ? "-" : "") + out
    }
}

extension Duration {
    /// The duration in seconds, as a Double.
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
