import Testing

/// Every suite that runs on the shared local clusters of
/// `scripts/services up --cluster`, one test at a time.
///
/// `ClusterFaultTests` kills -9 a node of each cluster: nothing else on the
/// clusters may run while it does (a guarantee test would see its turns
/// wait for a failover, and time out or count a retry the fault test
/// provoked). `.serialized` is recursive, so the suites nested here run one
/// after another and so do their tests; the single-node suites still run
/// beside them, on servers the fault test never touches.
@Suite("On the local clusters (one test at a time: the fault test kills their nodes)", .serialized)
struct ClusterTests {}
