// Package faults holds the fault suite: each test starts a Temporal dev
// server, a PostgreSQL cluster, a worker and an e-mail stub of its own, runs
// 200 cases through the whole process, breaks one of those services in the
// middle (the worker killed, the server restarted, the database stopped, the
// e-mail provider answering 500) and then checks that no case was lost and
// nothing was done twice: one outbox row per notice, one e-mail per row, one
// cut and one reconnection per supply point cut, each B1 message of the ledger
// in the distributor's outbox folder once and each of its answers read once.
// The distributor is the test's own: folders under the test's directory, read
// and written by the worker, and a stand-in in the test answering in the
// distributor's place (see atr_test.go). The e-mail stub reports
// events of what it accepted to the worker's receiver, signed, as SendGrid's
// Event Webhook does; an e-mail whose sending a fault cut short is settled from
// them, so every e-mail must reach the stub exactly once.
//
// The tests need IMPAGOS_FAULTS=1, bin/temporal (make up builds it) and the
// PostgreSQL server binaries; `make test-faults` runs them. They never touch
// the shared local stack: their services listen on free ports and keep their
// data under .data/faults/ (IMPAGOS_FAULTS_DIR), deleted after a passing test,
// and nothing of its environment (IMPAGOS_ATR_* included) reaches them.
package faults
