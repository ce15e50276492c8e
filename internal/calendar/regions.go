package calendar

import (
	"slices"
	"time"
)

// Province is a Spanish province with its INE code and autonomous community.
type Province struct {
	Code      string // INE code, two digits: "08" Barcelona
	Name      string
	Community string // code of its autonomous community or city: "CT"
}

// Regional returns the regional and local holidays of the supplies of a
// province, for every year the data covers, and the last year covered. An
// empty or unknown province gets every region's holidays: no day that is a
// holiday or an eve anywhere is allowed there. extra are configured days
// (IMPAGOS_HOLIDAYS_FILE) that apply to the province.
//
// A province may also be named by its autonomous community ("Cataluña"):
// the supply is then in one of its provinces, and the holidays of all of
// them count. The days are sorted, once each, at midnight in Madrid; the
// national holidays, which New always adds, are not among them.
func Regional(province string, extra Extra) (days []time.Time, through int) {
	d := data()
	in := where(province)
	keys := make([]int, 0, 64)
	for _, h := range d.holidays {
		if !h.national() && in(h.scope) {
			keys = append(keys, h.key)
		}
	}
	for _, t := range extra.For(province) {
		y, m, dd := t.Date()
		keys = append(keys, dayKey(y, m, dd))
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	days = make([]time.Time, len(keys))
	for i, k := range keys {
		days[i] = Date(k/10000, time.Month(k/100%100), k%100)
	}
	return days, d.last
}

// where returns the test of the holiday scopes that bear on a supply in
// province: its own province and community; every province of a community
// named instead; everything when the place is empty or unknown.
func where(province string) func(scope) bool {
	if p, ok := LookupProvince(province); ok {
		return func(s scope) bool { return s.province == p.Code || s.community == p.Community }
	}
	if c, ok := LookupCommunity(province); ok {
		return func(s scope) bool {
			return s.community == c.Code || (s.province != "" && provinceByCode[s.province].Community == c.Code)
		}
	}
	return func(scope) bool { return true }
}

// Years returns the first and the last year of the regional holiday data.
// Outside them only the national holidays are known.
func Years() (first, through int) {
	d := data()
	return d.first, d.last
}

// Provisional reports whether the regional holidays of a year were filled
// from the communities' usual pattern, before (or without checking) the
// official list: see the header of its file in internal/calendar/holidays.
func Provisional(year int) bool {
	return data().provisional[year]
}

// Extra are the configured holidays: for every province, or for one.
type Extra struct {
	All        []time.Time
	ByProvince map[string][]time.Time // by INE code
}

// For returns the configured days that apply to a province: those for every
// province and the province's own. A community instead of a province gets
// the days of all its provinces, and an empty or unknown province the days
// of every province, as Regional does with the data.
func (e Extra) For(province string) []time.Time {
	out := append([]time.Time(nil), e.All...)
	if p, ok := LookupProvince(province); ok {
		return append(out, e.ByProvince[p.Code]...)
	}
	c, isCommunity := LookupCommunity(province)
	for _, p := range provinces {
		if !isCommunity || p.Community == c.Code {
			out = append(out, e.ByProvince[p.Code]...)
		}
	}
	return out
}

// ForProvince is the calendar of allowed cut days of a supply in a province,
// and the last year of holiday data it knows (see Regional).
func ForProvince(province string, extra Extra) (Calendar, int) {
	days, through := Regional(province, extra)
	return New(days...), through
}
