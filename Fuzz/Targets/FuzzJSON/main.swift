import FuzzDriver
import Foundation
import Workers

/// The libFuzzer target: JSONValidator must never crash, and whatever it accepts
/// Foundation must be able to read (behaviours decode bodies with
/// JSONDecoder after the check).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = start.map { Array(UnsafeBufferPointer(start: $0, count: count)) } ?? []
    if JSONValidator.isValid(bytes) {
        do {
            _ = try JSONSerialization.jsonObject(with: Data(bytes), options: .fragmentsAllowed)
        } catch {
            fatalError("JSONValidator accepted what Foundation refuses (\(error)): \(String(decoding: bytes, as: UTF8.self).debugDescription)")
        }
    }
    return 0
}

runFuzzer { start, count in fuzzJSON(start, count) }
