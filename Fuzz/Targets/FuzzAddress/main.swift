import FuzzDriver
import Workers

/// The libFuzzer target: ActorAddress(parsing:) must never crash; an address it
/// accepts follows the naming rules and prints back as the same text.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzAddress(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: start, count: start == nil ? 0 : count), as: UTF8.self)
    guard let address = try? ActorAddress(parsing: text) else { return 0 }
    precondition(address.description == text, "\(text.debugDescription) parsed as \(address)")
    let typeOK = address.type.utf8.count <= 64 && address.type.utf8.first.map { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) } == true
        && address.type.utf8.allSatisfy { isLowerAlphanumeric($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    let idOK = (1...200).contains(address.id.utf8.count)
        && address.id.utf8.allSatisfy { isAlphanumeric($0) || ".:_@-".utf8.contains($0) }
    precondition(typeOK && idOK, "\(text.debugDescription) breaks the naming rules but was accepted")
    precondition((try? ActorAddress(type: address.type, id: address.id)) == address)
    return 0
}

private func isLowerAlphanumeric(_ byte: UInt8) -> Bool {
    (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
}

private func isAlphanumeric(_ byte: UInt8) -> Bool {
    isLowerAlphanumeric(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
}

runFuzzer { start, count in fuzzAddress(start, count) }
