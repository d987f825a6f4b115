import CommandLineAdvice
import WorkerCommand

// The Greenroom worker: the built-in behaviours, configured by flags and
// GREENROOM_* variables (`worker --help`).
// One line per error, with advice (see `Advice`), and a non-zero exit.
await WorkerCommand.mainWithAdvice()
