/// `tree`: `grow {"depth": D, "fanout": F}` spawns F children, each growing
/// D-1 levels further (at most `maximumNodes` actors in all); `count`
/// replies with this node's live children; stopping the root (enqueue stop)
/// stops the whole tree.
public struct Tree: Behavior {
    public struct State: Codable, Sendable, Equatable {
        public var depth = 0
        public var grown = false
    }

    struct Grow: Codable {
        var depth: Int
        var fanout: Int
    }

    public static let typeName = "tree"
    /// The most actors one `grow` may make, the root included: a message must
    /// not fill Redis with a million actors.
    public static let maximumNodes = 10_000
    public static let initialState = State()

    public init() {}

    public func handle(_ message: Message, state: inout State, context: TurnContext) async throws {
        switch message.kind {
        case "grow":
            let grow = try message.decode(Grow.self)
            guard (0...6).contains(grow.depth), (1...10).contains(grow.fanout) else {
                throw MessageRejected("grow takes depth 0...6 and fanout 1...10")
            }
            let nodes = Self.nodes(depth: grow.depth, fanout: grow.fanout)
            guard nodes <= Self.maximumNodes else {
                throw MessageRejected("grow depth \(grow.depth), fanout \(grow.fanout) makes \(nodes) actors; at most \(Self.maximumNodes)")
            }
            guard !state.grown else { throw MessageRejected("\(context.address) has already grown") }
            state.grown = true
            state.depth = grow.depth
            guard grow.depth > 0 else { return }
            for index in 0..<grow.fanout {
                let child = try context.spawn(type: context.address.type, id: "\(context.address.id).\(index)", state: State())
                try context.send(to: child, kind: "grow", Grow(depth: grow.depth - 1, fanout: grow.fanout))
            }
        case "count":
            try context.reply(["children": try await context.children().count])
        case WireFormat.SystemKind.childFailed:
            break  // a child's failure is recorded in the dead-letter queue; nothing to repair here
        default:
            throw MessageRejected.unknownKind(message.kind)
        }
    }

    /// The actors of a full tree: 1 + F + F² + … + Fᴰ.
    static func nodes(depth: Int, fanout: Int) -> Int {
        (0...depth).reduce((total: 0, level: 1)) { sum, _ in (sum.total + sum.level, sum.level * fanout) }.total
    }
}
