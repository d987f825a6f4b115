import Foundation
import Workers

/// The transfers a test sent between `account` actors, and what every
/// balance must be once they have all been applied exactly once.
///
/// Amounts are chosen so that no transfer can be refused, whatever order the
/// fleet applies them in: an account's transfers out never add up to more
/// than its opening balance (money it receives only helps). So each account's
/// final balance is exact — opening, minus what it sent, plus what it got —
/// and a transfer lost, doubled, or its credit lost or doubled, shows on the
/// accounts it touched, not only on the total.
struct Ledger {
    let accounts: [ActorAddress]
    let opening: Int
    private(set) var expected: [ActorAddress: Int]
    private(set) var sentOut: [ActorAddress: Int]
    private(set) var transfers: [GreenroomClient.Outgoing] = []

    init(accounts: [ActorAddress], opening: Int) {
        self.accounts = accounts
        self.opening = opening
        expected = Dictionary(uniqueKeysWithValues: accounts.map { ($0, opening) })
        sentOut = Dictionary(uniqueKeysWithValues: accounts.map { ($0, 0) })
    }

    /// Records a transfer and returns it as a message to send; nil when it
    /// could be refused (the sender's transfers out would pass its opening balance).
    @discardableResult
    mutating func transfer(from: ActorAddress, to: ActorAddress, amount: Int) -> GreenroomClient.Outgoing? {
        precondition(from != to && amount > 0)
        guard sentOut[from]! + amount <= opening else { return nil }
        sentOut[from]! += amount
        expected[from]! -= amount
        expected[to]! += amount
        let message = GreenroomClient.Outgoing(to: from, kind: "transfer", payload: Array(#"{"to":"\#(to)","amount":\#(amount)}"#.utf8))
        transfers.append(message)
        return message
    }

    /// `count` random transfers between distinct accounts, none refusable.
    static func random(accounts: [ActorAddress], opening: Int, count: Int, maximumAmount: Int) -> Ledger {
        var ledger = Ledger(accounts: accounts, opening: opening)
        var generator = SystemRandomNumberGenerator()
        var attempts = 0
        while ledger.transfers.count < count {
            attempts += 1
            precondition(attempts < count * 100, "opening balances too small for \(count) transfers of up to \(maximumAmount)")
            let from = Int.random(in: 0..<accounts.count, using: &generator)
            let to = (from + Int.random(in: 1..<accounts.count, using: &generator)) % accounts.count
            ledger.transfer(from: accounts[from], to: accounts[to], amount: Int.random(in: 1...maximumAmount, using: &generator))
        }
        return ledger
    }

    var total: Int { opening * accounts.count }

    /// The accounts whose balance is not what the ledger says, with both values.
    func mismatches(_ balances: [ActorAddress: Int]) -> [String] {
        accounts.compactMap { account in
            balances[account] == expected[account] ? nil : "\(account): \(balances[account].map(String.init) ?? "missing"), expected \(expected[account]!)"
        }
    }
}

/// Every account's committed balance now.
func balances(_ client: GreenroomClient, _ accounts: [ActorAddress]) async throws -> [ActorAddress: Int] {
    var balances: [ActorAddress: Int] = [:]
    for account in accounts {
        balances[account] = try JSONDecoder().decode(Account.State.self, from: Data(try await client.state(of: account))).balance
    }
    return balances
}

/// Every account's balance at a quiet point of their type (see `Quiet`).
func settledBalances(_ client: GreenroomClient, _ accounts: [ActorAddress], runtimes: [WorkerRuntime] = [],
                     seconds: Double = 300) async throws -> [ActorAddress: Int] {
    try await Quiet.settle("\(accounts.count) accounts", types: Array(Set(accounts.map(\.type))).sorted(), runtimes: runtimes, seconds: seconds) {
        try await balances(client, accounts)
    }
}
