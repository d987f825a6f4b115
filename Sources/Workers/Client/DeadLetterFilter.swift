import Foundation

/// Which dead letters a browse, replay or purge applies to: every given
/// condition must hold; an empty filter takes them all.
public struct DeadLetterFilter: Sendable, Equatable, Codable {
    /// The target's actor type (`counter`, not `counter/c1`).
    public var type: String?
    /// Text the reason contains (case-insensitive), or a reason class's name
    /// (`DeadLetterClass`, e.g. `exhausted`).
    public var reason: String?
    /// The message id.
    public var id: String?

    public init(type: String? = nil, reason: String? = nil, id: String? = nil) {
        self.type = type
        self.reason = reason
        self.id = id
    }

    public var isEmpty: Bool { type == nil && reason == nil && id == nil }

    /// Whether `letter` passes every condition.
    public func matches(_ letter: DeadLetter) -> Bool {
        if let id, letter.messageID != id { return false }
        if let type {
            guard let target = letter.target, target.hasPrefix(type + "/") else { return false }
        }
        if let reason {
            let byClass = DeadLetterClass(rawValue: reason).map { DeadLetterClass(reason: letter.reason) == $0 } ?? false
            guard byClass || letter.reason.range(of: reason, options: .caseInsensitive) != nil else { return false }
        }
        return true
    }
}
