// Package clusterfaults runs the collections process on the local
// multi-process Temporal cluster of `make cluster-up` (frontend, matching,
// worker and two history services on PostgreSQL, two impagos workers) and
// breaks the cluster under it.
//
// TestFaultClusterHistoryKill starts 200 cases on a fast policy and drives
// each to its end as the clerks and the cuts desk would (recording the proof
// of each formal notice, approving cuts, reporting payments), while one
// history service and one impagos worker are killed with SIGKILL and brought
// back a few seconds later. It then checks that every case reached its end
// state, that no notice or proof was written twice and that each supply point
// cut got exactly one cut and one reconnection request, each B1 message the
// ledger committed is in the workers' outbox folder as committed and every
// request has the distributor's answer (the stand-in that impagos-worker-1
// runs on the cluster's folders, .data/cluster/atr), and prints
//
//	FAULT cluster-history-kill cases=<n> lost=<n> duplicates=<n>
//
// TestBenchClusterAndDevServer measures, in one run, how fast cases start and
// complete on the cluster and on the dev server of `make up`, each with two
// worker processes of its own, and prints one BENCH line per figure.
//
// Both need the cluster (`make test-cluster` starts it and runs the fault
// test) and its variables (eval "$(.ci/cluster/cluster env)"); they skip
// unless IMPAGOS_CLUSTER_FAULTS=1, or IMPAGOS_CLUSTER_BENCH=1 for the bench.
package clusterfaults
