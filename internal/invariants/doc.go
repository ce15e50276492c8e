// Package invariants holds the randomized tests of the rules a cut must never
// break (TestInvariants): cases driven through random interleavings of
// payments, holds, approvals, proofs, contract changes, the distributor's
// answers (or its silence), failures and delays, in the SDK's test
// environment against the real Postgres ledger, and on the real stack for
// cases that share a supply point or a transfer. It has no code of its own.
package invariants
