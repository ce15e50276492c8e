package sheets

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/xuri/excelize/v2"

	"github.com/elega/impagos/internal/calendar"
	"github.com/elega/impagos/internal/money"
)

// maxAmountCents is the largest amount a row may carry: 1.000.000,00 €. A
// household or small-business electricity invoice is a few hundred or
// thousand euros; anything above is a typing or export error.
const maxAmountCents = 1_000_000_00

// clean trims s and collapses the whitespace inside it (no-break spaces
// included) to single spaces, dropping the zero-width characters that
// copy-pasting leaves behind. Control characters (a cell may hold any,
// written _x0000_ and the like) count as spaces: the database refuses NUL.
func clean(s string) string {
	if s == "" {
		return ""
	}
	s = strings.Map(func(r rune) rune {
		switch r {
		case '\u200b', '\u200c', '\u200d', '\u2060', '\ufeff':
			return -1
		}
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.FieldsFunc(s, unicode.IsSpace), " ")
}

// text returns a cell as text. A number cell holding a whole number (an
// invoice or phone typed into a number cell) reads without decimals or
// exponent: 600111222, not 6.00111222E8.
func text(v string, k cellKind) string {
	v = clean(v)
	if k == kindNumber && v != "" {
		if f, err := strconv.ParseFloat(v, 64); err == nil && f == math.Trunc(f) && math.Abs(f) < 1e15 {
			return strconv.FormatFloat(f, 'f', -1, 64)
		}
	}
	return v
}

// amount reads a cell as a positive amount of at most two decimals and at
// most maxAmountCents.
//
// A number cell is read as the number it stores ("12.125" is 12.125 and is
// rejected: a tenth of a cent); a text cell as a person writes it in Spain
// ("12.125" is 12.125,00 €, "1.234,56 €", "12,50 EUR").
func amount(v string, k cellKind) (int64, error) {
	var cents int64
	switch k {
	case kindNumber:
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return 0, fmt.Errorf("amount %q is not a number", v)
		}
		if cents, err = money.FromFloat(f); err != nil {
			return 0, err
		}
	case kindText:
		var err error
		if cents, err = money.Parse(v); err != nil {
			return 0, err
		}
	default:
		return 0, fmt.Errorf("amount %q is not a number", v)
	}
	switch {
	case cents <= 0:
		return 0, fmt.Errorf("amount %s is not positive", money.Format(cents))
	case cents > maxAmountCents:
		return 0, fmt.Errorf("amount %s is above the limit of %s", money.Format(cents), money.Format(maxAmountCents))
	}
	return cents, nil
}

// Dates outside these years are typing errors, not collections.
const minYear, maxYear = 1990, 2100

// date reads a cell as a calendar day and returns midnight of it in Madrid.
// Text may be dd/mm/yyyy, d/m/yy, dd-mm-yyyy, dd.mm.yyyy or yyyy-mm-dd, with
// an optional time after it; a number cell is an Excel serial date (a cell
// formatted as a date stores one).
func date(v string, k cellKind, use1904 bool) (time.Time, error) {
	v = clean(v)
	var y, d int
	var m time.Month
	switch k {
	case kindNumber:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 1 || f > 2958465 { // 2958465 is 31/12/9999
			return time.Time{}, fmt.Errorf("date %q is not a date", v)
		}
		t, err := excelize.ExcelDateToTime(f, use1904)
		if err != nil {
			return time.Time{}, fmt.Errorf("date %q is not a date", v)
		}
		y, m, d = t.Date()
	case kindText, kindDate:
		var ok bool
		if y, m, d, ok = parseDateText(v); !ok {
			return time.Time{}, fmt.Errorf("date %q is not a date (dd/mm/yyyy expected)", v)
		}
	default:
		return time.Time{}, fmt.Errorf("date %q is not a date", v)
	}
	if y < minYear || y > maxYear {
		return time.Time{}, fmt.Errorf("date %q is out of range (year %d)", v, y)
	}
	return calendar.Date(y, m, d), nil
}

// parseDateText reads the day written in s, ignoring a time after it.
func parseDateText(s string) (y int, m time.Month, d int, ok bool) {
	if i := strings.IndexAny(s, " T"); i > 0 {
		s = s[:i]
	}
	sep := strings.IndexAny(s, "/-.")
	if sep < 0 {
		return 0, 0, 0, false
	}
	parts := strings.Split(s, s[sep:sep+1])
	if len(parts) != 3 {
		return 0, 0, 0, false
	}
	var n [3]int
	for i, p := range parts {
		if p == "" || len(p) > 4 {
			return 0, 0, 0, false
		}
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 {
			return 0, 0, 0, false
		}
		n[i] = v
	}
	switch {
	case len(parts[0]) == 4: // yyyy-mm-dd
		y, m, d = n[0], time.Month(n[1]), n[2]
	case len(parts[2]) == 4:
		y, m, d = n[2], time.Month(n[1]), n[0]
	case len(parts[2]) == 2: // d/m/yy: this century
		y, m, d = 2000+n[2], time.Month(n[1]), n[0]
	default:
		return 0, 0, 0, false
	}
	// time.Date normalises 31/02 into March; a real date survives unchanged.
	t := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	if t.Year() != y || t.Month() != m || t.Day() != d {
		return 0, 0, 0, false
	}
	return y, m, d, true
}

// yesNo reads a yes/no cell. An empty cell is no.
func yesNo(v string, k cellKind) (bool, error) {
	switch headerKey(v) {
	case "si", "s", "yes", "y", "x", "1", "true", "verdadero", "cierto":
		return true, nil
	case "", "no", "n", "0", "false", "falso":
		return false, nil
	}
	if k == kindNumber {
		// 1.0 or 0.0 from a formula.
		if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && (f == 0 || f == 1) {
			return f == 1, nil
		}
	}
	return false, fmt.Errorf("%q is not yes or no (Sí/No)", clean(v))
}

// hasTotalWord reports whether a cell reads like the label of a totals row:
// "Total", "TOTAL GENERAL", "Suma total", "Totales:", "Subtotal".
func hasTotalWord(v string) bool {
	if v == "" {
		return false
	}
	for _, w := range strings.FieldsFunc(strings.ToLower(v), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}) {
		switch w {
		case "total", "totales", "subtotal":
			return true
		}
	}
	return false
}
