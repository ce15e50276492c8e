package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/calendar"
)

// PROCESS "Vulnerable consumers": decreed bans are a configured list of
// periods and the consumer classes they protect.
func TestParseCutBans(t *testing.T) {
	bans, err := ParseCutBans(strings.NewReader("# prórrogas\n\n2026-01-01 2026-12-31 bono_social,protected Prórroga del escudo social\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := activities.CutBan{Name: "Prórroga del escudo social", From: calendar.Date(2026, time.January, 1),
		To: calendar.Date(2026, time.December, 31), Classes: []string{activities.ClassBonoSocial, activities.ClassProtected}}
	if len(bans) != 1 || bans[0].Name != want.Name || !bans[0].From.Equal(want.From) || !bans[0].To.Equal(want.To) ||
		strings.Join(bans[0].Classes, ",") != "bono_social,protected" {
		t.Fatalf("got %+v", bans)
	}
	for _, bad := range []struct{ in, want string }{
		{"2026-01-01 2026-12-31 bono_social", "line 1: want FROM TO CLASSES NAME"},
		{"2026-13-01 2026-12-31 bono_social x", "line 1: FROM \"2026-13-01\""},
		{"\n2026-02-01 2026-01-31 domestic x", "line 2: TO 2026-01-31 is before FROM"},
		{"2026-01-01 2026-12-31 pensionistas x", "class \"pensionistas\" is not one of"},
	} {
		if _, err := ParseCutBans(strings.NewReader(bad.in)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: got %v, want %q", bad.in, err, bad.want)
		}
	}
}
