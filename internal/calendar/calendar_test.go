package calendar

import (
	"strings"
	"testing"
	"time"
)

// day is a date written compactly for tables: "2026-12-08".
func day(t *testing.T, s string) time.Time {
	t.Helper()
	p, err := time.Parse(time.DateOnly, s)
	if err != nil {
		t.Fatalf("bad test date %q: %v", s, err)
	}
	return Date(p.Year(), p.Month(), p.Day())
}

func TestEaster(t *testing.T) {
	tests := []struct {
		year int
		want string
	}{
		{2019, "2019-04-21"},
		{2024, "2024-03-31"},
		{2025, "2025-04-20"},
		{2026, "2026-04-05"},
		{2027, "2027-03-28"},
		{2028, "2028-04-16"},
		{2029, "2029-04-01"},
		{2030, "2030-04-21"},
		{2038, "2038-04-25"}, // latest possible date
		{2285, "2285-03-22"}, // earliest possible date
	}
	for _, tt := range tests {
		m, d := easter(tt.year)
		if got := Date(tt.year, m, d); !got.Equal(day(t, tt.want)) {
			t.Errorf("easter(%d) = %s, want %s", tt.year, got.Format(time.DateOnly), tt.want)
		}
		gm, gd := goodFridayDate(tt.year)
		if got, want := Date(tt.year, gm, gd), day(t, tt.want).AddDate(0, 0, -2); !got.Equal(want) {
			t.Errorf("Good Friday %d = %s, want %s", tt.year, got.Format(time.DateOnly), want.Format(time.DateOnly))
		}
	}
}

// national lists, by hand, every national holiday of the years the tests
// walk through, so that the tests do not trust the code they check.
var national = map[int][]Holiday{
	2026: {
		{Name: "Año Nuevo", Date: Date(2026, 1, 1)},
		{Name: "Epifanía del Señor", Date: Date(2026, 1, 6)},
		{Name: "Viernes Santo", Date: Date(2026, 4, 3)},
		{Name: "Fiesta del Trabajo", Date: Date(2026, 5, 1)},
		{Name: "Asunción de la Virgen", Date: Date(2026, 8, 15)},
		{Name: "Fiesta Nacional de España", Date: Date(2026, 10, 12)},
		{Name: "Todos los Santos", Date: Date(2026, 11, 1)},
		{Name: "Día de la Constitución Española", Date: Date(2026, 12, 6)},
		{Name: "Inmaculada Concepción", Date: Date(2026, 12, 8)},
		{Name: "Natividad del Señor", Date: Date(2026, 12, 25)},
	},
	2027: {
		{Name: "Año Nuevo", Date: Date(2027, 1, 1)},
		{Name: "Epifanía del Señor", Date: Date(2027, 1, 6)},
		{Name: "Viernes Santo", Date: Date(2027, 3, 26)},
		{Name: "Fiesta del Trabajo", Date: Date(2027, 5, 1)},
		{Name: "Asunción de la Virgen", Date: Date(2027, 8, 15)},
		{Name: "Fiesta Nacional de España", Date: Date(2027, 10, 12)},
		{Name: "Todos los Santos", Date: Date(2027, 11, 1)},
		{Name: "Día de la Constitución Española", Date: Date(2027, 12, 6)},
		{Name: "Inmaculada Concepción", Date: Date(2027, 12, 8)},
		{Name: "Natividad del Señor", Date: Date(2027, 12, 25)},
	},
	2028: {
		{Name: "Año Nuevo", Date: Date(2028, 1, 1)},
		{Name: "Epifanía del Señor", Date: Date(2028, 1, 6)},
		{Name: "Viernes Santo", Date: Date(2028, 4, 14)},
		{Name: "Fiesta del Trabajo", Date: Date(2028, 5, 1)},
		{Name: "Asunción de la Virgen", Date: Date(2028, 8, 15)},
		{Name: "Fiesta Nacional de España", Date: Date(2028, 10, 12)},
		{Name: "Todos los Santos", Date: Date(2028, 11, 1)},
		{Name: "Día de la Constitución Española", Date: Date(2028, 12, 6)},
		{Name: "Inmaculada Concepción", Date: Date(2028, 12, 8)},
		{Name: "Natividad del Señor", Date: Date(2028, 12, 25)},
	},
}

func TestNationalHolidays(t *testing.T) {
	for _, year := range []int{2026, 2027, 2028} {
		got := NationalHolidays(year)
		want := national[year]
		if len(got) != len(want) {
			t.Fatalf("NationalHolidays(%d) has %d holidays, want %d", year, len(got), len(want))
		}
		for i := range want {
			if !got[i].Date.Equal(want[i].Date) || got[i].Name != want[i].Name {
				t.Errorf("NationalHolidays(%d)[%d] = %s %s, want %s %s", year, i,
					got[i].Date.Format(time.DateOnly), got[i].Name, want[i].Date.Format(time.DateOnly), want[i].Name)
			}
			if got[i].Date.Location() != Madrid || got[i].Date.Hour() != 0 {
				t.Errorf("NationalHolidays(%d)[%d] = %v, want midnight in Madrid", year, i, got[i].Date)
			}
		}
	}
}

func TestNationalHolidaysSorted(t *testing.T) {
	for year := 1900; year <= 2200; year++ {
		hs := NationalHolidays(year)
		for i := 1; i < len(hs); i++ {
			if !hs[i-1].Date.Before(hs[i].Date) {
				t.Fatalf("NationalHolidays(%d) not sorted at %d: %v then %v", year, i, hs[i-1].Date, hs[i].Date)
			}
		}
	}
}

func TestIsHoliday(t *testing.T) {
	c := New()
	tests := []struct {
		name string
		at   time.Time
		want bool
	}{
		{"Christmas on a Friday", Date(2026, 12, 25), true},
		{"Assumption on a Saturday still counts", Date(2026, 8, 15), true},
		{"Good Friday 2027", Date(2027, 3, 26), true},
		{"Holy Thursday is regional, not national", Date(2026, 4, 2), false},
		{"Easter Monday is regional, not national", Date(2026, 4, 6), false},
		{"Christmas Eve", Date(2026, 12, 24), false},
		{"late on the 24th in UTC is the 25th in Madrid", time.Date(2026, 12, 24, 23, 30, 0, 0, time.UTC), true},
		{"late on the 25th in UTC is the 26th in Madrid", time.Date(2026, 12, 25, 23, 30, 0, 0, time.UTC), false},
		{"summer offset: 22:30 UTC on 14 Aug is 15 Aug in Madrid", time.Date(2026, 8, 14, 22, 30, 0, 0, time.UTC), true},
	}
	for _, tt := range tests {
		if got := c.IsHoliday(tt.at); got != tt.want {
			t.Errorf("%s: IsHoliday(%v) = %v, want %v", tt.name, tt.at, got, tt.want)
		}
	}
}

func TestIsAllowedCutDay(t *testing.T) {
	c := New()
	tests := []struct {
		date string
		want bool
		why  string
	}{
		{"2026-03-09", true, "ordinary Monday"},
		{"2026-03-10", true, "ordinary Tuesday"},
		{"2026-03-11", true, "ordinary Wednesday"},
		{"2026-03-12", true, "ordinary Thursday"},
		{"2026-03-13", false, "Friday"},
		{"2026-03-14", false, "Saturday"},
		{"2026-03-15", false, "Sunday"},
		{"2026-01-01", false, "New Year"},
		{"2026-01-05", false, "Monday, eve of Epiphany"},
		{"2026-01-07", true, "Wednesday after Epiphany"},
		{"2026-04-02", false, "Thursday, eve of Good Friday"},
		{"2026-04-06", true, "Easter Monday is not a national holiday"},
		{"2026-04-30", false, "Thursday, eve of 1 May"},
		{"2026-10-12", false, "national day, a Monday"},
		{"2026-10-13", true, "Tuesday after the national day"},
		{"2026-12-04", false, "Friday"},
		{"2026-12-05", false, "Saturday"},
		{"2026-12-07", false, "Monday, eve of 8 Dec"},
		{"2026-12-08", false, "Inmaculada"},
		{"2026-12-09", true, "Wednesday after Inmaculada"},
		{"2026-12-24", false, "Thursday, eve of Christmas"},
		{"2026-12-31", false, "Thursday, eve of New Year"},
		{"2027-01-05", false, "Tuesday, eve of Epiphany"},
		{"2027-03-25", false, "Thursday, eve of Good Friday"},
		{"2027-10-11", false, "Monday, eve of the national day"},
		{"2027-10-29", false, "Friday, eve of a weekend before All Saints"},
		{"2027-11-01", false, "All Saints, a Monday"},
		{"2027-11-02", true, "Tuesday after All Saints"},
		{"2027-12-06", false, "Constitution Day, a Monday"},
		{"2027-12-07", false, "Tuesday, eve of Inmaculada"},
		{"2027-12-09", true, "Thursday after Inmaculada"},
	}
	for _, tt := range tests {
		if got := c.IsAllowedCutDay(day(t, tt.date)); got != tt.want {
			t.Errorf("IsAllowedCutDay(%s) = %v, want %v (%s)", tt.date, got, tt.want, tt.why)
		}
	}
}

func TestNextCutDay(t *testing.T) {
	regional, err := ParseHolidays(strings.NewReader("2026-03-19 San José\n"))
	if err != nil {
		t.Fatal(err)
	}
	national, withSanJose := New(), New(regional...)
	tests := []struct {
		name string
		cal  Calendar
		from time.Time
		want string
	}{
		{"allowed day stays", national, Date(2026, 3, 11), "2026-03-11"},
		{"time of day is dropped", national, time.Date(2026, 3, 11, 18, 30, 0, 0, Madrid), "2026-03-11"},
		{"late UTC evening is the next Madrid day", national, time.Date(2026, 3, 11, 23, 30, 0, 0, time.UTC), "2026-03-12"},
		{"Friday moves to Monday", national, Date(2026, 3, 6), "2026-03-09"},
		{"Saturday moves to Monday", national, Date(2026, 3, 7), "2026-03-09"},
		{"Friday before a holiday Monday moves to Tuesday", national, Date(2026, 10, 9), "2026-10-13"},
		{"Friday before the eve of a holiday moves past it", national, Date(2026, 12, 4), "2026-12-09"},
		{"eve of a holiday moves past it", national, Date(2026, 12, 7), "2026-12-09"},
		{"eve of Good Friday moves to Easter Monday", national, Date(2026, 4, 2), "2026-04-06"},
		{"Christmas Eve", national, Date(2026, 12, 24), "2026-12-28"},
		{"across the new year", national, Date(2026, 12, 31), "2027-01-04"},
		{"eve of Epiphany 2027", national, Date(2027, 1, 5), "2027-01-07"},
		{"without San José, 18 March is allowed", national, Date(2026, 3, 18), "2026-03-18"},
		{"eve of San José moves past it and the weekend", withSanJose, Date(2026, 3, 18), "2026-03-23"},
		{"San José itself", withSanJose, Date(2026, 3, 19), "2026-03-23"},
		{"before the eve of San José", withSanJose, Date(2026, 3, 17), "2026-03-17"},
		{"DST spring: Friday before the change", national, Date(2026, 3, 27), "2026-03-30"},
		{"DST spring: just after midnight on the change day", national, time.Date(2026, 3, 28, 23, 30, 0, 0, time.UTC), "2026-03-30"},
		{"DST autumn: late on the change day", national, time.Date(2026, 10, 25, 22, 30, 0, 0, time.UTC), "2026-10-26"},
		{"DST spring 2027 on Easter Sunday", national, Date(2027, 3, 28), "2027-03-29"},
		{"DST autumn 2027, eve of All Saints weekend", national, Date(2027, 10, 29), "2027-11-02"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.cal.NextCutDay(tt.from)
			want := day(t, tt.want)
			if !got.Equal(want) || got.Location() != Madrid {
				t.Errorf("NextCutDay(%v) = %v, want %v", tt.from, got, want)
			}
		})
	}
}

func TestAddWorkingDays(t *testing.T) {
	regional, err := ParseHolidays(strings.NewReader("2026-03-19 San José\n"))
	if err != nil {
		t.Fatal(err)
	}
	national, withSanJose := New(), New(regional...)
	tests := []struct {
		name string
		cal  Calendar
		from time.Time
		n    int
		want string
	}{
		{"none is the day itself", national, time.Date(2026, 3, 11, 18, 30, 0, 0, Madrid), 0, "2026-03-11"},
		{"Wednesday plus one", national, Date(2026, 3, 11), 1, "2026-03-12"},
		{"Friday plus one is Monday", national, Date(2026, 3, 6), 1, "2026-03-09"},
		{"from a Saturday", national, Date(2026, 3, 7), 1, "2026-03-09"},
		{"five from a Monday is the next Monday", national, Date(2026, 3, 9), 5, "2026-03-16"},
		{"a regional holiday is skipped", withSanJose, Date(2026, 3, 18), 1, "2026-03-20"},
		{"not where it is not one", national, Date(2026, 3, 18), 1, "2026-03-19"},
		{"Good Friday and the weekend", national, Date(2026, 4, 2), 1, "2026-04-06"},
		{"late UTC evening is the next Madrid day", national, time.Date(2026, 3, 11, 23, 30, 0, 0, time.UTC), 1, "2026-03-13"},
		{"across the new year", national, Date(2026, 12, 30), 2, "2027-01-04"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.cal.AddWorkingDays(tt.from, tt.n)
			want := day(t, tt.want)
			if !got.Equal(want) || got.Location() != Madrid {
				t.Errorf("AddWorkingDays(%v, %d) = %v, want %v", tt.from, tt.n, got, want)
			}
		})
	}
}

// TestEveryDay walks 2026 and 2027 and checks the definitions against a
// holiday list written by hand, with and without a regional holiday.
func TestEveryDay(t *testing.T) {
	sanJose := Date(2026, 3, 19)
	for _, tc := range []struct {
		name  string
		cal   Calendar
		extra []time.Time
	}{
		{"national", New(), nil},
		{"with San José", New(sanJose), []time.Time{sanJose}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			holidays := map[string]bool{}
			for _, hs := range national {
				for _, h := range hs {
					holidays[h.Date.Format(time.DateOnly)] = true
				}
			}
			for _, e := range tc.extra {
				holidays[e.Format(time.DateOnly)] = true
			}
			working := func(d time.Time) bool {
				wd := d.Weekday()
				return wd != time.Saturday && wd != time.Sunday && !holidays[d.Format(time.DateOnly)]
			}
			checkEveryDay(t, tc.cal, working)
		})
	}
}

// checkEveryDay asserts the cut-day definitions for every day of 2026 and
// 2027, at several times of day, given an independent working-day oracle.
func checkEveryDay(t *testing.T, c Calendar, working func(time.Time) bool) {
	t.Helper()
	for d := Date(2026, 1, 1); d.Year() < 2028; d = d.AddDate(0, 0, 1) {
		if d.Hour() != 0 {
			t.Fatalf("AddDate left midnight: %v", d)
		}
		next := d.AddDate(0, 0, 1)
		wantAllowed := working(d) && working(next)
		for _, at := range []time.Time{d, d.Add(12 * time.Hour), next.Add(-time.Minute)} {
			if got := c.IsWorkingDay(at); got != working(d) {
				t.Errorf("IsWorkingDay(%v) = %v, want %v", at, got, working(d))
			}
			if got := c.IsAllowedCutDay(at); got != wantAllowed {
				t.Errorf("IsAllowedCutDay(%v) = %v, want %v", at, got, wantAllowed)
			}
			cut := c.NextCutDay(at)
			if cut.Location() != Madrid || cut.Hour() != 0 || cut.Minute() != 0 {
				t.Errorf("NextCutDay(%v) = %v, want midnight in Madrid", at, cut)
			}
			if cut.Before(d) || !c.IsAllowedCutDay(cut) || !(working(cut) && working(cut.AddDate(0, 0, 1))) {
				t.Errorf("NextCutDay(%v) = %v, want an allowed day on or after %v", at, cut, d)
			}
			for between := d; between.Before(cut); between = between.AddDate(0, 0, 1) {
				if working(between) && working(between.AddDate(0, 0, 1)) {
					t.Errorf("NextCutDay(%v) = %v skips the allowed day %v", at, cut, between)
				}
			}
		}
		if d.Weekday() == time.Friday && wantAllowed {
			t.Errorf("%v is a Friday and must never be allowed", d)
		}
	}
}

func TestNewTakesExtraDatesByTheirOwnDate(t *testing.T) {
	// 23:00 UTC on 19 March is already 20 March in Madrid; the configured
	// day is still the 19th, as written.
	c := New(time.Date(2026, 3, 19, 23, 0, 0, 0, time.UTC))
	if !c.IsHoliday(Date(2026, 3, 19)) {
		t.Error("19 March 2026 should be a holiday")
	}
	if c.IsHoliday(Date(2026, 3, 20)) {
		t.Error("20 March 2026 should not be a holiday")
	}
}

func TestCalendarCopiesShareNothingMutable(t *testing.T) {
	a := New(Date(2026, 3, 19))
	b := a
	_ = New(Date(2026, 3, 20)) // another calendar must not affect a or b
	if !b.IsHoliday(Date(2026, 3, 19)) || b.IsHoliday(Date(2026, 3, 20)) || a.IsHoliday(Date(2026, 3, 20)) {
		t.Error("calendars interfere with each other")
	}
}

func TestParseHolidays(t *testing.T) {
	in := "\ufeff# regional holidays\r\n" +
		"\r\n" +
		"2026-03-19 San José\r\n" +
		"   2026-04-02\tJueves Santo  \n" +
		"2026-05-15\n" +
		"  # indented comment\n"
	got, err := ParseHolidays(strings.NewReader(in))
	if err != nil {
		t.Fatalf("ParseHolidays: %v", err)
	}
	want := []time.Time{Date(2026, 3, 19), Date(2026, 4, 2), Date(2026, 5, 15)}
	if len(got) != len(want) {
		t.Fatalf("ParseHolidays = %v, want %v", got, want)
	}
	for i := range want {
		if !got[i].Equal(want[i]) || got[i].Location() != Madrid {
			t.Errorf("ParseHolidays[%d] = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestParseHolidaysEmpty(t *testing.T) {
	got, err := ParseHolidays(strings.NewReader("# nothing configured\n\n"))
	if err != nil || len(got) != 0 {
		t.Errorf("ParseHolidays(comments only) = %v, %v; want no dates", got, err)
	}
}

func TestParseHolidaysErrors(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string
	}{
		{"2026-03-19\n\n19/03/2026 San José\n", `holidays line 3: "19/03/2026" is not a valid YYYY-MM-DD date`},
		{"2026-13-01\n", "holidays line 1:"},
		{"# header\n2026-02-30 no such day\n", "holidays line 2:"},
		{"2026-3-19\n", `holidays line 1: "2026-3-19"`},
		{"San José 2026-03-19\n", `holidays line 1: "San"`},
		{"2026-03-19San José\n", "holidays line 1:"},
	}
	for _, tt := range tests {
		got, err := ParseHolidays(strings.NewReader(tt.in))
		if err == nil {
			t.Errorf("ParseHolidays(%q) = %v, want an error", tt.in, got)
			continue
		}
		if !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("ParseHolidays(%q) error = %q, want it to contain %q", tt.in, err, tt.wantErr)
		}
	}
}

func TestLoadHolidays(t *testing.T) {
	got, err := LoadHolidays("")
	if got != nil || err != nil {
		t.Errorf(`LoadHolidays("") = %v, %v; want nil, nil`, got, err)
	}

	got, err = LoadHolidays("testdata/holidays_example.txt")
	if err != nil {
		t.Fatalf("LoadHolidays: %v", err)
	}
	c := New(got...)
	for _, d := range []time.Time{Date(2026, 3, 19), Date(2026, 4, 2), Date(2026, 5, 15)} {
		if !c.IsHoliday(d) {
			t.Errorf("%v from the example file is not a holiday", d)
		}
	}

	if _, err := LoadHolidays("testdata/no-such-file.txt"); err == nil {
		t.Error("LoadHolidays(missing file) = nil error, want one")
	}
}

func TestMadrid(t *testing.T) {
	if Madrid == nil || Madrid.String() != "Europe/Madrid" {
		t.Fatalf("Madrid = %v, want Europe/Madrid", Madrid)
	}
	// Winter is UTC+1, summer UTC+2.
	for _, tt := range []struct {
		at   time.Time
		want int
	}{
		{Date(2026, 1, 15), 3600},
		{Date(2026, 7, 15), 7200},
	} {
		if _, off := tt.at.Zone(); off != tt.want {
			t.Errorf("offset at %v = %d, want %d", tt.at, off, tt.want)
		}
	}
}
