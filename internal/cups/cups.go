// Package cups validates CUPS codes, the identifiers of Spanish electricity
// supply points.
//
// A CUPS is "ES", a 4-digit distributor code, a 12-digit supply point number,
// two control letters and, for some points, a 2-character border point (a
// digit and one of F P R C X Y Z). The control letters come from the 16 digits
// taken as one integer r = digits mod 529: table[r/23] then table[r%23].
package cups

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// letters is the control-letter table fixed by the CUPS standard.
const letters = "TRWAGMYFPDXBNJZSQVHLCKE"

// borderKinds are the letters allowed in the second character of a border point.
const borderKinds = "FPRCXYZ"

// Normalize trims, removes all inner whitespace and upper-cases s, so that
// codes pasted from e-mails or spreadsheets ("es 0021 0000 ...") compare equal.
func Normalize(s string) string {
	return strings.ToUpper(strings.Join(strings.Fields(s), ""))
}

// Validate checks an already-normalized CUPS and says what is wrong with it.
func Validate(s string) error {
	n := utf8.RuneCountInString(s)
	if n != 20 && n != 22 {
		return fmt.Errorf("CUPS must be 20 or 22 characters, got %d", n)
	}
	if len(s) != n {
		return fmt.Errorf("CUPS %q has a character that is not a plain letter or digit", s)
	}
	if s[:2] != "ES" {
		return fmt.Errorf("CUPS must start with ES, got %q", s[:2])
	}
	digits := s[2:18]
	if i := firstNonDigit(digits); i >= 0 {
		return fmt.Errorf("CUPS digits %q are not 16 digits: character %d is %q", digits, i+3, digits[i])
	}
	want, err := ControlLetters(digits)
	if err != nil {
		return err // cannot happen: digits were checked above
	}
	if got := s[18:20]; got != want {
		return fmt.Errorf("CUPS control letters are %s, expected %s", got, want)
	}
	if len(s) == 22 {
		bp := s[20:22]
		if !isDigit(bp[0]) || strings.IndexByte(borderKinds, bp[1]) < 0 {
			return fmt.Errorf("CUPS border point %q is not a digit followed by one of F P R C X Y Z", bp)
		}
	}
	return nil
}

// Parse normalizes s, validates it and returns the normalized code.
func Parse(s string) (string, error) {
	n := Normalize(s)
	if err := Validate(n); err != nil {
		return "", err
	}
	return n, nil
}

// ControlLetters returns the two control letters for the 16 digits of a CUPS.
func ControlLetters(digits string) (string, error) {
	if len(digits) != 16 || firstNonDigit(digits) >= 0 {
		return "", fmt.Errorf("CUPS control letters need 16 digits, got %q", digits)
	}
	// 16 digits are below 10^16, well inside uint64.
	var v uint64
	for i := 0; i < len(digits); i++ {
		v = v*10 + uint64(digits[i]-'0')
	}
	r := v % 529
	return string([]byte{letters[r/23], letters[r%23]}), nil
}

// firstNonDigit returns the index of the first byte of s that is not an ASCII
// digit, or -1.
func firstNonDigit(s string) int {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return i
		}
	}
	return -1
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

// Make builds the valid 20-character CUPS of a distributor (0–9999) and supply
// point number (0–999,999,999,999), computing its control letters: for test
// data, samples and benchmarks.
func Make(distributor int, point int64) string {
	digits := fmt.Sprintf("%04d%012d", distributor%10000, point%1_000_000_000_000)
	letters, _ := ControlLetters(digits) // 16 digits by construction
	return "ES" + digits + letters
}
