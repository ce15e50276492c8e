package main

import (
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{[]float64{12.1, 3, 11.8}, 11.8},
		{[]float64{4, 1}, 2.5},
		{[]float64{7}, 7},
	} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// A round's ratios compare per case with per no-op start and per
// one-activity workflow, whatever the sizes of its batches.
func TestFirstNoticeRoundRatios(t *testing.T) {
	r := firstNoticeRound{
		cases: 100, caseTook: 4 * time.Second, caseServer: 6.0, // 60 ms a case, 25 a second
		noops: 200, noopServer: 1.0, // 5 ms a start
		bare: 100, bareTook: time.Second, // 100 a second
	}
	if got := r.serverRatio(); got != 12 {
		t.Errorf("server ratio = %v, want 12", got)
	}
	if got := ratio(r.caseRate(), r.bareRate()); got != 0.25 {
		t.Errorf("rate ratio = %v, want 0.25", got)
	}
}
