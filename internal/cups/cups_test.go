package cups

import (
	"strings"
	"testing"
)

// validCUPS builds a correct 20-character CUPS from 16 digits.
func validCUPS(t *testing.T, digits string) string {
	t.Helper()
	cl, err := ControlLetters(digits)
	if err != nil {
		t.Fatalf("ControlLetters(%q): %v", digits, err)
	}
	return "ES" + digits + cl
}

func TestControlLetters(t *testing.T) {
	tests := []struct {
		digits string
		want   string
	}{
		// r = 1 mod 529 = 1 → table[0], table[1].
		{"0000000000000001", "TR"},
		// r = 0 → table[0] twice.
		{"0000000000000000", "TT"},
		{"0000000000000529", "TT"},
		// r = 528 → table[22] twice.
		{"0000000000000528", "EE"},
		// Codes seen in the TRADE export and the contracts workbook.
		{"0027580127735097", "FB"},
		{"0021000000000001", "RK"},
		{"0026351275497905", "FQ"},
	}
	for _, tt := range tests {
		t.Run(tt.digits, func(t *testing.T) {
			got, err := ControlLetters(tt.digits)
			if err != nil {
				t.Fatalf("ControlLetters(%q): %v", tt.digits, err)
			}
			if got != tt.want {
				t.Errorf("ControlLetters(%q) = %q, want %q", tt.digits, got, tt.want)
			}
		})
	}
}

func TestControlLettersMatchesDefinition(t *testing.T) {
	for _, digits := range []string{
		"9999999999999999", "1000000000000000", "0031540213242654",
		"1234567890123456", "0000000000000022", "0000000000000023",
	} {
		got, err := ControlLetters(digits)
		if err != nil {
			t.Fatalf("ControlLetters(%q): %v", digits, err)
		}
		if want := byDefinition(t, digits); got != want {
			t.Errorf("ControlLetters(%q) = %q, want %q", digits, got, want)
		}
	}
}

// byDefinition computes the control letters the long way, with the
// remainder taken digit by digit, to cross-check the uint64 arithmetic.
func byDefinition(t *testing.T, digits string) string {
	t.Helper()
	r := 0
	for _, c := range digits {
		r = (r*10 + int(c-'0')) % 529
	}
	return string([]byte{letters[r/23], letters[r%23]})
}

func TestControlLettersErrors(t *testing.T) {
	for _, in := range []string{"", "123", "00210000000000011", "002100000000000A", "0021 00000000001"} {
		if got, err := ControlLetters(in); err == nil {
			t.Errorf("ControlLetters(%q) = %q, want an error", in, got)
		}
	}
}

func TestParse(t *testing.T) {
	good := validCUPS(t, "0021000000000001") // ES0021000000000001RK
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr string // substring of the error; empty means success
	}{
		{name: "valid 20", in: good, want: good},
		{name: "valid 22 with border point", in: good + "0F", want: good + "0F"},
		{name: "every border kind", in: good + "9Z", want: good + "9Z"},
		{name: "sample from TRADE", in: "ES0027580127735097FB", want: "ES0027580127735097FB"},
		{name: "lower case", in: strings.ToLower(good), want: good},
		{name: "spaced", in: "  ES 0021 0000 0000 0001 RK ", want: good},
		{name: "tabs and nbsp", in: "ES0021\t000000000001\u00a0rk", want: good},
		{name: "empty", in: "", wantErr: "CUPS must be 20 or 22 characters, got 0"},
		{name: "too short", in: good[:19], wantErr: "CUPS must be 20 or 22 characters, got 19"},
		{name: "21 characters", in: good + "0", wantErr: "got 21"},
		{name: "too long", in: good + "0F1", wantErr: "got 23"},
		{name: "wrong country", in: "FR" + good[2:], wantErr: "CUPS must start with ES"},
		{name: "letter in digits", in: "ES0021A00000000001RK", wantErr: `CUPS digits "0021A00000000001" are not 16 digits: character 7 is 'A'`},
		{name: "wrong letters", in: "ES0021000000000001XX", wantErr: "CUPS control letters are XX, expected RK"},
		{name: "swapped letters", in: "ES0021000000000001KR", wantErr: "expected RK"},
		{name: "digit changed", in: "ES0021000000000002RK", wantErr: "CUPS control letters are RK"},
		{name: "bad border kind", in: good + "0Q", wantErr: `CUPS border point "0Q" is not a digit followed by one of F P R C X Y Z`},
		{name: "border point letters swapped", in: good + "F0", wantErr: `CUPS border point "F0"`},
		{name: "non-ASCII", in: "ES0021000000000001RÑ", wantErr: "not a plain letter or digit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("Parse(%q) = %q, want error containing %q", tt.in, got, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse(%q) error = %q, want it to contain %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("Parse(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestValidateNeedsNormalizedInput(t *testing.T) {
	good := validCUPS(t, "0031540213242654")
	for _, in := range []string{strings.ToLower(good), " " + good[1:] + " "} {
		if err := Validate(in); err == nil {
			t.Errorf("Validate(%q) = nil, want an error: Validate does not normalize", in)
		}
	}
	if err := Validate(good); err != nil {
		t.Errorf("Validate(%q): %v", good, err)
	}
}

func TestEveryBorderPoint(t *testing.T) {
	good := validCUPS(t, "0022051837385684")
	for d := '0'; d <= '9'; d++ {
		for _, k := range "ABCDEFGHIJKLMNOPQRSTUVWXYZ0" {
			in := good + string(d) + string(k)
			err := Validate(in)
			if ok := strings.ContainsRune(borderKinds, k); ok != (err == nil) {
				t.Errorf("Validate(%q) = %v, want ok=%v", in, err, ok)
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"ES0021000000000001RK",
		"ES0021000000000001RK0F",
		"es 0027 5801 2773 5097 fb",
		"ES0021000000000001XX",
		"ES0021000000000001RK0Q",
		"",
		"ES",
		"ESÑ021000000000001RK",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := Parse(s)
		if err != nil {
			return
		}
		if len(got) != 20 && len(got) != 22 {
			t.Fatalf("Parse(%q) = %q: length %d", s, got, len(got))
		}
		if !strings.HasPrefix(got, "ES") {
			t.Fatalf("Parse(%q) = %q: does not start with ES", s, got)
		}
		again, err := Parse(got)
		if err != nil || again != got {
			t.Fatalf("Parse(%q) = %q, %v; want it unchanged", got, again, err)
		}
	})
}

func TestMake(t *testing.T) {
	for _, tc := range []struct {
		distributor int
		point       int64
	}{{21, 0}, {21, 1}, {31, 999_999_999_999}, {9999, 123456789}} {
		c := Make(tc.distributor, tc.point)
		if got, err := Parse(c); err != nil || got != c || len(c) != 20 {
			t.Errorf("Make(%d, %d) = %q: %v", tc.distributor, tc.point, c, err)
		}
	}
	if Make(21, 1) != "ES0021000000000001RK" {
		t.Errorf("Make(21, 1) = %q, want ES0021000000000001RK", Make(21, 1))
	}
}
