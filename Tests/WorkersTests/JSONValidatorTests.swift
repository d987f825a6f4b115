import Foundation
import Testing
import Workers

@Suite("JSON validation", .timeLimit(.minutes(1)))
struct JSONValidatorTests {
    static let valid = [
        "{}", "[]", "0", "-0", "1.5e10", "-2.25E-3", "true", "false", "null", "\"\"", "\"a\\\"b\\\\c\\/\\n\\u00e9\\uD83D\\uDE00\"",
        #"{"by":1}"#, #" { "a" : [ 1 , 2 , { "b" : null } ] , "s" : "x" } "#, "[[[[[]]]]]", "\"héllo wörld ✓ 🎉\"",
        #"{"nested":{"deep":{"deeper":[true,false,null,0.1,-1e-7]}}}"#, "\t\n\r 42 \t\n\r",
    ]
    static let invalid = [
        "", " ", "{", "}", "[", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "01", "1.", ".5", "-", "1e", "1e+", "+1",
        "tru", "nulll", "\"unterminated", "\"bad \\x escape\"", "\"\\u12g4\"", "\"tab\tinside\"", "[1 2]", "{} {}",
        "NaN", "Infinity", "'single'", "[\"a\",]", "{\"a\":}", "\u{0}", "1e400", "\"\\uD83D\"", "\"\\uDE00\"", "\"\\uD83Dx\"",
    ]

    @Test("accepts valid JSON and rejects invalid JSON, agreeing with JSONSerialization")
    func corpus() {
        for text in Self.valid {
            #expect(JSONValidator.isValid(Array(text.utf8)), "should accept \(text)")
            #expect((try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])) != nil, "Foundation disagrees on \(text)")
        }
        for text in Self.invalid {
            #expect(!JSONValidator.isValid(Array(text.utf8)), "should reject \(text)")
        }
    }

    @Test("rejects invalid UTF-8 and nesting beyond 512")
    func edges() {
        #expect(!JSONValidator.isValid([0x22, 0xC3, 0x22]))          // truncated sequence
        #expect(!JSONValidator.isValid([0x22, 0xC0, 0xAF, 0x22]))    // overlong
        #expect(!JSONValidator.isValid([0x22, 0xED, 0xA0, 0x80, 0x22]))  // raw surrogate
        #expect(!JSONValidator.isValid([0x22, 0xF4, 0x90, 0x80, 0x80, 0x22]))  // beyond U+10FFFF
        #expect(JSONValidator.isValid(Array(("[" + String(repeating: "[", count: 500) + String(repeating: "]", count: 500) + "]").utf8)))
        #expect(!JSONValidator.isValid(Array((String(repeating: "[", count: 600) + String(repeating: "]", count: 600)).utf8)))
    }

    @Test("agrees with JSONSerialization on 20,000 random mutations of valid documents")
    func mutations() {
        var generator = SeededRandom(seed: 0x5EED)
        let alphabet = Array(#"{}[]":,.-+eE0123456789 truefalsnl\"abc"#.utf8)
        var disagreements: [String] = []
        for round in 0..<20_000 {
            var bytes = Array(Self.valid[round % Self.valid.count].utf8)
            for _ in 0..<(1 + Int(generator.next() % 3)) {
                let position = bytes.isEmpty ? 0 : Int(generator.next() % UInt64(bytes.count + 1))
                let byte = alphabet[Int(generator.next() % UInt64(alphabet.count))]
                switch generator.next() % 3 {
                case 0: bytes.insert(byte, at: position)
                case 1 where position < bytes.count: bytes[position] = byte
                default: if position < bytes.count { bytes.remove(at: position) }
                }
            }
            let foundation = (try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])) != nil
            // The one deliberate difference: Foundation accepts a trailing comma, RFC 8259 (and we) do not.
            let compact = String(decoding: bytes, as: UTF8.self).filter { !$0.isWhitespace }
            if foundation, compact.contains(",]") || compact.contains(",}") { continue }
            if JSONValidator.isValid(bytes) != foundation {
                disagreements.append(String(decoding: bytes, as: UTF8.self) + " (Foundation: \(foundation))")
            }
        }
        #expect(disagreements.isEmpty, "\(disagreements.prefix(10))")
    }
}
