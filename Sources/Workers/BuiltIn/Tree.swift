/// `tree`: `grow {"depth": D, "fanout": F}` spawns F children, each growing
/// D-1 levels further (at most `maximumNodes` actors in all); `count`
/// replies with this node's live children; stopping the root (enqueue stop)
/// stops the whole tree. A child's failure (`child-failed`) is ignored: it
/// is in the dead-letter queue, and a tree has nothing to repair.
public struct Tree: TypedBehavior {
    public struct State: Codable, Sendable, Equatable {
        public var depth = 0
        public var grown = false

        public init(depth: Int = 0, grown: Bool = false) {
            self.depth = depth
            self.grown = grown
        }
    }

    /// Grows `depth` levels of `fanout` children below this node, once:
    /// depth 0...6, fanout 1...10.
    public struct Grow: ActorMessage {
        public static let kind = "grow"
        public var depth: Int
        public var fanout: Int

        public init(depth: Int, fanout: Int) {
            self.depth = depth
            self.fanout = fanout
        }
    }

    /// Replies with the number of this node's live children.
    public struct Count: ActorRequest {
        public static let kind = "count"
        public typealias Reply = Children

        public init() {}
    }

    /// The reply to `Count`: `{"children": N}`.
    public struct Children: Codable, Sendable, Equatable {
        public var children: Int

        public init(children: Int) { self.children = children }
    }

    public static let typeName = "tree"
    /// The most actors one `grow` may make, the root included: a message must
    /// not fill Redis with a million actors.
    public static let maximumNodes = 10_000
    public static let initialState = State()

    public init() {}

    public let handlers = Handlers<Tree>()
        .on(Grow.self) { grow, state, context in
            guard (0...6).contains(grow.depth), (1...10).contains(grow.fanout) else {
                throw MessageRejected("grow takes depth 0...6 and fanout 1...10")
            }
            let nodes = Tree.nodes(depth: grow.depth, fanout: grow.fanout)
            guard nodes <= Tree.maximumNodes else {
                throw MessageRejected("grow depth \(grow.depth), fanout \(grow.fanout) makes \(nodes) actors; at most \(Tree.maximumNodes)")
            }
            guard !state.grown else { throw MessageRejected("\(context.address) has already grown") }
            state.grown = true
            state.depth = grow.depth
            guard grow.depth > 0 else { return }
            for index in 0..<grow.fanout {
                // Under this node's own type name, which a test may have renamed.
                let child = try context.spawn(Tree.self, id: "\(context.address.id).\(index)", state: State(), typeName: context.address.type)
                try context.send(Grow(depth: grow.depth - 1, fanout: grow.fanout), to: child)
            }
        }
        .on(Count.self) { _, _, context in Children(children: try await context.children().count) }

    /// The actors of a full tree: 1 + F + F² + … + Fᴰ.
    static func nodes(depth: Int, fanout: Int) -> Int {
        (0...depth).reduce((total: 0, level: 1)) { sum, _ in (sum.total + sum.level, sum.level * fanout) }.total
    }
}
