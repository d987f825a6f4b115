import ArgumentParser

extension AsyncParsableCommand {
    /// `main()` for Greenroom's programs: parses the command line and runs
    /// the command, like ArgumentParser's own `main()`; when it fails, prints
    /// one line, `Advice.line(for:)`, and exits non-zero. ArgumentParser's own
    /// errors (usage, `--help`, validation) come out exactly as before.
    ///
    /// ```swift
    /// @main struct Tool: AsyncParsableCommand {
    ///     static func main() async { await mainWithAdvice() }
    /// }
    /// ```
    public static func mainWithAdvice() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: Advice.advice(for: error) == nil ? error : AdvisedError(line: Advice.line(for: error)))
        }
    }
}

/// An error with advice appended, as ArgumentParser prints it: `Error: <line>`.
struct AdvisedError: Error, CustomStringConvertible {
    let line: String
    var description: String { line }
}
