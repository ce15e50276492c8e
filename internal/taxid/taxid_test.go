package taxid

import (
	"strings"
	"testing"
)

// The valid examples below were built by computing their control by hand:
//
//	NIF 12345678: 12345678 mod 23 = 14 → Z; 00000000 → T; 01234567 mod 23 = 19 → L
//	NIE X1234567: 01234567 → L; Y1234567: 11234567 mod 23 = 10 → X; Z1234567: 21234567 mod 23 = 1 → R
//	CIF digits 2801586: odd positions 2,0,5,6 doubled and digit-summed 4+0+1+3 = 8,
//	    even positions 8+1+8 = 17, sum 25, control 10-5 = 5 (letter E)
//	CIF digits 3900001: 6+0+0+2 + 9+0+0 = 17, control 3 (letter C)
//	CIF digits 2800000: 4+0+0+0 + 8+0+0 = 12, control 8 (letter H)
//	CIF digits 1234567: 2+6+1+5 + 2+4+6 = 26, control 4 (letter D)
//	CIF digits 0000000: sum 0, control 0 (letter J)
func TestValidate(t *testing.T) {
	tests := []struct {
		in, want, kind string
	}{
		{"12345678Z", "12345678Z", NIF},
		{"12345678z", "12345678Z", NIF},
		{" 12.345.678-Z ", "12345678Z", NIF},
		{"12345678 Z", "12345678Z", NIF},
		{"00000000T", "00000000T", NIF},
		{"1234567L", "01234567L", NIF}, // leading zero lost in a numeric cell
		{"ES12345678Z", "12345678Z", NIF},
		{"K1234567L", "K1234567L", NIF},
		{"M1234567L", "M1234567L", NIF},
		{"X1234567L", "X1234567L", NIE},
		{"x-1234567-l", "X1234567L", NIE},
		{"Y1234567X", "Y1234567X", NIE},
		{"Z1234567R", "Z1234567R", NIE},
		{"A28015865", "A28015865", CIF}, // digit control for A
		{"A39000013", "A39000013", CIF},
		{"B12345674", "B12345674", CIF},
		{"b-1234567-4", "B12345674", CIF},
		{"ESB12345674", "B12345674", CIF},
		{"E12345674", "E12345674", CIF},
		{"H12345674", "H12345674", CIF},
		{"P2800000H", "P2800000H", CIF}, // letter control for P
		{"Q2800000H", "Q2800000H", CIF},
		{"R2800000H", "R2800000H", CIF},
		{"S2800000H", "S2800000H", CIF},
		{"N2800000H", "N2800000H", CIF},
		{"W2800000H", "W2800000H", CIF},
		{"G12345674", "G12345674", CIF}, // G takes either
		{"G1234567D", "G1234567D", CIF},
		{"J00000000", "J00000000", CIF},
		{"J0000000J", "J0000000J", CIF},
		{"U12345674", "U12345674", CIF},
		{"V1234567D", "V1234567D", CIF},
		{"C1234567D", "C1234567D", CIF},
		{"D12345674", "D12345674", CIF},
		{"F1234567D", "F1234567D", CIF},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, kind, err := Validate(tt.in)
			if err != nil {
				t.Fatalf("Validate(%q): %v", tt.in, err)
			}
			if got != tt.want || kind != tt.kind {
				t.Errorf("Validate(%q) = %q, %q; want %q, %q", tt.in, got, kind, tt.want, tt.kind)
			}
		})
	}
}

func TestValidateErrors(t *testing.T) {
	tests := []struct {
		in, wantErr string
	}{
		{"", "tax id is empty"},
		{"  -. ", "tax id is empty"},
		{"12345678A", `NIF "12345678A" has control letter A, expected Z`},
		{"123456789", `NIF "123456789" must end in a control letter, got '9'`},
		{"1234A678Z", "must have digits between"},
		{"1234567", "must have 9 characters, got 7"},
		{"123456789Z", "must have 9 characters, got 10"},
		{"X1234567T", `NIE "X1234567T" has control letter T, expected L`},
		{"Y12345A7X", "must have digits between"},
		{"K1234567T", "has control letter T, expected L"},
		{"A28015866", `CIF "A28015866" has control 6, expected digit 5`},
		{"A2801586E", "expected digit 5"}, // A takes a digit only
		{"B1234567D", "expected digit 4"},
		{"P28000008", `CIF "P28000008" has control 8, expected letter H`}, // P takes a letter only
		{"Q2800000A", "expected letter H"},
		{"W28000008", "expected letter H"},
		{"G12345675", "expected 4 or D"},
		{"B12A45674", "must have 7 digits after its first letter"},
		{"I12345674", `tax id "I12345674" is not a NIF, NIE or CIF: it starts with 'I'`},
		{"T12345674", "is not a NIF, NIE or CIF"},
		{"ñ1234567L", "not a plain letter or digit"},
		{"B8655609€", "not a plain letter or digit"},
		{"\xff1234567L", "not a plain letter or digit"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, kind, err := Validate(tt.in)
			if err == nil {
				t.Fatalf("Validate(%q) = %q, %q; want error containing %q", tt.in, got, kind, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Validate(%q) error = %q, want it to contain %q", tt.in, err, tt.wantErr)
			}
			if got != "" || kind != "" {
				t.Errorf("Validate(%q) returned %q, %q with an error", tt.in, got, kind)
			}
		})
	}
}

// TestEveryNIFLetter checks that exactly one letter is accepted for a number.
func TestEveryNIFLetter(t *testing.T) {
	for _, number := range []string{"12345678", "00000000", "99999999", "X7654321"} {
		ok := 0
		for c := 'A'; c <= 'Z'; c++ {
			if _, _, err := Validate(number + string(c)); err == nil {
				ok++
			}
		}
		if ok != 1 {
			t.Errorf("%s: %d control letters accepted, want 1", number, ok)
		}
	}
}

func FuzzValidate(f *testing.F) {
	for _, s := range []string{
		"12345678Z", "1234567L", "X1234567L", "y1234567x", "B12345674", "G1234567D",
		"P2800000H", "P28000008", "B86556093", "ES12345678Z", "", "ñ", "K1234567L",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, kind, err := Validate(s)
		if err != nil {
			if got != "" || kind != "" {
				t.Fatalf("Validate(%q) = %q, %q with error %v", s, got, kind, err)
			}
			return
		}
		if len(got) != 9 {
			t.Fatalf("Validate(%q) = %q: length %d", s, got, len(got))
		}
		if kind != NIF && kind != NIE && kind != CIF {
			t.Fatalf("Validate(%q) kind %q", s, kind)
		}
		again, kind2, err := Validate(got)
		if err != nil || again != got || kind2 != kind {
			t.Fatalf("Validate(%q) = %q, %q but Validate(%q) = %q, %q, %v", s, got, kind, got, again, kind2, err)
		}
	})
}
