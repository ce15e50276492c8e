// Package calendar decides on which days a supply cut may be carried out.
//
// RD 1955/2000 forbids cutting supply on a holiday, on a day without customer
// service, or on the eve of such a day. A day is therefore an allowed cut day
// when it is a working day (Monday to Friday, not a holiday) and so is the
// next one; Fridays never qualify because Saturday is not a working day.
//
// The workflow calls this package directly, so everything here is pure and
// deterministic: no clock, no files, no shared mutable state. Holiday files
// are read by LoadHolidays outside the workflow and passed to New.
package calendar

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // Madrid must load on hosts without system zoneinfo
)

// Madrid is the Europe/Madrid location, in which cut days are counted.
var Madrid = mustLoad("Europe/Madrid")

func mustLoad(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(fmt.Sprintf("calendar: load %s: %v", name, err))
	}
	return loc
}

// Date returns midnight in Madrid of y-m-d.
func Date(y int, m time.Month, d int) time.Time {
	return time.Date(y, m, d, 0, 0, 0, 0, Madrid)
}

// Holiday is a named national holiday.
type Holiday struct {
	Date time.Time // midnight in Madrid
	Name string
}

// Calendar decides allowed cut days. The zero value is not valid; use New.
//
// A Calendar is read-only after New, so copies may be shared freely.
type Calendar struct {
	extra map[int]bool // regional and local holidays keyed by dayKey
}

// New returns a calendar with Spain's national holidays plus the extra
// (regional or local) dates, each taken by its own year, month and day.
func New(extra ...time.Time) Calendar {
	c := Calendar{extra: make(map[int]bool, len(extra))}
	for _, t := range extra {
		y, m, d := t.Date()
		c.extra[dayKey(y, m, d)] = true
	}
	return c
}

// IsHoliday reports whether d's date in Madrid is a national or configured holiday.
func (c Calendar) IsHoliday(d time.Time) bool {
	return c.holiday(civil(d))
}

// IsWorkingDay reports whether d's date in Madrid is Monday to Friday and not a holiday.
func (c Calendar) IsWorkingDay(d time.Time) bool {
	return c.working(civil(d))
}

// IsAllowedCutDay reports whether a cut may happen on d's date in Madrid: it
// must be a working day and so must the next calendar day.
func (c Calendar) IsAllowedCutDay(d time.Time) bool {
	return c.allowed(civil(d))
}

// NextCutDay returns the first allowed cut day on or after d's date in
// Madrid, as midnight Madrid time of that day.
func (c Calendar) NextCutDay(d time.Time) time.Time {
	day := civil(d)
	// Terminates: the extra holidays are finite and national holidays never
	// cover a whole week, so some Monday to Thursday qualifies soon after.
	for !c.allowed(day) {
		day = day.AddDate(0, 0, 1)
	}
	y, m, dd := day.Date()
	return Date(y, m, dd)
}

// civil returns d's calendar date in Madrid as midnight UTC. Day arithmetic
// happens in UTC, where every day has 24 hours, so the DST changes in Madrid
// cannot shift a date.
func civil(d time.Time) time.Time {
	y, m, dd := d.In(Madrid).Date()
	return time.Date(y, m, dd, 0, 0, 0, 0, time.UTC)
}

func (c Calendar) holiday(day time.Time) bool {
	y, m, d := day.Date()
	return c.extra[dayKey(y, m, d)] || nationalName(y, m, d) != ""
}

func (c Calendar) working(day time.Time) bool {
	switch day.Weekday() {
	case time.Saturday, time.Sunday:
		return false
	}
	return !c.holiday(day)
}

func (c Calendar) allowed(day time.Time) bool {
	return c.working(day) && c.working(day.AddDate(0, 0, 1))
}

func dayKey(y int, m time.Month, d int) int { return y*10000 + int(m)*100 + d }

// fixedHolidays are the national holidays with a fixed date.
var fixedHolidays = [...]struct {
	m    time.Month
	d    int
	name string
}{
	{time.January, 1, "Año Nuevo"},
	{time.January, 6, "Epifanía del Señor"},
	{time.May, 1, "Fiesta del Trabajo"},
	{time.August, 15, "Asunción de la Virgen"},
	{time.October, 12, "Fiesta Nacional de España"},
	{time.November, 1, "Todos los Santos"},
	{time.December, 6, "Día de la Constitución Española"},
	{time.December, 8, "Inmaculada Concepción"},
	{time.December, 25, "Natividad del Señor"},
}

const goodFriday = "Viernes Santo"

// nationalName returns the name of the national holiday on y-m-d, or "".
func nationalName(y int, m time.Month, d int) string {
	for _, h := range fixedHolidays {
		if h.m == m && h.d == d {
			return h.name
		}
	}
	if m == time.March || m == time.April {
		gm, gd := goodFridayDate(y)
		if gm == m && gd == d {
			return goodFriday
		}
	}
	return ""
}

// NationalHolidays returns Spain's national holidays of a year, sorted by date.
func NationalHolidays(year int) []Holiday {
	hs := make([]Holiday, 0, len(fixedHolidays)+1)
	for _, h := range fixedHolidays {
		hs = append(hs, Holiday{Date: Date(year, h.m, h.d), Name: h.name})
	}
	gm, gd := goodFridayDate(year)
	hs = append(hs, Holiday{Date: Date(year, gm, gd), Name: goodFriday})
	slices.SortFunc(hs, func(a, b Holiday) int { return a.Date.Compare(b.Date) })
	return hs
}

// goodFridayDate returns the month and day of Good Friday, two days before Easter.
func goodFridayDate(year int) (time.Month, int) {
	m, d := easter(year)
	t := time.Date(year, m, d, 0, 0, 0, 0, time.UTC).AddDate(0, 0, -2)
	return t.Month(), t.Day()
}

// easter returns the month and day of Easter Sunday in the Gregorian
// calendar (the anonymous Gregorian algorithm, also known as Meeus/Jones/Butcher).
func easter(year int) (time.Month, int) {
	a := year % 19
	b, c := year/100, year%100
	d, e := b/4, b%4
	f := (b + 8) / 25
	g := (b - f + 1) / 3
	h := (19*a + b - d - g + 15) % 30
	i, k := c/4, c%4
	l := (32 + 2*e + 2*i - h - k) % 7
	m := (a + 11*h + 22*l) / 451
	month := (h + l - 7*m + 114) / 31
	day := (h+l-7*m+114)%31 + 1
	return time.Month(month), day
}

// ParseHolidays reads a holidays file: one date per line as YYYY-MM-DD,
// optionally followed by whitespace and a name. Blank lines and lines starting
// with # are ignored. The dates are returned as midnight in Madrid.
func ParseHolidays(r io.Reader) ([]time.Time, error) {
	var days []time.Time
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if n == 1 {
			line = strings.TrimPrefix(line, "\ufeff") // files saved by Windows editors
		}
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		field := strings.Fields(line)[0] // the rest of the line is the holiday's name
		t, err := time.Parse(time.DateOnly, field)
		if err != nil {
			return nil, fmt.Errorf("holidays line %d: %q is not a valid YYYY-MM-DD date", n, field)
		}
		y, m, d := t.Date()
		days = append(days, Date(y, m, d))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("holidays line %d: %w", n+1, err)
	}
	return days, nil
}

// LoadHolidays reads the holidays file at path with ParseHolidays. An empty
// path means no extra holidays and returns nil, nil.
func LoadHolidays(path string) ([]time.Time, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load holidays: %w", err)
	}
	defer f.Close()
	days, err := ParseHolidays(f)
	if err != nil {
		return nil, fmt.Errorf("load holidays %s: %w", path, err)
	}
	return days, nil
}
