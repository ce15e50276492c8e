// Package calendar decides on which days a supply cut may be carried out.
//
// RD 1955/2000 forbids cutting supply on a holiday, on a day without customer
// service, or on the eve of such a day. A day is therefore an allowed cut day
// when it is a working day (Monday to Friday, not a holiday) and so is the
// next one; Fridays never qualify because Saturday is not a working day.
//
// Holidays are Spain's national ones, which New computes, plus the regional
// and local ones of the supply's own calendar, which depend on its province:
// Sant Joan and the Diada in Catalonia, Santiago in Galicia, Holy Thursday in
// most communities but not in Catalonia or Valencia. The regional holidays of
// each year are data files in holidays/ (embedded in the build, each naming
// its sources, 2026 to 2028 today: add the next year's file when the BOE
// publishes its list every autumn). Regional and ForProvince read them for a
// province; an empty or unknown province gets every region's holidays, the
// strictest calendar. The retailer adds days in IMPAGOS_HOLIDAYS_FILE, for
// every province or scoped to one (see ParseExtra):
//
//	2026-03-19 San José                  every province
//	2026-09-24 [Barcelona] La Mercè      the province of Barcelona
//	2026-05-15 [28079] San Isidro        Madrid's municipality code: its province
//	2026-07-25 @CT Santiago              every province of Catalonia
//
// The workflow calls New and the Calendar methods directly, so they are pure
// and deterministic: no clock, no files, no shared mutable state. The data
// files and the retailer's file are read outside the workflow (activities,
// the ledger, the starter), and the days they give travel as dates to New.
package calendar

import (
	"fmt"
	"io"
	"slices"
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

// AddWorkingDays returns the n-th working day after d's date in Madrid, as
// midnight Madrid time of that day: the distributor's bounds are counted so.
// For n of 0 or less it is d's date.
func (c Calendar) AddWorkingDays(d time.Time, n int) time.Time {
	day := civil(d)
	for n > 0 {
		day = day.AddDate(0, 0, 1)
		if c.working(day) {
			n--
		}
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

// ParseHolidays reads a holidays file (see ParseExtra) and returns the days
// it gives for every province, as midnight in Madrid. Lines scoped to a
// province or a community are checked and left out: ParseExtra returns them.
func ParseHolidays(r io.Reader) ([]time.Time, error) {
	e, err := ParseExtra(r)
	if err != nil {
		return nil, err
	}
	return e.All, nil
}

// LoadHolidays reads the holidays file at path with ParseHolidays. An empty
// path means no extra holidays and returns nil, nil.
func LoadHolidays(path string) ([]time.Time, error) {
	e, err := LoadExtra(path)
	if err != nil {
		return nil, err
	}
	return e.All, nil
}
