import WorkerCommand

// The Greenroom worker: the built-in behaviours, configured by flags and
// GREENROOM_* variables (`worker --help`); one line per error, with advice.
await WorkerCommand.main(hosting: WorkerCommand.builtIns)
