package bankfile

import (
	"fmt"
	"math/big"
	"strings"
	"testing"
)

// byDefinition computes an IBAN's check digits the long way, with big
// integers, from ISO 13616: the country code and "00" moved to the end,
// letters as two digits, 98 minus the remainder by 97.
func byDefinition(t *testing.T, country, bban string) string {
	t.Helper()
	var digits strings.Builder
	for _, c := range bban + country + "00" {
		switch {
		case c >= '0' && c <= '9':
			digits.WriteRune(c)
		case c >= 'A' && c <= 'Z':
			fmt.Fprintf(&digits, "%d", c-'A'+10)
		default:
			t.Fatalf("%q in %s", c, bban)
		}
	}
	n, ok := new(big.Int).SetString(digits.String(), 10)
	if !ok {
		t.Fatalf("not a number: %s", digits.String())
	}
	r := new(big.Int).Mod(n, big.NewInt(97)).Int64()
	return fmt.Sprintf("%s%02d%s", country, 98-r, bban)
}

// sampleIBANs are the debtors' IBANs of the samples, with whether each is
// valid: only F2026-0112's, whose last two digits were swapped, is not.
var sampleIBANs = map[string]bool{
	"ES9121000418450200051332": true, "ES7000491500010512345678": true, "ES8001822370440201234567": true,
	"ES9220855201270330112233": true, "ES7500810216790001987654": true, "ES5030580990250272345678": true,
	"ES3701280010990100567890": true, "ES3814650100950917263548": true, "ES7400730100560551234509": true,
	"ES8521002145550200765432": true, "ES9600496701110123456789": true, "ES1101824005920208765413": false,
	"ES8720381012520060009876": true, "ES6600815290710002003004": true, "ES9330582500650274455667": true,
	"ES3701289400220105556667": true, "ES4421008080900200998877": true, "ES4614650100950911122334": true,
	"ES6001821290340203344556": true, "ES4400490001510312121212": true, sampleCreditorIBAN: true,
}

func TestSampleIBANs(t *testing.T) {
	for iban, valid := range sampleIBANs {
		if got := CheckIBAN(iban); got != valid {
			t.Errorf("CheckIBAN(%s) = %v, want %v", iban, got, valid)
		}
		// The valid ones were built as the standard says.
		if valid && byDefinition(t, "ES", iban[4:]) != iban {
			t.Errorf("%s: check digits by definition are %s", iban, byDefinition(t, "ES", iban[4:])[2:4])
		}
	}
}

func TestCheckIBAN(t *testing.T) {
	// A Spanish account whose own check digits are wrong, given IBAN check
	// digits that make mod 97 pass: 2100 0418 [45] 0200051332 is right.
	wrongFirst := byDefinition(t, "ES", "21000418"+"35"+"0200051332")
	wrongSecond := byDefinition(t, "ES", "21000418"+"46"+"0200051332")
	tests := []struct {
		name string
		iban string
		want bool
	}{
		{"valid", "ES9121000418450200051332", true},
		{"in groups of four", "ES91 2100 0418 4502 0005 1332", true},
		{"lower case", "es9121000418450200051332", true},
		{"German", "DE89370400440532013000", true},
		{"British, with letters", "GB82WEST12345698765432", true},
		{"French, letter in the account", "FR1420041010050500013M02606", true},
		{"mod 97 fails: a digit changed", "ES9121000418450200051333", false},
		{"mod 97 fails: two digits swapped", "ES1101824005920208765413", false},
		{"mod 97 fails: check digits changed", "ES9221000418450200051332", false},
		{"mod 97 passes, first account check digit wrong", wrongFirst, false},
		{"mod 97 passes, second account check digit wrong", wrongSecond, false},
		{"Spanish but 23 characters", byDefinition(t, "ES", "2100041845020005133"), false},
		{"empty", "", false},
		{"too short", "ES91", false},
		{"too long", "ES91" + strings.Repeat("1", 31), false},
		{"punctuation", "ES91-2100-0418-4502-0005-1332", false},
		{"check digits not digits", "ESAB21000418450200051332", false},
		{"country not letters", "1291210004184502000513", false},
		{"not ASCII", "ES91210004184502000513ñ2", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CheckIBAN(tt.iban); got != tt.want {
				t.Errorf("CheckIBAN(%q) = %v, want %v", tt.iban, got, tt.want)
			}
		})
	}
	// The two wrong-account cases do pass mod 97: only the Spanish check
	// catches them.
	for _, iban := range []string{wrongFirst, wrongSecond} {
		if mod97(iban[4:]+iban[:4]) != 1 {
			t.Errorf("%s should pass mod 97", iban)
		}
	}
}

func TestIBANFromCCC(t *testing.T) {
	for _, tt := range []struct{ ccc, want string }{
		{"21000418450200051332", "ES9121000418450200051332"},
		{"01821290340203344556", "ES6001821290340203344556"},
	} {
		got, ok := ibanFromCCC(tt.ccc)
		if !ok || got != tt.want {
			t.Errorf("ibanFromCCC(%s) = %s, %v; want %s", tt.ccc, got, ok, tt.want)
		}
	}
	for _, bad := range []string{"", "2100041845020005133", "2100041845020005133X"} {
		if got, ok := ibanFromCCC(bad); ok {
			t.Errorf("ibanFromCCC(%q) = %s, want refused", bad, got)
		}
	}
}
