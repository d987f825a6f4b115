import GreenroomTestSupport
import WorkerCommand
import Workers

// The worker the process tests run: the built-ins plus `probe`, and fault
// injection from GREENROOM_FAULT (after-commit:N / after-publish:N). Built
// beside `worker`, never shipped in it. GREENROOM_TEST_FAULTY_HOSTING adds a
// mistake a program of your own could make, which the worker must refuse:
// `conflicting-handlers` (a type with two handlers for one kind) or
// `duplicate-name` (a second behaviour hosted as `counter`).
let faultyHosting: [HostedType] = switch WorkerCommand.env("GREENROOM_TEST_FAULTY_HOSTING") {
case "conflicting-handlers": [HostedType(Conflicted())]
case "duplicate-name": [HostedType(Probe(), name: Counter.typeName)]
default: []
}
// GREENROOM_TEST_PROBE_RETRY=ATTEMPTS:INITIAL_MS: the probe's retry policy (delayed-retry tests).
let probeRetry = WorkerCommand.env("GREENROOM_TEST_PROBE_RETRY").map { $0.split(separator: ":").compactMap { Int($0) } }
    .flatMap { $0.count == 2 ? RetryPolicy(attempts: $0[0], initialDelay: .milliseconds($0[1])) : nil } ?? RetryPolicy()
await WorkerCommand.main(hosting: WorkerCommand.builtIns + [HostedType(Probe(), retry: probeRetry)] + faultyHosting) {
    guard let specification = WorkerCommand.env("GREENROOM_FAULT") else { return [] }
    guard let fault = FaultInjection(specification: specification) else {
        throw FaultSpecificationError(specification: specification)
    }
    return [fault]
}
