package engine

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/calendar"
)

// banClasses are the consumer classes a ban may name.
var banClasses = []string{activities.ClassBonoSocial, activities.ClassProtected, activities.ClassDomestic}

// ParseCutBans reads decreed cut bans, one per line:
//
//	FROM TO CLASSES NAME
//	2026-01-01 2026-12-31 bono_social,protected Prórroga de la prohibición de cortes
//
// FROM and TO are days (both included, Madrid); CLASSES, comma separated, are
// bono_social, protected and domestic; the rest of the line names the decree.
// Blank lines and lines starting with # are ignored. Errors name the line.
func ParseCutBans(r io.Reader) ([]activities.CutBan, error) {
	var out []activities.CutBan
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(strings.TrimPrefix(sc.Text(), "\ufeff"))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 {
			return nil, fmt.Errorf("cut bans line %d: want FROM TO CLASSES NAME, got %q", n, line)
		}
		from, err := time.ParseInLocation(time.DateOnly, f[0], calendar.Madrid)
		if err != nil {
			return nil, fmt.Errorf("cut bans line %d: FROM %q is not YYYY-MM-DD", n, f[0])
		}
		to, err := time.ParseInLocation(time.DateOnly, f[1], calendar.Madrid)
		if err != nil {
			return nil, fmt.Errorf("cut bans line %d: TO %q is not YYYY-MM-DD", n, f[1])
		}
		if to.Before(from) {
			return nil, fmt.Errorf("cut bans line %d: TO %s is before FROM %s", n, f[1], f[0])
		}
		classes := strings.Split(f[2], ",")
		for _, c := range classes {
			if !slices.Contains(banClasses, c) {
				return nil, fmt.Errorf("cut bans line %d: class %q is not one of %s", n, c, strings.Join(banClasses, ", "))
			}
		}
		out = append(out, activities.CutBan{Name: strings.Join(f[3:], " "), From: from, To: to, Classes: classes})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("cut bans: %w", err)
	}
	return out, nil
}

// CutBans reads IMPAGOS_CUT_BANS_FILE; no file means none beyond the decreed
// ones every policy carries.
func (c Config) CutBans() ([]activities.CutBan, error) {
	if c.CutBansFile == "" {
		return nil, nil
	}
	f, err := os.Open(c.CutBansFile)
	if err != nil {
		return nil, fmt.Errorf("IMPAGOS_CUT_BANS_FILE: %w", err)
	}
	defer f.Close()
	bans, err := ParseCutBans(f)
	if err != nil {
		return nil, fmt.Errorf("IMPAGOS_CUT_BANS_FILE %s: %w", c.CutBansFile, err)
	}
	return bans, nil
}
