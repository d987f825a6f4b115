#if canImport(Glibc)
import Glibc
#endif

/// Reads a file (or stdin for "-") line by line, counting bytes for progress.
final class LineReader {
    private let handle: UnsafeMutablePointer<FILE>
    private let ownsHandle: Bool
    private(set) var bytesRead = 0
    let byteCount: Int?

    init(path: String) throws {
        if path == "-" {
            handle = fdopen(0, "r")
            ownsHandle = false
            byteCount = nil
        } else {
            guard let file = fopen(path, "r") else {
                throw LineReaderError(description: "cannot open \(path): \(String(cString: strerror(errno)))")
            }
            handle = file
            ownsHandle = true
            var info = stat()
            byteCount = stat(path, &info) == 0 ? Int(info.st_size) : nil
        }
    }

    deinit {
        if ownsHandle { fclose(handle) }
    }

    func next() -> String? {
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        let length = getline(&line, &capacity, handle)
        defer { free(line) }
        guard length >= 0, let line else { return nil }
        bytesRead += length
        var text = String(cString: line)
        if text.hasSuffix("\n") { text.removeLast() }
        return text
    }
}

struct LineReaderError: Error, CustomStringConvertible {
    let description: String
}
