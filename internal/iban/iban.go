// Package iban checks bank account numbers: the IBAN's own check digits
// (ISO 13616, mod 97) and, for a Spanish account, the two check digits of
// the old account code (CCC) inside it.
package iban

import (
	"fmt"
	"strings"
)

// Normalize removes spaces and upper-cases an IBAN as people write it
// ("ES91 2100 0418 4502 0005 1332").
func Normalize(s string) string {
	return strings.ToUpper(strings.Join(strings.Fields(s), ""))
}

// Valid reports whether s (normalised) is a well-formed IBAN whose check
// digits hold; a Spanish one (ES, 24 characters) must also carry a valid CCC.
func Valid(s string) bool {
	if len(s) < 15 || len(s) > 34 || !letter(s[0]) || !letter(s[1]) || !digit(s[2]) || !digit(s[3]) {
		return false
	}
	for i := 4; i < len(s); i++ {
		if !digit(s[i]) && !letter(s[i]) {
			return false
		}
	}
	if mod97(s[4:]+s[:4]) != 1 {
		return false
	}
	if s[:2] == "ES" {
		return len(s) == 24 && ValidCCC(s[4:])
	}
	return true
}

// ValidCCC reports whether a Spanish account code of 20 digits (entity 4,
// office 4, check 2, account 10) carries its two check digits: the first
// checks entity and office, the second the account number.
func ValidCCC(ccc string) bool {
	if len(ccc) != 20 {
		return false
	}
	for i := range len(ccc) {
		if !digit(ccc[i]) {
			return false
		}
	}
	return int(ccc[8]-'0') == cccDigit("00"+ccc[:8]) && int(ccc[9]-'0') == cccDigit(ccc[10:])
}

// cccDigit is the check digit of ten digits, weighted 1, 2, 4, 8, 5, 10, 9,
// 7, 3, 6, mod 11 (11 → 0, 10 → 1).
func cccDigit(ten string) int {
	weights := [10]int{1, 2, 4, 8, 5, 10, 9, 7, 3, 6}
	sum := 0
	for i, w := range weights {
		sum += int(ten[i]-'0') * w
	}
	switch d := 11 - sum%11; d {
	case 11:
		return 0
	case 10:
		return 1
	default:
		return d
	}
}

// mod97 is the remainder by 97 of the number s spells, letters counting as
// 10 (A) to 35 (Z).
func mod97(s string) int {
	r := 0
	for i := range len(s) {
		c := s[i]
		if letter(c) {
			v := int(c-'A') + 10
			r = (r*100 + v) % 97
		} else {
			r = (r*10 + int(c-'0')) % 97
		}
	}
	return r
}

func letter(c byte) bool { return c >= 'A' && c <= 'Z' }
func digit(c byte) bool  { return c >= '0' && c <= '9' }

// FromCCC writes a Spanish account given as its 20-digit code (CCC) as an
// IBAN, computing the IBAN's check digits; the CCC's own digits are not
// checked here (Valid does). ok is false when ccc is not 20 digits.
func FromCCC(ccc string) (string, bool) {
	if len(ccc) != 20 {
		return "", false
	}
	for i := range len(ccc) {
		if !digit(ccc[i]) {
			return "", false
		}
	}
	return fmt.Sprintf("ES%02d%s", 98-mod97(ccc+"ES00"), ccc), true
}

// CheckDigit is the check digit a CCC carries for ten digits: the first of
// the two covers "00", the entity and the office, the second the account.
func CheckDigit(ten string) byte { return byte('0' + cccDigit(ten)) }

// Mod97 is the remainder by 97 of s read as a number with each letter
// written as two digits (A=10 … Z=35), as the IBAN's check reads it.
func Mod97(s string) int { return mod97(s) }
