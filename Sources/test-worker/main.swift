import GreenroomTestSupport
import CommandLineAdvice
import WorkerCommand
import Workers

// The worker the process tests run: the built-ins plus `probe`, and fault
// injection from GREENROOM_FAULT (after-commit:N / after-publish:N). Built
// beside `worker`, never shipped in it.
WorkerHosting.use(WorkerHosting(types: WorkerHosting.builtIns.types + [HostedType(Probe())]) {
    guard let specification = WorkerCommand.env("GREENROOM_FAULT") else { return [] }
    guard let fault = FaultInjection(specification: specification) else {
        throw FaultSpecificationError(specification: specification)
    }
    return [fault]
})
// One line per error, with advice (see `Advice`), and a non-zero exit.
await WorkerCommand.mainWithAdvice()
