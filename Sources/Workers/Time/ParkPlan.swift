/// How a plan parks its actor and handles a parked actor's deliveries
/// (docs/TIME.md, "Delayed retries"). Everything here is written by the
/// group's commit (`CommitScript.Parking`) and acked after it.
extension TurnPlan {
    /// Decides a delivery for an actor that is parked, or one carrying
    /// `x-greenroom-release`, and covers it unless it runs.
    mutating func arrival(_ item: Delivered) throws -> ParkedArrival {
        let message = item.envelope.message
        let unparking = message.kind == WireFormat.SystemKind.unpark ? (try? message.decode(Unpark.self))?.park : nil
        let decision = ParkedArrival.of(kind: message.kind, messageID: item.messageID, release: item.release, unparking: unparking,
                                        parked: record.parked)
        switch decision {
        case .run:
            return .run
        case .hold:
            // A redelivery may have been held before its ack was lost: appended only if not there yet.
            group.parking?.held.append((item.delivery.redelivered, try HeldMessage(item).element()))
        case .drop:
            break
        case .unpark:
            let park = record.parked ?? ""  // an unpark of the current park
            let round = try ParkID.releaseEntry(park, actor: item.actor, due: DueWatch.now())
            group.parking?.unpark = (park, (round.id, round.due, try round.encoded()))
            unparks = true
        }
        store(item)
        return decision
    }

    /// The turn of `item` threw and its next pause parks the actor: the
    /// message goes to the front of the held list with its `attempts`, a
    /// release entry is due after `pause`, and the actor's field `parked`
    /// names the park, all in this group's commit. The plan goes on: the
    /// actor's later messages are held.
    mutating func park(_ item: Delivered, reason: String, attempts: Int, pause: Duration, now: Int64) throws {
        let park = ParkID.make(messageID: item.messageID, attempts: attempts)
        if group.parking == nil { group.parking = CommitScript.Parking(expected: record.parked) }
        // A released message parking again leaves the head of the list first, then is pushed back with its new count.
        settledRelease(item)
        group.parking?.park = (park, try HeldMessage(item, attempts: attempts).element())
        let release = try ParkID.releaseEntry(park, actor: item.actor, due: now + Schedules.milliseconds(pause))
        group.dueAdded.append((release.id, release.due, try release.encoded()))
        record.parked = park
        parked = (item, reason, attempts)
        store(item)
    }

    /// A message released from the park is settled by this group (applied,
    /// refused or parked again): it leaves the head of the held list.
    mutating func settledRelease(_ item: Delivered) {
        if item.release != nil { group.parking?.released.append(item.messageID) }
    }
}
