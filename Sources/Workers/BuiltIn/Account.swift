/// `account`: a balance moved only by messages, so money is conserved under
/// any interleaving: `deposit {"amount"}`, `withdraw {"amount"}`,
/// `transfer {"to": "account/ID", "amount"}`, `get`. An overdraft is refused
/// with a reply (`{"ok": false, …}`) and changes nothing.
public struct Account: Behavior {
    public struct State: Codable, Sendable, Equatable {
        public var balance = 0
    }

    public struct Outcome: Codable, Sendable, Equatable {
        public var ok: Bool
        public var balance: Int
        public var reason: String?

        public init(ok: Bool, balance: Int, reason: String? = nil) {
            self.ok = ok
            self.balance = balance
            self.reason = reason
        }
    }

    struct Amount: Decodable {
        var amount: Int
    }

    struct Transfer: Decodable {
        var to: ActorAddress
        var amount: Int
    }

    public static let typeName = "account"
    public static let initialState = State()

    public init() {}

    public func handle(_ message: Message, state: inout State, context: TurnContext) async throws {
        switch message.kind {
        case "deposit":
            let amount = try positive(message.decode(Amount.self).amount)
            let (sum, overflow) = state.balance.addingReportingOverflow(amount)
            // A trap here would kill the worker on every redelivery: refuse instead.
            guard !overflow else { throw MessageRejected("depositing \(amount) into a balance of \(state.balance) overflows") }
            state.balance = sum
            try context.reply(Outcome(ok: true, balance: state.balance))
        case "withdraw":
            let amount = try positive(message.decode(Amount.self).amount)
            guard state.balance >= amount else {
                try context.reply(Outcome(ok: false, balance: state.balance, reason: "insufficient funds"))
                return
            }
            state.balance -= amount
            try context.reply(Outcome(ok: true, balance: state.balance))
        case "transfer":
            let transfer = try message.decode(Transfer.self)
            let amount = try positive(transfer.amount)
            guard transfer.to.type == context.address.type else { throw MessageRejected("can only transfer to another account, not \(transfer.to)") }
            guard state.balance >= amount else {
                try context.reply(Outcome(ok: false, balance: state.balance, reason: "insufficient funds"))
                return
            }
            state.balance -= amount
            // Committed with the debit: the credit can be delayed, never lost or doubled.
            try context.send(to: transfer.to, kind: "deposit", ["amount": amount])
            try context.reply(Outcome(ok: true, balance: state.balance))
        case "get":
            try context.reply(Outcome(ok: true, balance: state.balance))
        default:
            throw MessageRejected.unknownKind(message.kind)
        }
    }

    private func positive(_ amount: Int) throws -> Int {
        guard amount > 0 else { throw MessageRejected("amount must be positive, not \(amount)") }
        return amount
    }
}
