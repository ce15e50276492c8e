package bankfile

import (
	"fmt"
	"strings"
)

// MaxAmountCents is the largest amount taken: 100.000.000,00 €, well above
// any direct debit of an electricity bill, and far from overflowing int64.
const MaxAmountCents = 100_000_000_00

// ParseAmount reads an amount as the bank files write it, digits with an
// optional decimal point ("12.34", "12.3", "12"), and returns it in cents.
// It refuses a sign, an exponent, NaN or Inf, grouping separators, a comma,
// more than two decimals and an amount above MaxAmountCents. Zeros past the
// second decimal ("12.340") lose nothing and are taken. Surrounding spaces
// are ignored.
func ParseAmount(s string) (int64, error) {
	t := strings.TrimSpace(s)
	fail := func(why string) (int64, error) {
		return 0, fmt.Errorf("amount %s: %s", t, why)
	}
	if t == "" {
		return 0, fmt.Errorf("amount: empty")
	}
	intPart, frac, hasPoint := strings.Cut(t, ".")
	if intPart == "" || hasPoint && frac == "" {
		return fail("not a number (digits before and after the point expected)")
	}
	if !allDigits(intPart) || !allDigits(frac) {
		if strings.HasPrefix(t, "-") {
			return fail("negative")
		}
		return fail("not a number (digits and one decimal point expected)")
	}
	if len(frac) > 2 {
		if strings.Trim(frac[2:], "0") != "" {
			return fail("more than two decimals")
		}
		frac = frac[:2]
	}
	intPart = strings.TrimLeft(intPart, "0")
	// 100.000.000 has 9 digits; more cannot be under the bound, and checking
	// the length first keeps the sum below from overflowing.
	if len(intPart) > 9 {
		return fail("more than 100.000.000,00")
	}
	var cents int64
	for i := 0; i < len(intPart); i++ {
		cents = cents*10 + int64(intPart[i]-'0')
	}
	cents *= 100
	switch len(frac) {
	case 1:
		cents += int64(frac[0]-'0') * 10
	case 2:
		cents += int64(frac[0]-'0')*10 + int64(frac[1]-'0')
	}
	if cents > MaxAmountCents {
		return fail("more than 100.000.000,00")
	}
	return cents, nil
}

// allDigits says whether s has only ASCII digits ("" has).
func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
