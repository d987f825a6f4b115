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
///
/// CI time (2 cores, measured 2026-11-26): the guarantee suite takes about
/// 1 minute, the fault test 40–110 s: 110 s for both, one after another, in
/// one run, beside the single-node suites. That is why every guarantee runs on both
/// (the single-node suites stay: they are where the removals of
/// scripts/prove-tests are checked): none was dropped from the clusters. The
/// exact-count run is the long one (1,000 counters × 100 adds); it stays
/// because the fault test exercises processes, and it the in-process runtime
/// with 4 concurrent senders.
@Suite("On the local clusters (one test at a time: the fault test kills their nodes)", .serialized)
struct ClusterTests {}
