package bankfile

import (
	"fmt"
	"strings"
)

// CheckIBAN says whether iban is a well-formed IBAN whose check digits are
// right (ISO 13616: the number moved and read with A=10 … Z=35 leaves 1 mod
// 97). For a Spanish IBAN it also checks the length (24) and the two check
// digits of the Spanish account inside it (the CCC's dígitos de control),
// which mod 97 alone does not cover. Spaces are ignored and letters may be
// lower-case.
func CheckIBAN(iban string) bool {
	s := normalizeIBAN(iban)
	if len(s) < 15 || len(s) > 34 {
		return false
	}
	if !isUpper(s[0]) || !isUpper(s[1]) || !isDigit(s[2]) || !isDigit(s[3]) {
		return false
	}
	if mod97(s[4:]+s[:4]) != 1 {
		return false
	}
	if s[:2] == "ES" {
		return len(s) == 24 && allDigits(s[4:]) && cccOK(s[4:])
	}
	return true
}

// normalizeIBAN removes spaces and upper-cases.
func normalizeIBAN(s string) string {
	return strings.ToUpper(strings.Join(strings.Fields(s), ""))
}

// mod97 is the remainder by 97 of s read as a number with each letter
// written as two digits (A=10 … Z=35); -1 when s holds anything else.
func mod97(s string) int {
	r := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isDigit(c):
			r = (r*10 + int(c-'0')) % 97
		case isUpper(c):
			r = (r*100 + int(c-'A'+10)) % 97
		default:
			return -1
		}
	}
	return r
}

// cccWeights are the weights of the Spanish account check digits, from the
// leftmost of the ten digits each one covers.
var cccWeights = [10]int{1, 2, 4, 8, 5, 10, 9, 7, 3, 6}

// cccDigit is the check digit over ten digits: 11 − (Σ digit×weight mod 11),
// where 11 is written 0 and 10 is written 1.
func cccDigit(ten string) byte {
	sum := 0
	for i := 0; i < 10; i++ {
		sum += int(ten[i]-'0') * cccWeights[i]
	}
	switch d := 11 - sum%11; d {
	case 11:
		return '0'
	case 10:
		return '1'
	default:
		return byte('0' + d)
	}
}

// cccOK checks a 20-digit Spanish account (CCC): entity (4), branch (4),
// two check digits, account (10). The first check digit covers "00", the
// entity and the branch; the second the account number.
func cccOK(ccc string) bool {
	if len(ccc) != 20 || !allDigits(ccc) {
		return false
	}
	return ccc[8] == cccDigit("00"+ccc[:8]) && ccc[9] == cccDigit(ccc[10:])
}

// ibanFromCCC writes a Spanish account given as a 20-digit CCC as its IBAN,
// computing the IBAN's check digits. The CCC's own digits are not checked
// here: CheckIBAN on the result does.
func ibanFromCCC(ccc string) (string, bool) {
	if len(ccc) != 20 || !allDigits(ccc) {
		return "", false
	}
	return fmt.Sprintf("ES%02d%s", 98-mod97(ccc+"ES00"), ccc), true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
