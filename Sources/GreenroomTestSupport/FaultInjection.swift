#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import Workers

/// For crash tests only: kills the process at a chosen point of the Nth turn,
/// the way a power cut would (no cleanup, no acks). Set with
/// `GREENROOM_FAULT=after-commit:N` or `after-publish:N`.
///
/// A `TurnHooks`: install it in `WorkerRuntime.Configuration.hooks`.
public final class FaultInjection: TurnHooks {
    public enum Point: String, Sendable {
        case afterCommit = "after-commit"
        case afterPublish = "after-publish"
    }

    let point: Point
    let turn: Int
    private let count = Mutex(0)

    public init(point: Point, turn: Int) {
        self.point = point
        self.turn = turn
    }

    /// Parses `after-commit:N` / `after-publish:N`.
    public convenience init?(specification: String) {
        let parts = specification.split(separator: ":")
        guard parts.count == 2, let point = Point(rawValue: String(parts[0])), let turn = Int(parts[1]), turn > 0 else { return nil }
        self.init(point: point, turn: turn)
    }

    public func didCommit(_ actor: ActorAddress, turns: Int) {
        for _ in 0..<turns { trip(.afterCommit) }
    }

    public func didPublish(_ actor: ActorAddress, turns: Int) {
        for _ in 0..<turns { trip(.afterPublish) }
    }

    private func trip(_ here: Point) {
        guard here == point else { return }
        let reached = count.withLock { count in
            count += 1
            return count == turn
        }
        if reached { _exit(86) }
    }
}

/// A `GREENROOM_FAULT` that is not `after-commit:N` or `after-publish:N`.
public struct FaultSpecificationError: Error, CustomStringConvertible {
    public let specification: String

    public init(specification: String) {
        self.specification = specification
    }

    public var description: String { "GREENROOM_FAULT must be after-commit:N or after-publish:N, not '\(specification)'" }
}
