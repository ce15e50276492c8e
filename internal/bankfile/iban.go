package bankfile

import "github.com/elega/impagos/internal/iban"

// CheckIBAN says whether s is a well-formed IBAN whose check digits are right
// (ISO 13616, mod 97) and, for a Spanish one, whose account carries its own
// two check digits (the CCC's dígitos de control), which mod 97 alone does not
// cover. Spaces are ignored and letters may be lower-case.
func CheckIBAN(s string) bool { return iban.Valid(iban.Normalize(s)) }

// normalizeIBAN removes spaces and upper-cases.
func normalizeIBAN(s string) string { return iban.Normalize(s) }

// ibanFromCCC writes a Spanish account given as a 20-digit CCC as its IBAN.
func ibanFromCCC(ccc string) (string, bool) { return iban.FromCCC(ccc) }

// The checks' arithmetic, for the tests.
var (
	mod97    = iban.Mod97
	cccDigit = iban.CheckDigit
)

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
