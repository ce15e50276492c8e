package workflows

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/billing"
)

// historiesDir holds histories of real cases, recorded by the integration
// tests of internal/engine against a Temporal server (see the README).
var historiesDir = filepath.Join("..", "testdata", "histories")

// deliverNotices is the change id of the guard around the delivery of notices
// by the worker; the histories recorded before it have no such marker.
const deliverNotices = "deliver-notices"

// guards are the workflow.GetVersion changes, each with the histories that
// reached its spot before it existed: those fail to replay without the guard.
var guards = []struct {
	change string
	before func(name string) bool
}{
	{localLedger, func(name string) bool { return want[name].ledger < localNotices }},
	{deliverNotices, func(name string) bool { return strings.HasSuffix(name, "_before_delivery") }},
	{cutReadOnCancel, func(name string) bool {
		w := want[name]
		return w.ledger < localNotices && slices.Contains(w.stages, StageCutCancelRequested) && !w.cut
	}},
	{contractBeforeCut, func(name string) bool {
		w := want[name]
		return w.cut && !took(w.versions, contractBeforeCut) && !took(w.versions, cutSafety)
	}},
	{cutSafety, func(name string) bool {
		w := want[name]
		return !took(w.versions, cutSafety) && !sameOnBothPaths[name]
	}},
}

// TestReplayOfCasesBeforeTheDistributorSpokeATR: the distributorATR guard
// keeps a case started before it on its path when it reaches its cut later
// (TestDistributor_CasesStartedBeforeKeepTheirPath). A case that reached its
// cut before replays on either path: the cut request it recorded carries no
// ATR request, and the case follows the request only when there is one.
func TestReplayOfCasesBeforeTheDistributorSpokeATR(t *testing.T) {
	n := 0
	for name, path := range historyFiles(t) {
		w := want[name]
		if !w.cut || took(w.versions, distributorATR) {
			continue
		}
		n++
		t.Run(name, func(t *testing.T) {
			r := replayer(t, ReturnedInvoice, &newestVersion{change: distributorATR})
			if err := r.ReplayWorkflowHistory(quiet, readHistory(t, path)); err != nil {
				t.Fatalf("replay with the newest %s: %v", distributorATR, err)
			}
		})
	}
	require.Positive(t, n, "no history of a cut before the distributor spoke ATR")
}

// TestReplayOfSettledWaitsOnTheNewPath: a case that waited for the
// distributor's answer to its 03 before flushWhileSettled replays on either
// path when no payment came in that wait: the new path's one timer and its
// cancellation are the commands AwaitWithOptions gave.
func TestReplayOfSettledWaitsOnTheNewPath(t *testing.T) {
	n := 0
	for name, path := range historyFiles(t) {
		w := want[name]
		if !slices.Contains(w.stages, StageReconnectRequested) && !slices.Contains(w.stages, StageCutCancelRequested) {
			continue
		}
		n++
		t.Run(name, func(t *testing.T) {
			r := replayer(t, ReturnedInvoice, &newestVersion{change: flushWhileSettled})
			if err := r.ReplayWorkflowHistory(quiet, readHistory(t, path)); err != nil {
				t.Fatalf("replay with the newest %s: %v", flushWhileSettled, err)
			}
		})
	}
	require.Positive(t, n, "no history of a settled wait")
}

// sameOnBothPaths are the histories recorded before cutSafety whose commands
// the new path gives too: each was paid before reaching anything that changed
// (the contract read again before a later notice or the pre-cut e-mail, the
// proof, the ledger's check of a cut). They replay on either path.
var sameOnBothPaths = map[string]bool{
	"paid_before_first_notice_before_cut_safety":     true, // paid at the check
	"needs_contact_released_paid_before_cut_safety":  true, // paid after aviso 1, the first notice
	"business_essential_hold_paid_before_cut_safety": true, // never cut: the formal demand, then on hold
}

// recordedPath is what a history says of its case: the stages it went through
// (the Stage search attribute, in order), the signals it got, the changes
// whose version markers it holds, the distributor's requests and the result.
type recordedPath struct {
	Stages    []Stage
	Signals   []string
	Versions  []string         // distinct, in order of first use
	Ledger    workflow.Version // the version localLedger's marker holds, if any
	Cuts      int              // RequestCut activities, ordinary or local
	Delivers  int              // DeliverNotice activities, ordinary or local, and notices delivered by SendNotice
	Sends     int              // SendNotice activities, ordinary or local
	Cost      cost             // what Temporal Cloud bills for it
	AmountDue int64
	Result    Result
}

// want describes each file of testdata/histories. A file without an entry, or
// an entry without its file, fails the test: a new history says what path it
// covers, and none is lost by accident.
var want = map[string]struct {
	stages  []Stage
	signals []string
	cut     bool
	// uncut: a cut was asked of the distributor and never carried out.
	uncut bool
	// versions are the changes (workflow.GetVersion ids) whose markers the
	// history holds: it took their new branch. The *_before_delivery files
	// were recorded before the deliver-notices change.
	versions []string
	// ledger is the version of localLedger the case took (localNotices, or
	// 1 for the *_before_local_notices files).
	ledger workflow.Version
}{
	// Recorded with distributorATR: the cut is asked of the distributor by a
	// B1 message and follows its answers (signal distributor): cut_requested
	// until its 05, the reconnection until its 04.
	"domestic_cut_reconnect_before_local_ledger": {
		stages: []Stage{StageChecking, StageNotice1, StageNotice2, StageNotice3, StageCutBlocked, StageCutScheduled, StageCutReview,
			StageCutRequested, StageCut, StageReconnectRequested, StageReconnected},
		signals:  []string{SignalProofRecorded, SignalApproveCut, SignalDistributor, SignalDistributor, SignalPaid, SignalDistributor},
		cut:      true,
		versions: []string{cutSafety, distributorATR, deliverNotices},
	},
	"business_updates_hold_cut_reconnect_before_local_ledger": {
		// hold, paid, release, approve-cut and paid came as updates.
		stages: []Stage{StageChecking, StageCutScheduled, StageOnHold, StageCutScheduled, StageCutBlocked, StageCutReview,
			StageCutRequested, StageCut, StageReconnectRequested, StageReconnected},
		signals:  []string{SignalProofRecorded, SignalDistributor, SignalDistributor, SignalDistributor},
		cut:      true,
		versions: []string{cutSafety, distributorATR, deliverNotices},
	},
	"business_hold_partial_reconnect_before_local_ledger": {
		stages: []Stage{StageChecking, StageCutScheduled, StageOnHold, StageCutScheduled, StageCutBlocked, StageCutReview,
			StageCutRequested, StageCut, StageReconnectRequested, StageReconnected},
		signals: []string{SignalHold, SignalPaid, SignalRelease, SignalProofRecorded, SignalApproveCut,
			SignalDistributor, SignalDistributor, SignalPaid, SignalDistributor},
		cut:      true,
		versions: []string{cutSafety, distributorATR, deliverNotices},
	},
	"business_atr_cut_reconnect_before_local_ledger": {
		stages: []Stage{StageChecking, StageCutScheduled, StageCutBlocked, StageCutReview, StageCutRequested, StageCut,
			StageReconnectRequested, StageReconnected},
		signals:  []string{SignalProofRecorded, SignalApproveCut, SignalDistributor, SignalDistributor, SignalPaid, SignalDistributor},
		cut:      true,
		versions: []string{cutSafety, distributorATR, deliverNotices},
	},
	"business_atr_paid_before_the_cut_before_local_ledger": {
		// Paid after the 02: the 03 cancels the request, and the 04 closes it.
		stages:   []Stage{StageChecking, StageCutScheduled, StageCutBlocked, StageCutReview, StageCutRequested, StageCutCancelRequested, StagePaid},
		signals:  []string{SignalProofRecorded, SignalApproveCut, SignalDistributor, SignalPaid, SignalDistributor},
		uncut:    true,
		versions: []string{cutSafety, distributorATR, deliverNotices},
	},
	// A bank's reason: disputed from the start (held before any notice,
	// released by a person, paid after aviso 1); our own error told by update
	// to a business case with its cut scheduled (held, paid, nothing sent).
	"bank_disputed_released_paid_before_local_ledger": {
		stages:   []Stage{StageChecking, StageOnHold, StageChecking, StageNotice1, StagePaid},
		signals:  []string{},
		versions: []string{cutSafety, distributorATR, deliverNotices},
	},
	"business_bank_our_error_paid_before_local_ledger": {
		stages:   []Stage{StageChecking, StageCutScheduled, StageOnHold, StagePaid},
		signals:  []string{},
		versions: []string{cutSafety, distributorATR, deliverNotices},
	},
	"business_atr_rejected_essential_before_local_ledger": {
		// Rejected with code 32: the supply point flagged, the case held for good.
		stages:   []Stage{StageChecking, StageCutScheduled, StageCutBlocked, StageCutReview, StageCutRequested, StageCutReview, StageOnHold, StagePaid},
		signals:  []string{SignalProofRecorded, SignalApproveCut, SignalDistributor, SignalPaid},
		uncut:    true,
		versions: []string{cutSafety, distributorATR, deliverNotices},
	},
	// Recorded with cutSafety: the proof of the formal notice (cut_blocked until
	// a clerk records it), the contract read before every notice, the ledger's
	// check of the cut, the clerks' updates.
	"domestic_cut_reconnect_before_distributor": {
		stages:   []Stage{StageChecking, StageNotice1, StageNotice2, StageNotice3, StageCutBlocked, StageCutScheduled, StageCutReview, StageCut, StageReconnecting, StageReconnected},
		signals:  []string{SignalProofRecorded, SignalApproveCut, SignalPaid},
		cut:      true,
		versions: []string{cutSafety, deliverNotices},
	},
	"business_paid_before_cut_before_local_ledger": {
		stages:   []Stage{StageChecking, StageCutScheduled, StageCutBlocked, StageCutReview, StagePaid},
		signals:  []string{SignalProofRecorded, SignalPaid},
		versions: []string{cutSafety, distributorATR, deliverNotices},
	},
	"business_paid_before_cut_before_distributor": {
		stages:   []Stage{StageChecking, StageCutScheduled, StageCutBlocked, StageCutReview, StagePaid},
		signals:  []string{SignalProofRecorded, SignalPaid},
		versions: []string{cutSafety, deliverNotices},
	},
	"business_updates_hold_cut_reconnect_before_distributor": {
		// hold, paid, release, approve-cut and paid came as updates.
		stages:   []Stage{StageChecking, StageCutScheduled, StageOnHold, StageCutScheduled, StageCutBlocked, StageCutReview, StageCut, StageReconnecting, StageReconnected},
		signals:  []string{SignalProofRecorded},
		cut:      true,
		versions: []string{cutSafety, deliverNotices},
	},
	"business_hold_partial_reconnect_before_distributor": {
		stages:   []Stage{StageChecking, StageCutScheduled, StageOnHold, StageCutScheduled, StageCutBlocked, StageCutReview, StageCut, StageReconnecting, StageReconnected},
		signals:  []string{SignalHold, SignalPaid, SignalRelease, SignalProofRecorded, SignalApproveCut, SignalPaid},
		cut:      true,
		versions: []string{cutSafety, deliverNotices},
	},
	"business_essential_after_approval_paid_before_local_ledger": {
		stages:   []Stage{StageChecking, StageCutScheduled, StageCutBlocked, StageCutReview, StageOnHold, StagePaid},
		signals:  []string{SignalProofRecorded, SignalApproveCut, SignalPaid},
		versions: []string{cutSafety, distributorATR, deliverNotices},
	},
	"business_essential_after_approval_paid_before_distributor": {
		stages:   []Stage{StageChecking, StageCutScheduled, StageCutBlocked, StageCutReview, StageOnHold, StagePaid},
		signals:  []string{SignalProofRecorded, SignalApproveCut, SignalPaid},
		versions: []string{cutSafety, deliverNotices},
	},
	"business_essential_hold_paid_before_local_ledger": {
		stages:   []Stage{StageChecking, StageNotice3, StageOnHold, StagePaid},
		signals:  []string{SignalPaid},
		versions: []string{cutSafety, distributorATR, deliverNotices},
	},
	"business_essential_hold_paid_before_distributor": {
		stages:   []Stage{StageChecking, StageNotice3, StageOnHold, StagePaid},
		signals:  []string{SignalPaid},
		versions: []string{cutSafety, deliverNotices},
	},
	"domestic_partial_payment_paid_before_local_ledger": {
		stages:   []Stage{StageChecking, StageNotice1, StageNotice2, StageNotice3, StagePaid},
		signals:  []string{SignalPaid, SignalPaid},
		versions: []string{cutSafety, distributorATR, deliverNotices},
	},
	"domestic_partial_payment_paid_before_distributor": {
		stages:   []Stage{StageChecking, StageNotice1, StageNotice2, StageNotice3, StagePaid},
		signals:  []string{SignalPaid, SignalPaid},
		versions: []string{cutSafety, deliverNotices},
	},
	"domestic_protected_hold_paid_before_local_ledger": {
		stages:   []Stage{StageChecking, StageNotice1, StageNotice2, StageNotice3, StageOnHold, StageNotice3, StageOnHold, StagePaid},
		signals:  []string{SignalRelease, SignalPaid},
		versions: []string{cutSafety, distributorATR, deliverNotices},
	},
	"domestic_protected_hold_paid_before_distributor": {
		stages:   []Stage{StageChecking, StageNotice1, StageNotice2, StageNotice3, StageOnHold, StageNotice3, StageOnHold, StagePaid},
		signals:  []string{SignalRelease, SignalPaid},
		versions: []string{cutSafety, deliverNotices},
	},
	"needs_contact_released_paid_before_local_ledger": {
		stages:   []Stage{StageChecking, StageNeedsContact, StageNotice1, StagePaid},
		signals:  []string{SignalContactUpdated, SignalContactUpdated, SignalPaid},
		versions: []string{cutSafety, distributorATR, deliverNotices},
	},
	"needs_contact_released_paid_before_distributor": {
		stages:   []Stage{StageChecking, StageNeedsContact, StageNotice1, StagePaid},
		signals:  []string{SignalContactUpdated, SignalContactUpdated, SignalPaid},
		versions: []string{cutSafety, deliverNotices},
	},
	"paid_before_first_notice_before_local_ledger": {
		stages:   []Stage{StageChecking, StagePaid},
		versions: []string{cutSafety, distributorATR},
	},
	"paid_before_first_notice_before_distributor": {
		stages:   []Stage{StageChecking, StagePaid},
		versions: []string{cutSafety},
	},
	"domestic_cut_reconnect_before_cut_safety": {
		stages:   []Stage{StageChecking, StageNotice1, StageNotice2, StageNotice3, StageCutScheduled, StageCutReview, StageCut, StageReconnecting, StageReconnected},
		signals:  []string{SignalApproveCut, SignalPaid},
		cut:      true,
		versions: []string{deliverNotices, contractBeforeCut},
	},
	"domestic_cut_reconnect_before_contract_check": {
		stages:   []Stage{StageChecking, StageNotice1, StageNotice2, StageNotice3, StageCutScheduled, StageCutReview, StageCut, StageReconnecting, StageReconnected},
		signals:  []string{SignalApproveCut, SignalPaid},
		cut:      true,
		versions: []string{deliverNotices},
	},
	"domestic_cut_reconnect_before_delivery": {
		stages:  []Stage{StageChecking, StageNotice1, StageNotice2, StageNotice3, StageCutScheduled, StageCutReview, StageCut, StageReconnecting, StageReconnected},
		signals: []string{SignalApproveCut, SignalPaid},
		cut:     true,
	},
	"domestic_partial_payment_paid_before_cut_safety": {
		stages:   []Stage{StageChecking, StageNotice1, StageNotice2, StageNotice3, StagePaid},
		signals:  []string{SignalPaid, SignalPaid},
		versions: []string{deliverNotices},
	},
	"domestic_protected_hold_paid_before_cut_safety": {
		stages:   []Stage{StageChecking, StageNotice1, StageNotice2, StageNotice3, StageOnHold, StageNotice3, StageOnHold, StagePaid},
		signals:  []string{SignalRelease, SignalPaid},
		versions: []string{deliverNotices},
	},
	"business_paid_before_cut_before_cut_safety": {
		stages:   []Stage{StageChecking, StageCutScheduled, StageCutReview, StagePaid},
		signals:  []string{SignalPaid},
		versions: []string{deliverNotices},
	},
	"business_paid_before_cut_before_delivery": {
		stages:  []Stage{StageChecking, StageCutScheduled, StageCutReview, StagePaid},
		signals: []string{SignalPaid},
	},
	"business_hold_partial_reconnect_before_cut_safety": {
		stages:   []Stage{StageChecking, StageCutScheduled, StageOnHold, StageCutScheduled, StageCutReview, StageCut, StageReconnecting, StageReconnected},
		signals:  []string{SignalHold, SignalPaid, SignalRelease, SignalApproveCut, SignalPaid},
		cut:      true,
		versions: []string{deliverNotices, contractBeforeCut},
	},
	"business_hold_partial_reconnect_before_contract_check": {
		stages:   []Stage{StageChecking, StageCutScheduled, StageOnHold, StageCutScheduled, StageCutReview, StageCut, StageReconnecting, StageReconnected},
		signals:  []string{SignalHold, SignalPaid, SignalRelease, SignalApproveCut, SignalPaid},
		cut:      true,
		versions: []string{deliverNotices},
	},
	"business_hold_partial_reconnect_before_delivery": {
		stages:  []Stage{StageChecking, StageCutScheduled, StageOnHold, StageCutScheduled, StageCutReview, StageCut, StageReconnecting, StageReconnected},
		signals: []string{SignalHold, SignalPaid, SignalRelease, SignalApproveCut, SignalPaid},
		cut:     true,
	},
	"business_essential_hold_paid_before_cut_safety": {
		stages:   []Stage{StageChecking, StageNotice3, StageOnHold, StagePaid},
		signals:  []string{SignalPaid},
		versions: []string{deliverNotices},
	},
	"business_essential_after_approval_paid_before_cut_safety": {
		// Flagged essential after the approval: read again before the cut, held.
		stages:   []Stage{StageChecking, StageCutScheduled, StageCutReview, StageOnHold, StagePaid},
		signals:  []string{SignalApproveCut, SignalPaid},
		versions: []string{deliverNotices, contractBeforeCut},
	},
	"needs_contact_released_paid_before_cut_safety": {
		stages:   []Stage{StageChecking, StageNeedsContact, StageNotice1, StagePaid},
		signals:  []string{SignalContactUpdated, SignalContactUpdated, SignalPaid},
		versions: []string{deliverNotices},
	},
	"paid_before_first_notice_before_cut_safety": {
		// Nothing was sent, so no GetVersion was ever asked: like a case of
		// any release.
		stages: []Stage{StageChecking, StagePaid},
	},
	// Recorded with localLedger: the ledger read and written by local
	// activities, one upsert per workflow task (so a stage left within the task
	// it began in, such as checking, is not among them), the delivery of a
	// notice running while the case waits.
	"bank_disputed_released_paid": {
		stages:   []Stage{StageOnHold, StageNotice1, StagePaid},
		signals:  []string{},
		versions: []string{localLedger},
		ledger:   localNotices,
	},
	"business_bank_our_error_paid": {
		stages:   []Stage{StageCutScheduled, StageOnHold, StagePaid},
		signals:  []string{},
		versions: []string{localLedger},
		ledger:   localNotices,
	},
	"business_atr_cut_reconnect": {
		stages:   []Stage{StageCutScheduled, StageCutBlocked, StageCutReview, StageCutRequested, StageCut, StageReconnectRequested, StageReconnected},
		signals:  []string{SignalProofRecorded, SignalApproveCut, SignalDistributor, SignalDistributor, SignalPaid, SignalDistributor},
		cut:      true,
		versions: []string{localLedger},
		ledger:   localNotices,
	},
	"business_atr_paid_before_the_cut": {
		stages:   []Stage{StageCutScheduled, StageCutBlocked, StageCutReview, StageCutRequested, StageCutCancelRequested, StagePaid},
		signals:  []string{SignalProofRecorded, SignalApproveCut, SignalDistributor, SignalPaid, SignalDistributor},
		uncut:    true,
		versions: []string{localLedger},
		ledger:   localNotices,
	},
	"business_atr_rejected_essential": {
		stages:   []Stage{StageCutScheduled, StageCutBlocked, StageCutReview, StageCutRequested, StageOnHold, StagePaid},
		signals:  []string{SignalProofRecorded, SignalApproveCut, SignalDistributor, SignalPaid},
		uncut:    true,
		versions: []string{localLedger},
		ledger:   localNotices,
	},
	"business_hold_partial_reconnect": {
		stages:   []Stage{StageCutScheduled, StageOnHold, StageCutScheduled, StageCutBlocked, StageCutReview, StageCutRequested, StageCut, StageReconnectRequested, StageReconnected},
		signals:  []string{SignalHold, SignalPaid, SignalRelease, SignalProofRecorded, SignalApproveCut, SignalDistributor, SignalDistributor, SignalPaid, SignalDistributor},
		cut:      true,
		versions: []string{localLedger},
		ledger:   localNotices,
	},
	"domestic_partial_payment_paid": {
		stages:   []Stage{StageNotice1, StageNotice2, StageNotice3, StagePaid},
		signals:  []string{SignalPaid, SignalPaid},
		versions: []string{localLedger},
		ledger:   localNotices,
	},
	"domestic_protected_hold_paid": {
		stages:   []Stage{StageNotice1, StageNotice2, StageNotice3, StageOnHold, StagePaid},
		signals:  []string{SignalRelease, SignalPaid},
		versions: []string{localLedger},
		ledger:   localNotices,
	},
	"business_essential_hold_paid": {
		// The formal demand sent and the hold taken in one workflow task:
		// the UI's stage goes straight to on_hold.
		stages:   []Stage{StageOnHold, StagePaid},
		signals:  []string{SignalPaid},
		versions: []string{localLedger},
		ledger:   localNotices,
	},
	"business_essential_hold_paid_before_local_notices": {
		stages:   []Stage{StageNotice3, StageOnHold, StagePaid},
		signals:  []string{SignalPaid},
		versions: []string{localLedger},
		ledger:   1,
	},
	"business_essential_after_approval_paid": {
		stages:   []Stage{StageCutScheduled, StageCutBlocked, StageCutReview, StageOnHold, StagePaid},
		signals:  []string{SignalProofRecorded, SignalApproveCut, SignalPaid},
		versions: []string{localLedger},
		ledger:   localNotices,
	},
	"needs_contact_released_paid": {
		stages:   []Stage{StageNeedsContact, StageNotice1, StagePaid},
		signals:  []string{SignalContactUpdated, SignalContactUpdated, SignalPaid},
		versions: []string{localLedger},
		ledger:   localNotices,
	},
	"paid_before_first_notice": {
		stages:   []Stage{StagePaid},
		signals:  []string{},
		versions: []string{localLedger},
		ledger:   localNotices,
	},
	"domestic_cut_reconnect": {
		stages:   []Stage{StageNotice1, StageNotice2, StageNotice3, StageCutBlocked, StageCutScheduled, StageCutReview, StageCutRequested, StageCut, StageReconnectRequested, StageReconnected},
		signals:  []string{SignalProofRecorded, SignalApproveCut, SignalDistributor, SignalDistributor, SignalPaid, SignalDistributor},
		cut:      true,
		versions: []string{localLedger},
		ledger:   localNotices,
	},
	"business_paid_before_cut": {
		stages:   []Stage{StageCutScheduled, StageCutBlocked, StageCutReview, StagePaid},
		signals:  []string{SignalProofRecorded, SignalPaid},
		versions: []string{localLedger},
		ledger:   localNotices,
	},
	"business_updates_hold_cut_reconnect": {
		stages:   []Stage{StageCutScheduled, StageOnHold, StageCutScheduled, StageCutBlocked, StageCutReview, StageCutRequested, StageCut, StageReconnectRequested, StageReconnected},
		signals:  []string{SignalProofRecorded, SignalDistributor, SignalDistributor, SignalDistributor},
		cut:      true,
		versions: []string{localLedger},
		ledger:   localNotices,
	},
}

// TestReplayRecordedHistories replays the histories of real cases kept in
// testdata/histories. A change to the workflow that running cases could not
// replay fails here: guard it with workflow.GetVersion (see the README).
// Each file must also show the whole path it was recorded for, closed, so a
// truncated or misnamed file cannot pass for coverage.
func TestReplayRecordedHistories(t *testing.T) {
	files := historyFiles(t)
	for name := range want {
		if _, ok := files[name]; !ok {
			t.Errorf("testdata/histories/%s.json is missing", name)
		}
	}
	for name, path := range files {
		t.Run(name, func(t *testing.T) {
			w, ok := want[name]
			if !ok {
				t.Fatalf("%s has no entry in want: say which path it records", path)
			}
			h := readHistory(t, path)
			got, err := pathOf(h)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if !slices.Equal(got.Stages, w.stages) {
				t.Errorf("stages\n got %v\nwant %v", got.Stages, w.stages)
			}
			if !slices.Equal(got.Signals, w.signals) {
				t.Errorf("signals %v, want %v", got.Signals, w.signals)
			}
			if closed := w.stages[len(w.stages)-1]; got.Result.Stage != closed || !closed.Closed() {
				t.Errorf("result stage %q, want %q", got.Result.Stage, closed)
			}
			if got.Result.PaidCents != got.AmountDue {
				t.Errorf("paid %d of %d cents", got.Result.PaidCents, got.AmountDue)
			}
			if requested := got.Cuts > 0; requested != (w.cut || w.uncut) || w.cut != (got.Result.CutAt != nil) {
				t.Errorf("%d cut requests, cut at %v; want cut %v, requested and not cut %v", got.Cuts, got.Result.CutAt, w.cut, w.uncut)
			}
			if !slices.Equal(got.Versions, w.versions) {
				t.Errorf("version markers %v, want %v", got.Versions, w.versions)
			}
			if got.Ledger != w.ledger {
				t.Errorf("%s version %d, want %d", localLedger, got.Ledger, w.ledger)
			}
			if slices.Contains(got.Versions, localLedger) {
				if got.Delivers < got.Sends {
					t.Errorf("%d notices sent, %d delivered", got.Sends, got.Delivers)
				}
			} else if delivered := took(got.Versions, deliverNotices); delivered != (got.Delivers > 0) {
				t.Errorf("%q marker %v with %d deliveries", deliverNotices, delivered, got.Delivers)
			}
			if err := replayer(t, ReturnedInvoice).ReplayWorkflowHistory(nil, h); err != nil {
				t.Fatalf("replay %s: %v", path, err)
			}
		})
	}
}

// TestReplayRefusesATruncatedHistory: the replayer takes the first half of a
// case as a valid history of a case still running, so only the check that
// each file holds a closed case keeps a cut-short file from passing.
func TestReplayRefusesATruncatedHistory(t *testing.T) {
	events := readHistory(t, filepath.Join(historiesDir, "domestic_cut_reconnect.json")).GetEvents()
	// Cut before a workflow task, with the previous task's commands recorded,
	// as the history of a sleeping case reads.
	end := len(events) / 2
	for events[end].GetEventType() != enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED {
		end--
	}
	half := &historypb.History{Events: events[:end]}
	if err := replayer(t, ReturnedInvoice).ReplayWorkflowHistory(quiet, half); err != nil {
		t.Fatalf("replay of half a case: %v", err)
	}
	if _, err := pathOf(half); err == nil || !strings.Contains(err.Error(), "not closed") {
		t.Fatalf("half a case taken for a whole one: %v", err)
	}
}

// TestReplayCatchesAnUnguardedChange shows the net above holds: the same
// histories replayed against a workflow changed without workflow.GetVersion,
// here one that waits a moment before opening the case, fail with the
// nondeterminism error a running case would get.
func TestReplayCatchesAnUnguardedChange(t *testing.T) {
	changed := func(ctx workflow.Context, in Input) (Result, error) {
		if err := workflow.Sleep(ctx, time.Minute); err != nil {
			return Result{}, err
		}
		return ReturnedInvoice(ctx, in)
	}
	for name, path := range historyFiles(t) {
		t.Run(name, func(t *testing.T) {
			err := replayer(t, changed).ReplayWorkflowHistory(quiet, readHistory(t, path))
			requireNondeterminism(t, err)
		})
	}
}

// TestReplayWithoutItsGuardFails replays every history against the workflow as
// it would be had each change been made without its workflow.GetVersion guard:
// the cases that reached the changed spot before the change fail there, which
// is why the guard is there; the others replay all the same.
func TestReplayWithoutItsGuardFails(t *testing.T) {
	files := historyFiles(t)
	for _, g := range guards {
		t.Run(g.change, func(t *testing.T) {
			n := 0
			for name, path := range files {
				t.Run(name, func(t *testing.T) {
					r := replayer(t, ReturnedInvoice, &newestVersion{change: g.change})
					err := r.ReplayWorkflowHistory(quiet, readHistory(t, path))
					if !g.before(name) {
						if err != nil {
							t.Fatalf("replay with the newest %s: %v", g.change, err)
						}
						return
					}
					n++
					requireNondeterminism(t, err)
				})
			}
			if n == 0 {
				t.Fatalf("no history recorded before the %s change", g.change)
			}
		})
	}
}

// quiet keeps the expected panics of a failing replay out of the test output.
var quiet = log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))

// requireNondeterminism checks for the SDK's nondeterminism error, TMPRL1100:
// the one a worker meets when a running case's history and the code disagree.
func requireNondeterminism(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("replay of a changed workflow succeeded: the replayer would not catch a breaking change")
	}
	if !strings.Contains(err.Error(), "TMPRL1100") {
		t.Fatalf("replay failed, but not for nondeterminism: %v", err)
	}
	t.Log(err)
}

// historyFiles maps the name of each recorded history to its path.
func historyFiles(t *testing.T) map[string]string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(historiesDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no recorded histories in testdata/histories")
	}
	files := map[string]string{}
	for _, p := range paths {
		files[strings.TrimSuffix(filepath.Base(p), ".json")] = p
	}
	return files
}

func readHistory(t *testing.T, path string) *historypb.History {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return h
}

// replayer replays with fn registered as the per-invoice workflow.
func replayer(t *testing.T, fn func(workflow.Context, Input) (Result, error), icpt ...interceptor.WorkerInterceptor) worker.WorkflowReplayer {
	t.Helper()
	// A busy machine may take more than the default second over a workflow
	// task: no replay here may depend on the machine's speed.
	r, err := worker.NewWorkflowReplayerWithOptions(worker.WorkflowReplayerOptions{Interceptors: icpt, DisableDeadlockDetection: true})
	if err != nil {
		t.Fatal(err)
	}
	r.RegisterWorkflowWithOptions(fn, workflow.RegisterOptions{Name: WorkflowType})
	return r
}

// pathOf reads a recorded history; it must be one whole, closed case.
func pathOf(h *historypb.History) (recordedPath, error) {
	var p recordedPath
	events := h.GetEvents()
	if len(events) < 2 {
		return p, fmt.Errorf("history of %d events", len(events))
	}
	first, last := events[0], events[len(events)-1]
	started := first.GetWorkflowExecutionStartedEventAttributes()
	if started == nil || started.GetWorkflowType().GetName() != WorkflowType {
		return p, fmt.Errorf("history does not start a %s: first event %s", WorkflowType, first.GetEventType())
	}
	if last.GetEventType() != enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED {
		return p, fmt.Errorf("case not closed: last event %s (truncated history?)", last.GetEventType())
	}
	var in Input
	if err := decode(started.GetInput().GetPayloads(), &in); err != nil {
		return p, fmt.Errorf("input: %w", err)
	}
	p.AmountDue = in.AmountCents
	if err := decode(last.GetWorkflowExecutionCompletedEventAttributes().GetResult().GetPayloads(), &p.Result); err != nil {
		return p, fmt.Errorf("result: %w", err)
	}
	for _, e := range events {
		switch a := e.GetAttributes().(type) {
		case *historypb.HistoryEvent_UpsertWorkflowSearchAttributesEventAttributes:
			if v, ok := a.UpsertWorkflowSearchAttributesEventAttributes.GetSearchAttributes().GetIndexedFields()[AttrStage.GetName()]; ok {
				var s Stage
				if err := decode([]*commonpb.Payload{v}, &s); err != nil {
					return p, fmt.Errorf("event %d: stage: %w", e.GetEventId(), err)
				}
				p.Stages = append(p.Stages, s)
			}
		case *historypb.HistoryEvent_WorkflowExecutionSignaledEventAttributes:
			p.Signals = append(p.Signals, a.WorkflowExecutionSignaledEventAttributes.GetSignalName())
		case *historypb.HistoryEvent_MarkerRecordedEventAttributes:
			m := a.MarkerRecordedEventAttributes
			if m.GetMarkerName() == billing.LocalActivityMarker {
				var data struct{ ActivityType string }
				if err := decode(m.GetDetails()["data"].GetPayloads(), &data); err != nil {
					return p, fmt.Errorf("event %d: local activity marker: %w", e.GetEventId(), err)
				}
				switch data.ActivityType {
				case activityName((*activities.Activities).RequestCut):
					p.Cuts++
				case activityName((*activities.Activities).SendNotice):
					p.Sends++
					// A local activity's input is not recorded: what it
					// delivered is in its result.
					var res activities.NoticeResult
					if err := decode(m.GetDetails()["result"].GetPayloads(), &res); err != nil {
						return p, fmt.Errorf("event %d: notice: %w", e.GetEventId(), err)
					}
					if len(res.Delivered)+len(res.Undelivered) > 0 {
						p.Delivers++
					}
				case activityName((*activities.Activities).DeliverNotice):
					p.Delivers++
				}
			}
			if m.GetMarkerName() == "Version" {
				var id string
				if err := decode(m.GetDetails()["change-id"].GetPayloads(), &id); err != nil {
					return p, fmt.Errorf("event %d: version marker: %w", e.GetEventId(), err)
				}
				if !slices.Contains(p.Versions, id) {
					p.Versions = append(p.Versions, id)
				}
				if id == localLedger {
					if err := decode(m.GetDetails()["version"].GetPayloads(), &p.Ledger); err != nil {
						return p, fmt.Errorf("event %d: version of %s: %w", e.GetEventId(), id, err)
					}
				}
			}
		case *historypb.HistoryEvent_ActivityTaskScheduledEventAttributes:
			switch a.ActivityTaskScheduledEventAttributes.GetActivityType().GetName() {
			case activityName((*activities.Activities).RequestCut):
				p.Cuts++
			case activityName((*activities.Activities).DeliverNotice):
				p.Delivers++
			case activityName((*activities.Activities).SendNotice):
				p.Sends++
				var in activities.NoticeInput
				if err := decode(a.ActivityTaskScheduledEventAttributes.GetInput().GetPayloads(), &in); err != nil {
					return p, fmt.Errorf("event %d: notice: %w", e.GetEventId(), err)
				}
				if in.Deliver {
					p.Delivers++
				}
			}
		}
	}
	p.Cost = costOf(events)
	return p, nil
}

func decode(payloads []*commonpb.Payload, v any) error {
	if len(payloads) != 1 {
		return fmt.Errorf("%d payloads, want 1", len(payloads))
	}
	return converter.GetDefaultDataConverter().FromPayload(payloads[0], v)
}

// newestVersion makes workflow.GetVersion of one change always answer the
// newest version, as if the change had been written without its guard.
type newestVersion struct {
	interceptor.WorkerInterceptorBase
	change string
}

func (n *newestVersion) InterceptWorkflow(_ workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	in := &newestVersionInbound{change: n.change}
	in.Next = next
	return in
}

type newestVersionInbound struct {
	interceptor.WorkflowInboundInterceptorBase
	change string
}

func (i *newestVersionInbound) Init(outbound interceptor.WorkflowOutboundInterceptor) error {
	out := &newestVersionOutbound{change: i.change}
	out.Next = outbound
	return i.Next.Init(out)
}

type newestVersionOutbound struct {
	interceptor.WorkflowOutboundInterceptorBase
	change string
}

func (o *newestVersionOutbound) GetVersion(ctx workflow.Context, changeID string, minSupported, maxSupported workflow.Version) workflow.Version {
	if changeID == o.change {
		return maxSupported
	}
	return o.Next.GetVersion(ctx, changeID, minSupported, maxSupported)
}

// activityName is the registered name of an activity method: renaming the
// method changes it here too.
func activityName(method any) string {
	name := runtime.FuncForPC(reflect.ValueOf(method).Pointer()).Name()
	return strings.TrimSuffix(name[strings.LastIndex(name, ".")+1:], "-fm")
}

// cost is what a history says a case cost: Temporal Cloud's actions
// (internal/billing) and what the workflow's design decides of them.
type cost struct {
	Actions int
	// Tasks are the workflow tasks completed; CrowdedTasks those that sent
	// more than one upsert of the case's own attributes.
	Tasks, CrowdedTasks int
	// Ledger are the ordinary activities of the ledger but those that reach
	// someone outside (a notice, a request to the distributor; see call) and a
	// payment the case dated; Local the local ones.
	Ledger, Local int
}

func costOf(events []*historypb.HistoryEvent) cost {
	b := billing.Of(events)
	c := cost{Actions: b.Actions(), Local: b.LocalActivities}
	for _, n := range b.UpsertTasks {
		if n > 1 {
			c.CrowdedTasks++
		}
	}
	for _, e := range events {
		switch a := e.GetAttributes().(type) {
		case *historypb.HistoryEvent_WorkflowTaskCompletedEventAttributes:
			c.Tasks++
		case *historypb.HistoryEvent_ActivityTaskScheduledEventAttributes:
			switch a.ActivityTaskScheduledEventAttributes.GetActivityType().GetName() {
			case activityName((*activities.Activities).SendNotice), activityName((*activities.Activities).DeliverNotice),
				activityName((*activities.Activities).RequestCut), activityName((*activities.Activities).RequestPowerLimit),
				activityName((*activities.Activities).SendToDistributor),
				activityName((*activities.Activities).RecordPayment): // a payment the case dated (recordPayment)
			default:
				c.Ledger++
			}
		}
	}
	return c
}

// TestLocalLedgerCases: a case started with localLedger reads and writes the
// ledger only by local activities, sends its attributes at most once per
// workflow task, and takes fewer workflow tasks and actions than the same path
// recorded before it. The recordings before the distributor and at 3eb575f
// (before cut-safety) are logged beside it: the case now also waits for the
// proof of the formal demand and the distributor's three answers, and what
// reaches someone outside stays an ordinary activity (call).
func TestLocalLedgerCases(t *testing.T) {
	files := historyFiles(t)
	n := 0
	for name, path := range files {
		if !slices.Contains(want[name].versions, localLedger) {
			continue
		}
		n++
		t.Run(name, func(t *testing.T) {
			got, err := pathOf(readHistory(t, path))
			require.NoError(t, err)
			require.Zero(t, got.Cost.Ledger, "ledger calls run as ordinary activities")
			require.Positive(t, got.Cost.Local, "no local activity")
			require.Zero(t, got.Cost.CrowdedTasks, "workflow tasks with more than one upsert")
			base := strings.TrimSuffix(name, beforeLocalNotices)
			before, ok := files[base+"_before_local_ledger"]
			require.True(t, ok, "no history of the same path recorded before localLedger")
			old, err := pathOf(readHistory(t, before))
			require.NoError(t, err)
			t.Logf("%d actions in %d workflow tasks (%d local activities); before: %d actions in %d tasks",
				got.Cost.Actions, got.Cost.Tasks, got.Cost.Local, old.Cost.Actions, old.Cost.Tasks)
			require.Less(t, got.Cost.Tasks, old.Cost.Tasks, "workflow tasks")
			require.Less(t, got.Cost.Actions, old.Cost.Actions, "actions")
			if path, ok := files[name+beforeLocalNotices]; ok {
				// Each notice sent in the task that decides it: one task fewer a
				// notice, and its activity an action no more than the task's
				// local activities already cost.
				v1, err := pathOf(readHistory(t, path))
				require.NoError(t, err)
				t.Logf("%s: %d actions in %d workflow tasks", beforeLocalNotices, v1.Cost.Actions, v1.Cost.Tasks)
				require.Less(t, got.Cost.Tasks, v1.Cost.Tasks, "workflow tasks")
				require.LessOrEqual(t, got.Cost.Actions, v1.Cost.Actions, "actions")
			}
			for _, suffix := range []string{"_before_distributor", "_before_cut_safety"} {
				path, ok := files[base+suffix]
				if !ok {
					continue
				}
				b, err := pathOf(readHistory(t, path))
				require.NoError(t, err)
				t.Logf("%s: %d actions", suffix, b.Cost.Actions)
			}
		})
	}
	require.Positive(t, n, "no history recorded with %s", localLedger)
}

// took reports whether a case whose history holds the markers of versions
// took the new branch of change: a case started with localLedger takes every
// earlier change without a marker of its own.
func took(versions []string, change string) bool {
	return slices.Contains(versions, change) || slices.Contains(versions, localLedger)
}

// The *_before_local_notices files are the paths of the localLedger entries
// of want recorded with its first version, each notice sent by an ordinary
// activity; a case paid before any notice has none (its path is the same).
func init() {
	var names []string
	for name, w := range want {
		if w.ledger == localNotices && name != "paid_before_first_notice" {
			names = append(names, name)
		}
	}
	for _, name := range names {
		if _, ok := want[name+beforeLocalNotices]; ok {
			continue // its own entry
		}
		w := want[name]
		w.ledger = 1
		want[name+beforeLocalNotices] = w
	}
}

const beforeLocalNotices = "_before_local_notices"
