package workflows

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/elega/impagos/activities"
)

func TestFormalNotice_ProvenOnlyByACertifiedEmailSent(t *testing.T) {
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, proven := State{Notices: tt.notices}.FormalNotice()
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.proven, proven)
		})
	}
}

// PROCESS steps 4 and 6: the cuts desk sees, at review, whether the cut letter
// reached the customer by its certified e-mail.
func TestFormalNotice_ShownAtReview(t *testing.T) {
	for _, refused := range []bool{false, true} {
		h := newHarness(t, tuesday)
		h.setContract(businessContract())
		if refused {
			h.refuse = map[int64]string{2: "550: mailbox unavailable"} // the cut letter: letter #1, certified #2
		}
		var review State
		h.at(madrid(2026, 3, 18, 12, 0), func() {
			review = h.state()
			h.env.SignalWorkflow(SignalPaid, PaidSignal{AmountCents: testAmount, Reference: "TRF-18"})
		})
		h.run(h.input())

		require.Equal(t, StageCutReview, review.Stage)
		got, proven := review.FormalNotice()
		if refused {
			require.False(t, proven, got)
			require.Contains(t, got, "certified failed")
		} else {
			require.True(t, proven, got)
			require.Contains(t, got, "certified sent")
		}
	}
}
