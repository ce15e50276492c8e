package workflows

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elega/impagos/activities"
)

func TestFormalNotice_ProvenOnlyByAProofInTheLedger(t *testing.T) {
	n := func(kind, channel, status string) Notice { return Notice{Kind: kind, Channel: channel, Status: status} }
	const (
		req    = activities.KindRequerimiento
		letter = activities.KindCutLetter
	)
	tests := []struct {
		name    string
		notices []Notice
		want    string
		proven  bool
	}{
		{"nothing sent yet", nil, "none", false},
		{"only the avisos", []Notice{n(activities.KindAviso1, "email", "sent"), n(activities.KindAviso2, "email", "sent")}, "none", false},
		{"formal demand by certified e-mail, taken",
			[]Notice{n(activities.KindAviso1, "email", "sent"), n(req, "certified", "sent"), n(req, "whatsapp", "pending")},
			"certified sent, whatsapp pending", true},
		{"certified e-mail refused", []Notice{n(req, "certified", "failed"), n(req, "whatsapp", "pending")},
			"certified failed, whatsapp pending", false},
		{"certified e-mail not yet taken", []Notice{n(req, "certified", "pending")}, "certified pending", false},
		{"no provider configured", []Notice{n(req, "certified", "not_sent")}, "certified not_sent", false},
		{"paper letter for the clerks", []Notice{n(req, "letter", "pending"), n(req, "whatsapp", "pending")},
			"letter pending, whatsapp pending", false},
		{"a text alone", []Notice{n(req, "whatsapp", "sent")}, "whatsapp sent", false},
		{"business cut letter with its certified e-mail", []Notice{n(letter, "letter", "pending"), n(letter, "certified", "sent")},
			"letter pending, certified sent", true},
		{"a case from before delivery by the worker", []Notice{n(req, "certified", "")}, "certified stored", false},
		{"sent again after a hold: one taken is enough", []Notice{n(req, "certified", "failed"), n(req, "certified", "sent")},
			"certified failed, certified sent", true},
		{"a case that looked for proof: the provider's sent is not enough", []Notice{n(req, "certified", "sent")},
			"certified sent; sin prueba de entrega", false},
		{"a case that looked for proof: a burofax received", []Notice{n(req, "letter", "pending")},
			"letter pending; burofax recibido el 12/03/2026", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := State{Notices: tt.notices}
			if strings.Contains(tt.name, "looked for proof") {
				st.Proof = &activities.ProofStatus{}
				if strings.Contains(tt.name, "burofax") {
					st.Proof = &activities.ProofStatus{Proven: true, Kind: activities.ProofBurofax, Summary: "burofax recibido el 12/03/2026"}
				}
			}
			got, proven := st.FormalNotice()
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.proven, proven)
		})
	}
}

// PROCESS "The cut, at the moment it is requested": a cut letter whose
// delivery nothing proves keeps the case in cut_blocked, where the cuts desk
// cannot approve it; a proof recorded by a clerk wakes it, and only then is the
// cut reviewed and requested. A provider's "sent" is not a proof.
func TestFormalNotice_WithoutProofNoCutIsReviewed(t *testing.T) {
	h := newHarness(t, tuesday)
	h.setContract(businessContract()) // cut letter for Wednesday 18 March
	h.proof = func() activities.ProofStatus { return activities.ProofStatus{} }
	var blocked State
	h.at(madrid(2026, 3, 18, 12, 0), func() {
		blocked = h.state()
		h.env.SignalWorkflow(SignalApproveCut, ApproveCutSignal{By: "rocio"})
	})
	h.at(madrid(2026, 3, 23, 10, 0), func() { // Monday: the acuse de recibo is recorded
		h.mu.Lock()
		h.proof = nil // the default: received the day the letter was sent
		h.mu.Unlock()
		h.env.SignalWorkflow(SignalProofRecorded, ProofRecordedSignal{By: "ana"})
	})
	var review State
	h.at(madrid(2026, 3, 23, 11, 0), func() {
		review = h.state()
		h.env.SignalWorkflow(SignalApproveCut, ApproveCutSignal{By: "marta"})
	})
	h.watch(time.Hour, func(st State) bool {
		if st.Stage == StageCut {
			h.env.SignalWorkflow(SignalPaid, PaidSignal{AmountCents: st.AmountDueCents, Reference: "TRF-18"})
			return true
		}
		return false
	})
	r := h.run(h.input())

	require.Equal(t, StageCutBlocked, blocked.Stage)
	got, proven := blocked.FormalNotice()
	require.False(t, proven, got)
	require.Contains(t, got, "certified sent", "the provider took the e-mail, which proves nothing")
	require.Contains(t, got, "sin prueba de entrega")
	require.True(t, historyMentions(h.state(), "aprobación de corte rechazada", "cut_blocked"), "approval refused while blocked")
	require.Equal(t, StageCutReview, review.Stage)
	_, proven = review.FormalNotice()
	require.True(t, proven)
	cuts := h.cuts()
	require.Len(t, cuts, 1)
	require.Equal(t, "marta", cuts[0].ApprovedBy)
	require.True(t, cuts[0].Checked, "the request asks the ledger to check it")
	require.Equal(t, StageReconnected, r.Stage)
}
