import Workers

/// The probe's kind for delayed retries: `flaky {"seq": N, "times": K}`
/// throws on its first K attempts in this process, then counts as a
/// `touch {"seq": N}` (touches, last sequence number, out-of-order), so a
/// test sees whether the messages behind a parked one kept their order.
extension Probe {
    struct Flaky: Decodable {
        var seq: Int
        var times: Int
    }

    func flaky(_ message: Message, state: inout State, context: TurnContext) throws {
        let flaky = try message.decode(Flaky.self)
        let key = AttemptKey(type: context.address.type, messageID: message.id)
        let attempt = Self.attempts.withLock { attempts in
            attempts[key, default: 0] += 1
            return attempts[key]!
        }
        if attempt <= flaky.times { throw ProbeFailure(attempt: attempt) }
        state.touches += 1
        if flaky.seq <= state.lastSeq { state.outOfOrder += 1 }
        state.lastSeq = flaky.seq
    }
}
