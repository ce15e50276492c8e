package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCutday_TheFirstAllowedDayInTheProvince(t *testing.T) {
	t.Setenv("IMPAGOS_HOLIDAYS_FILE", "")
	festivos := filepath.Join(t.TempDir(), "festivos.txt")
	if err := os.WriteFile(festivos, []byte("2026-09-24 [Barcelona] La Mercè\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		want     string
		wantNote string
	}{
		{"a Friday moves past the Immaculate Conception", []string{"2026-12-04"}, "2026-12-09", ""},
		{"eve of Sant Joan in Barcelona", []string{"2026-06-23", "--province", "Barcelona"}, "2026-06-25", ""},
		{"no Sant Joan in Madrid, by INE code", []string{"--province", "28", "2026-06-23"}, "2026-06-23", ""},
		{"unknown province: every region's holidays", []string{"2026-06-23", "--province", "Atlantis"}, "2026-06-25", `unknown province "Atlantis"`},
		{"no province: every region's holidays", []string{"2026-12-02"}, "2026-12-09", ""},
		{"a community", []string{"2026-06-23", "--province", "Catalunya"}, "2026-06-25", "is a community"},
		{"the retailer's day for Barcelona", []string{"2026-09-23", "--province", "Barcelona", "--holidays", festivos}, "2026-09-28", ""},
		{"the retailer's day is not Madrid's", []string{"2026-09-23", "--province", "Madrid", "--holidays", festivos}, "2026-09-23", ""},
		{"provisional data says so", []string{"2027-06-23", "--province", "Madrid"}, "2027-06-23", "provisional"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, note bytes.Buffer
			if err := cutday(tt.args, &out, &note); err != nil {
				t.Fatal(err)
			}
			if got := out.String(); got != tt.want+"\n" {
				t.Errorf("out = %q, want %q only", got, tt.want)
			}
			if tt.wantNote == "" && note.Len() > 0 || !strings.Contains(note.String(), tt.wantNote) {
				t.Errorf("note = %q, want %q", note.String(), tt.wantNote)
			}
		})
	}
}

func TestCutday_PastTheDataIsAnError(t *testing.T) {
	t.Setenv("IMPAGOS_HOLIDAYS_FILE", "")
	for args, want := range map[string]string{
		"2029-03-02": "the holiday calendar for 2029 is missing",
		"2028-12-29": "falls in 2029, and the holiday calendar for 2029 is missing",
		"2025-06-02": "the holiday calendar for 2025 is missing",
		"02/03/2027": `date "02/03/2027" is not YYYY-MM-DD`,
	} {
		var out, note bytes.Buffer
		err := cutday([]string{args}, &out, &note)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("cutday %s: error %v, want %q", args, err, want)
		}
		if out.Len() > 0 {
			t.Errorf("cutday %s printed %q", args, out.String())
		}
	}
}
