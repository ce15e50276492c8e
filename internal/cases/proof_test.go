package cases

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/calendar"
	"github.com/elega/impagos/internal/store"
)

// outboxOnly is a ledger that holds an outbox and records no proof.
type outboxOnly []store.OutboxRow

func (o outboxOnly) Outbox(context.Context, store.OutboxFilter) ([]store.OutboxRow, error) {
	return o, nil
}

func (outboxOnly) RecordProof(context.Context, store.Proof) (store.Proof, error) {
	return store.Proof{}, errors.New("not here")
}

// The proof a driver records is dated the day the formal notice of the
// invoice's current case went out, in Madrid: that run's first formal notice.
func TestFormalNoticeDay_IsTheLatestRunsFirstFormalNoticeInMadrid(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	row := func(id int64, run, kind, noticeAt string) store.OutboxRow {
		return store.OutboxRow{ID: id, RunID: run, Kind: kind, NoticeAt: at(noticeAt)}
	}
	tests := []struct {
		name    string
		rows    outboxOnly
		wantRun string
		wantDay time.Time
		wantErr error
	}{
		{"no formal notice yet", outboxOnly{row(1, "r1", activities.KindAviso1, "2027-01-04T08:00:00Z")}, "", time.Time{}, ErrNoFormalNotice},
		{"requerimiento sent late in the evening, UTC", outboxOnly{
			row(1, "r1", activities.KindAviso2, "2027-01-04T08:00:00Z"),
			row(2, "r1", activities.KindRequerimiento, "2027-01-11T23:30:00Z"),
			row(3, "r1", activities.KindRequerimiento, "2027-01-11T23:30:00Z"),
		}, "r1", calendar.Date(2027, time.January, 12), nil},
		{"cut letter after a requerimiento: the first counts", outboxOnly{
			row(4, "r1", activities.KindRequerimiento, "2027-02-01T08:00:00Z"),
			row(7, "r1", activities.KindCutLetter, "2027-03-01T08:00:00Z"),
		}, "r1", calendar.Date(2027, time.February, 1), nil},
		{"a later run's notice, not the earlier run's", outboxOnly{
			row(1, "r1", activities.KindCutLetter, "2026-05-04T08:00:00Z"),
			row(9, "r2", activities.KindCutLetter, "2027-06-07T08:00:00Z"),
		}, "r2", calendar.Date(2027, time.June, 7), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run, day, err := formalNoticeDay(context.Background(), tt.rows, "F-1")
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if run != tt.wantRun || !day.Equal(tt.wantDay) {
				t.Errorf("run %q day %s, want run %q day %s", run, day, tt.wantRun, tt.wantDay)
			}
		})
	}
}
