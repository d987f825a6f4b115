/// `account`: a balance moved only by messages, so money is conserved under
/// any interleaving: `deposit {"amount"}`, `withdraw {"amount"}`,
/// `transfer {"to": "account/ID", "amount"}`, `get`, each replying an
/// `Outcome`. An overdraft is refused with a reply (`{"ok": false, …}`) and
/// changes nothing.
public struct Account: TypedBehavior {
    public struct State: Codable, Sendable, Equatable {
        public var balance = 0

        public init(balance: Int = 0) { self.balance = balance }
    }

    /// What every request of an account replies: whether it was done, and the balance after it.
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

    /// Adds a positive `amount`; one that would overflow is refused.
    public struct Deposit: ActorRequest {
        public static let kind = "deposit"
        public typealias Reply = Outcome
        public var amount: Int

        public init(amount: Int) { self.amount = amount }
    }

    /// Takes a positive `amount` out, if the balance covers it.
    public struct Withdraw: ActorRequest {
        public static let kind = "withdraw"
        public typealias Reply = Outcome
        public var amount: Int

        public init(amount: Int) { self.amount = amount }
    }

    /// Moves a positive `amount` to another account of the same type: the
    /// debit commits with the send of a `Deposit` to `to`, so the credit can
    /// be delayed, never lost or doubled.
    public struct Transfer: ActorRequest {
        public static let kind = "transfer"
        public typealias Reply = Outcome
        public var to: ActorRef<Account>
        public var amount: Int

        public init(to: ActorRef<Account>, amount: Int) {
            self.to = to
            self.amount = amount
        }
    }

    /// Replies with the balance.
    public struct Get: ActorRequest {
        public static let kind = "get"
        public typealias Reply = Outcome

        public init() {}
    }

    public static let typeName = "account"
    public static let initialState = State()

    public init() {}

    public let handlers = Handlers<Account>()
        .on(Deposit.self) { deposit, state, _ in
            let amount = try Account.positive(deposit.amount)
            let (sum, overflow) = state.balance.addingReportingOverflow(amount)
            // A trap here would kill the worker on every redelivery: refuse instead.
            guard !overflow else { throw MessageRejected("depositing \(amount) into a balance of \(state.balance) overflows") }
            state.balance = sum
            return Outcome(ok: true, balance: state.balance)
        }
        .on(Withdraw.self) { withdraw, state, _ in
            let amount = try Account.positive(withdraw.amount)
            guard state.balance >= amount else { return Outcome(ok: false, balance: state.balance, reason: "insufficient funds") }
            state.balance -= amount
            return Outcome(ok: true, balance: state.balance)
        }
        .on(Transfer.self) { transfer, state, context in
            let amount = try Account.positive(transfer.amount)
            guard transfer.to.address.type == context.address.type else {
                throw MessageRejected("can only transfer to another account, not \(transfer.to)")
            }
            guard state.balance >= amount else { return Outcome(ok: false, balance: state.balance, reason: "insufficient funds") }
            state.balance -= amount
            try context.send(Deposit(amount: amount), to: transfer.to)
            return Outcome(ok: true, balance: state.balance)
        }
        .on(Get.self) { _, state, _ in Outcome(ok: true, balance: state.balance) }

    private static func positive(_ amount: Int) throws -> Int {
        guard amount > 0 else { throw MessageRejected("amount must be positive, not \(amount)") }
        return amount
    }
}
