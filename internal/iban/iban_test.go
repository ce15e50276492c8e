package iban

import "testing"

func TestValid(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"ES91 2100 0418 4502 0005 1332", true}, // the usual example of a Spanish IBAN
		{"ES7921000813610123456789", true},
		{"DE89370400440532013000", true},
		{"GB82WEST12345698765432", true},
		{"ES92 2100 0418 4502 0005 1332", false}, // IBAN check digits off by one
		{"ES9121000418450200051333", false},      // last digit changed
		{"ES2921000418460200051332", false},      // mod 97 holds, CCC check digits do not
		{"ES912100041845020005133", false},       // 23 characters
		{"XX", false},
		{"", false},
		{"ES91 2100 0418 4502 0005 133A", false},
	} {
		if got := Valid(Normalize(tc.in)); got != tc.want {
			t.Errorf("Valid(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// ES07... above must pass mod 97 and fail only the Spanish check: the test
// would otherwise prove nothing about the CCC.
func TestCCCCheckedBeyondMod97(t *testing.T) {
	s := "ES2921000418460200051332"
	if mod97(s[4:]+s[:4]) != 1 {
		t.Fatalf("%s does not pass mod 97: pick another example", s)
	}
	if ValidCCC(s[4:]) {
		t.Fatalf("%s: CCC accepted", s)
	}
	if !ValidCCC("21000418450200051332") {
		t.Fatal("a valid CCC refused")
	}
}
