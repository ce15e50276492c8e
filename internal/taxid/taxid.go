// Package taxid validates Spanish tax identifiers: the NIF of a person (DNI
// number and control letter), the NIE of a foreign resident and the CIF of a
// company or other legal entity.
package taxid

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Kinds returned by Validate.
const (
	NIF = "NIF" // Spanish national: 8 digits and a control letter (also K, L, M + 7 digits)
	NIE = "NIE" // foreign resident: X, Y or Z, 7 digits and a control letter
	CIF = "CIF" // legal entity: an organisation letter, 7 digits and a control digit or letter
)

// letters is the control-letter table of the NIF and the NIE: number mod 23.
const letters = "TRWAGMYFPDXBNJZSQVHLCKE"

// cifLetters is the control-letter table of the CIF, indexed by the control digit.
const cifLetters = "JABCDEFGHI"

// Organisation letters of a CIF, grouped by the control they carry (Orden
// EHA/451/2008): a letter for entities without share capital and for
// non-residents, a digit for companies, and either for the rest.
const (
	cifLetterControl = "NPQRSW"
	cifDigitControl  = "ABEH"
	cifAnyControl    = "CDFGJUV"
)

// Validate checks a NIF, NIE or CIF and returns it normalised (upper-case,
// without spaces, dots, dashes or a leading "ES" country prefix) with its kind.
// A NIF written with 7 digits, as a spreadsheet that dropped the leading zero
// shows it, is padded back to 8.
func Validate(s string) (normalised string, kind string, err error) {
	n := normalise(s)
	switch {
	case n == "":
		return "", "", fmt.Errorf("tax id is empty")
	case len(n) == 11 && strings.HasPrefix(n, "ES"):
		n = n[2:] // VAT form: ES + the 9 characters
	case len(n) == 8 && isDigits(n[:7]) && isLetter(n[7]):
		n = "0" + n
	}
	if len(n) != utf8.RuneCountInString(n) {
		return "", "", fmt.Errorf("tax id %q has a character that is not a plain letter or digit", s)
	}
	if len(n) != 9 {
		return "", "", fmt.Errorf("tax id %q must have 9 characters, got %d", s, len(n))
	}
	switch first := n[0]; {
	case isDigit(first):
		return checkPersonal(s, n, n[:8], NIF)
	case first == 'X' || first == 'Y' || first == 'Z':
		return checkPersonal(s, n, string(rune('0'+strings.IndexByte("XYZ", first)))+n[1:8], NIE)
	case first == 'K' || first == 'L' || first == 'M':
		// NIF of Spaniards under 14 or abroad and of foreigners without NIE:
		// the letter stands for no digit.
		return checkPersonal(s, n, n[1:8], NIF)
	case strings.IndexByte(cifLetterControl+cifDigitControl+cifAnyControl, first) >= 0:
		return checkCIF(s, n)
	default:
		return "", "", fmt.Errorf("tax id %q is not a NIF, NIE or CIF: it starts with %q", s, first)
	}
}

// checkPersonal checks the control letter of a NIF or NIE whose number part,
// with the NIE prefix already turned into its digit, is digits.
func checkPersonal(orig, n, digits, kind string) (string, string, error) {
	if !isDigits(digits) || !isDigits(n[1:8]) {
		return "", "", fmt.Errorf("%s %q must have digits between its first and last characters", kind, orig)
	}
	v := 0
	for i := 0; i < len(digits); i++ {
		v = v*10 + int(digits[i]-'0')
	}
	want := letters[v%23]
	if got := n[8]; got != want {
		if !isLetter(got) {
			return "", "", fmt.Errorf("%s %q must end in a control letter, got %q", kind, orig, got)
		}
		return "", "", fmt.Errorf("%s %q has control letter %c, expected %c", kind, orig, got, want)
	}
	return n, kind, nil
}

// checkCIF checks the control character of a CIF: from the 7 digits, the sum
// of the digits in even positions plus, for each digit in an odd position, the
// digits of its double; the control digit is 10 minus the last digit of that
// sum (0 when it is 10) and the control letter is JABCDEFGHI at that digit.
func checkCIF(orig, n string) (string, string, error) {
	digits := n[1:8]
	if !isDigits(digits) {
		return "", "", fmt.Errorf("CIF %q must have 7 digits after its first letter", orig)
	}
	sum := 0
	for i := 0; i < 7; i++ {
		d := int(digits[i] - '0')
		if i%2 == 0 { // positions 1, 3, 5, 7
			d *= 2
			d = d/10 + d%10
		}
		sum += d
	}
	control := (10 - sum%10) % 10
	wantDigit, wantLetter := byte('0'+control), cifLetters[control]

	got := n[8]
	letterOnly := strings.IndexByte(cifLetterControl, n[0]) >= 0
	digitOnly := strings.IndexByte(cifDigitControl, n[0]) >= 0
	switch {
	case got == wantDigit && !letterOnly:
		return n, CIF, nil
	case got == wantLetter && !digitOnly:
		return n, CIF, nil
	case letterOnly:
		return "", "", fmt.Errorf("CIF %q has control %c, expected letter %c", orig, got, wantLetter)
	case digitOnly:
		return "", "", fmt.Errorf("CIF %q has control %c, expected digit %c", orig, got, wantDigit)
	default:
		return "", "", fmt.Errorf("CIF %q has control %c, expected %c or %c", orig, got, wantDigit, wantLetter)
	}
}

// normalise upper-cases s and drops the separators people type inside tax
// ids: spaces (also no-break ones), dots, dashes and slashes.
func normalise(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch r {
		case ' ', '\t', '\u00a0', '\u202f', '.', '-', '/', '_':
			continue
		}
		if 'a' <= r && r <= 'z' {
			r -= 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isDigit(b byte) bool  { return '0' <= b && b <= '9' }
func isLetter(b byte) bool { return 'A' <= b && b <= 'Z' }

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}
