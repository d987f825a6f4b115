/// The limits on time that every entry point shares: a turn's delayed sends,
/// timers and reminders, and a client's delayed sends (docs/TIME.md, "Limits").
public enum Schedules {
    /// The longest delay a message may be scheduled ahead: one year (365 days).
    public static let maximumDelay: Duration = .seconds(365 * 24 * 3_600)

    /// The shortest period of a reminder: one second.
    public static let minimumReminderPeriod: Duration = .seconds(1)
}
