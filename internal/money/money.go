// Package money handles amounts of euros as integer cents.
//
// Amounts are int64 cents end to end; a float only appears at the border,
// when a spreadsheet cell holds a number, and FromFloat turns it into cents
// at once.
package money

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
)

// Parse reads an amount written by a person or a spreadsheet ("1.234,56 €",
// "12,50 EUR", "1234.56", "-12,00", "€ 7") and returns it in cents.
//
// When both '.' and ',' appear, the last one is the decimal separator and the
// other groups thousands. A lone ',' is a decimal comma. A lone '.' followed
// by exactly three digits, or several '.', group thousands ("1.234" is one
// thousand two hundred and thirty-four euros, as a Spanish clerk writes it);
// any other lone '.' is a decimal point. More than two decimals is an error,
// never a silent rounding.
func Parse(s string) (int64, error) {
	neg, num, err := split(s)
	if err != nil {
		return 0, fmt.Errorf("amount %q %w", s, err)
	}
	intPart, frac, err := separate(num)
	if err != nil {
		return 0, fmt.Errorf("amount %q %w", s, err)
	}
	cents, err := combine(intPart, frac, neg)
	if err != nil {
		return 0, fmt.Errorf("amount %q %w", s, err)
	}
	return cents, nil
}

// The error texts below complete the sentence "amount "...": ".
var (
	errEmpty    = errors.New("is empty")
	errGarbage  = errors.New("is not a number")
	errDecimals = errors.New("has more than two decimals")
	errGrouping = errors.New("has badly grouped thousands (groups of three digits expected)")
	errOverflow = errors.New("is too large")
)

// split removes whitespace, one currency marker (€ or EUR, before or after
// the number) and one sign, and returns what is left: digits and separators.
func split(s string) (neg bool, num string, err error) {
	rest := trim(s)
	if rest == "" {
		return false, "", errEmpty
	}
	signed, currency := false, false
	for {
		if !signed && (strings.HasPrefix(rest, "-") || strings.HasPrefix(rest, "+")) {
			neg, signed = rest[0] == '-', true
			rest = trim(rest[1:])
			continue
		}
		if after, ok := cutCurrencyPrefix(rest); ok && !currency {
			currency, rest = true, after
			continue
		}
		break
	}
	if before, ok := cutCurrencySuffix(rest); ok && !currency {
		rest = before
	}
	if rest == "" {
		return false, "", errGarbage
	}
	for i := 0; i < len(rest); i++ {
		if c := rest[i]; !isDigit(c) && c != '.' && c != ',' {
			return false, "", errGarbage
		}
	}
	return neg, rest, nil
}

// trim removes surrounding whitespace, including the no-break spaces that
// spreadsheets put between the number and the euro sign.
func trim(s string) string { return strings.TrimFunc(s, unicode.IsSpace) }

func cutCurrencyPrefix(s string) (string, bool) {
	if after, ok := strings.CutPrefix(s, "€"); ok {
		return trim(after), true
	}
	if len(s) >= 3 && strings.EqualFold(s[:3], "EUR") {
		return trim(s[3:]), true
	}
	return s, false
}

func cutCurrencySuffix(s string) (string, bool) {
	if before, ok := strings.CutSuffix(s, "€"); ok {
		return trim(before), true
	}
	if len(s) >= 3 && strings.EqualFold(s[len(s)-3:], "EUR") {
		return trim(s[:len(s)-3]), true
	}
	return s, false
}

// separate decides which separator is the decimal one and returns the
// integer digits (thousands separators removed and checked) and the decimal
// digits.
func separate(num string) (intPart, frac string, err error) {
	dots, commas := strings.Count(num, "."), strings.Count(num, ",")
	var dec, thou byte // 0 means none
	switch {
	case dots > 0 && commas > 0:
		if strings.LastIndexByte(num, '.') > strings.LastIndexByte(num, ',') {
			dec, thou = '.', ','
		} else {
			dec, thou = ',', '.'
		}
	case commas == 1:
		dec = ','
	case commas > 1:
		return "", "", errGarbage
	case dots == 1 && len(num)-strings.IndexByte(num, '.')-1 == 3:
		thou = '.'
	case dots > 1:
		thou = '.'
	case dots == 1:
		dec = '.'
	}

	intPart = num
	if dec != 0 {
		i := strings.LastIndexByte(num, dec)
		if strings.IndexByte(num, dec) != i {
			return "", "", errGarbage
		}
		// The decimal separator is the last separator, so frac is digits only.
		intPart, frac = num[:i], num[i+1:]
		if frac == "" {
			return "", "", errGarbage
		}
		if len(frac) > 2 {
			return "", "", errDecimals
		}
	}
	if intPart == "" {
		return "", "", errGarbage
	}
	if thou != 0 {
		intPart, err = ungroup(intPart, thou)
		if err != nil {
			return "", "", err
		}
	}
	return intPart, frac, nil
}

// ungroup removes thousands separators, insisting on a first group of one to
// three digits without a leading zero and then groups of exactly three, so
// that a mistyped "1.23" or "12.3456" is rejected instead of guessed.
func ungroup(s string, sep byte) (string, error) {
	groups := strings.Split(s, string(sep))
	if len(groups) == 1 {
		return s, nil
	}
	first := groups[0]
	if len(first) < 1 || len(first) > 3 || first[0] == '0' {
		return "", errGrouping
	}
	for _, g := range groups[1:] {
		if len(g) != 3 {
			return "", errGrouping
		}
	}
	return strings.Join(groups, ""), nil
}

// combine turns digit strings into cents, refusing anything that does not fit
// in an int64.
func combine(intPart, frac string, neg bool) (int64, error) {
	for len(frac) < 2 {
		frac += "0"
	}
	limit := uint64(math.MaxInt64)
	if neg {
		limit++ // -2^63 is representable
	}
	var v uint64
	for _, digits := range []string{intPart, frac} {
		for i := 0; i < len(digits); i++ {
			d := uint64(digits[i] - '0')
			if v > (limit-d)/10 {
				return 0, errOverflow
			}
			v = v*10 + d
		}
	}
	if neg {
		return int64(-v), nil // two's complement wrap gives -2^63 for v == 2^63
	}
	return int64(v), nil
}

// FromFloat converts a number read from a spreadsheet cell into cents. It
// rejects NaN, infinities, values beyond int64 cents and values with more than
// two decimals; the binary noise of a float (1.15 is stored as 1.1499999...)
// is tolerated.
func FromFloat(f float64) (int64, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("amount %v is not a number", f)
	}
	x := f * 100
	r := math.Round(x)
	// A float carries about 16 significant digits, so the noise grows with
	// the magnitude; 1e-14 relative is far above that noise and far below a
	// tenth of a cent for any realistic amount.
	tol := math.Max(1e-6, math.Abs(x)*1e-14)
	if math.Abs(x-r) > tol {
		return 0, fmt.Errorf("amount %v has more than two decimals", f)
	}
	// float64(math.MaxInt64) rounds up to 2^63, which does not fit.
	if r >= math.MaxInt64 || r < math.MinInt64 {
		return 0, fmt.Errorf("amount %v is too large", f)
	}
	return int64(r), nil
}

// Format prints cents the Spanish way: 123456 → "1.234,56 €".
func Format(cents int64) string {
	neg, whole, frac := parts(cents)
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	digits := strconv.FormatUint(whole, 10)
	for i := 0; i < len(digits); i++ {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte('.')
		}
		b.WriteByte(digits[i])
	}
	fmt.Fprintf(&b, ",%02d €", frac)
	return b.String()
}

// Euros prints cents as a plain decimal with a dot for machines: 123456 → "1234.56".
func Euros(cents int64) string {
	neg, whole, frac := parts(cents)
	sign := ""
	if neg {
		sign = "-"
	}
	return fmt.Sprintf("%s%d.%02d", sign, whole, frac)
}

// parts splits cents into sign, whole euros and remaining cents, working on
// the unsigned magnitude so that math.MinInt64 does not overflow.
func parts(cents int64) (neg bool, whole, frac uint64) {
	mag := uint64(cents)
	if cents < 0 {
		neg, mag = true, -mag
	}
	return neg, mag / 100, mag % 100
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }
