import Foundation
import Testing
@testable import Workers

/// The lateness histogram the `lateness` built-in keeps and `enqueue bench
/// --delays` merges. No servers.
@Suite("Lateness histogram: buckets, percentiles, merging", .timeLimit(.minutes(1)))
struct LatenessHistogramTests {
    @Test("exact below 1 s, to 10 ms below 10 s, to 100 ms above; the maximum exact")
    func buckets() {
        var histogram = LatenessHistogram()
        for value in [0, 7, 999, 1_234, 9_999, 12_345] { histogram.record(value) }
        #expect(histogram.buckets == ["0": 1, "7": 1, "999": 1, "1230": 1, "9990": 1, "12300": 1])
        #expect(histogram.count == 6 && histogram.maximum == 12_345 && histogram.early == 0)
    }

    @Test("percentiles by rank over the recorded messages; early ones counted apart")
    func percentiles() {
        var histogram = LatenessHistogram()
        for value in 1...100 { histogram.record(value) }
        histogram.record(-3)
        #expect(histogram.percentile(50) == 50)
        #expect(histogram.percentile(99) == 99)
        #expect(histogram.percentile(100) == 100)
        #expect(histogram.early == 1 && histogram.count == 101)
        #expect(LatenessHistogram().percentile(50) == nil)
    }

    @Test("merging adds counts and keeps the larger maximum")
    func merge() {
        var a = LatenessHistogram(), b = LatenessHistogram()
        for value in [1, 2, 2] { a.record(value) }
        for value in [2, 500, -1] { b.record(value) }
        a.merge(b)
        #expect(a.buckets == ["1": 1, "2": 3, "500": 1])
        #expect(a.count == 6 && a.maximum == 500 && a.early == 1)
        #expect(a.percentile(50) == 2)
    }

    @Test("in JSON the buckets are one string, ascending, and read back the same")
    func codable() throws {
        var histogram = LatenessHistogram()
        for value in [12_345, 7, 0, 7, 1_234, -2] { histogram.record(value) }
        let json = try JSONEncoder().encode(histogram)
        let object = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        #expect(object["buckets"] as? String == "0:1 7:2 1230:1 12300:1")
        #expect(try JSONDecoder().decode(LatenessHistogram.self, from: json) == histogram)
    }

    @Test("a histogram written with the buckets as an object still reads; a bad bucket is an error")
    func olderForm() throws {
        let old = #"{"buckets": {"3": 2, "1230": 1}, "count": 4, "maximum": 1239, "early": 1}"#
        let histogram = try JSONDecoder().decode(LatenessHistogram.self, from: Data(old.utf8))
        #expect(histogram.buckets == ["3": 2, "1230": 1] && histogram.count == 4 && histogram.maximum == 1_239 && histogram.early == 1)
        let bad = #"{"buckets": "3:2 x", "count": 2, "maximum": 3, "early": 0}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(LatenessHistogram.self, from: Data(bad.utf8)) }
    }
}
