#if canImport(Glibc)
import Glibc
#endif

/// Environment variables, for flag fallbacks.
enum ProcessEnvironment {
    static func value(_ name: String) -> String? {
        guard let raw = getenv(name) else { return nil }
        let value = String(cString: raw)
        return value.isEmpty ? nil : value
    }
}
