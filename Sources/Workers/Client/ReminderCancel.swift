import Foundation

extension GreenroomClient {
    /// Cancels the actor's reminder `name` from outside: a
    /// `greenroom.cancel-reminder` message, handled in the actor's turn order
    /// like any other. Returns whether the actor had such a reminder.
    public func cancelReminder(_ name: String, of address: ActorAddress, timeout: Duration = .seconds(10)) async throws -> Bool {
        let reply = try await ask(address, kind: WireFormat.SystemKind.cancelReminder, payload: try TurnContext.encode(["name": name]), timeout: timeout)
        struct Cancelled: Decodable { var cancelled: Bool }
        do {
            return try JSONDecoder().decode(Cancelled.self, from: Data(reply.payload)).cancelled
        } catch {
            throw ReplyDoesNotDecode(address: address, kind: WireFormat.SystemKind.cancelReminder, expected: #"{"cancelled": Bool}"#,
                                     problem: JSONErrorText.describe(error, in: reply.payload), reply: reply.text)
        }
    }
}
