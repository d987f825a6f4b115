import WorkerCommand
import Workers

await WorkerCommand.main(hosting: [HostedType(Tally())])
