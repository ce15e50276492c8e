package bankfile

import (
	"strings"
	"testing"
)

func TestParseAmount(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
	}{
		{"12.34", 1234},
		{"12.3", 1230},
		{"12", 1200},
		{"0.01", 1},
		{"0", 0},
		{"007.50", 750},
		{" 45.60\n", 4560},
		{"12.340", 1234},
		{"12.3400000", 1234},
		{"100000000.00", 100_000_000_00},
		{"0000000000000100000000", 100_000_000_00},
	} {
		got, err := ParseAmount(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseAmount(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

func TestParseAmountRefuses(t *testing.T) {
	for _, tt := range []struct{ in, why string }{
		{"12.345", "amount 12.345: more than two decimals"},
		{"12.3401", "amount 12.3401: more than two decimals"},
		{"-1.00", "amount -1.00: negative"},
		{"NaN", "not a number"},
		{"Inf", "not a number"},
		{"1e3", "not a number"},
		{"1.5E2", "not a number"},
		{"1,50", "not a number"},
		{"1.000,50", "not a number"},
		{"+1.00", "not a number"},
		{"0x10", "not a number"},
		{"1 000", "not a number"},
		{"١٢", "not a number"},
		{"12.3.4", "not a number"},
		{".5", "not a number"},
		{"5.", "not a number"},
		{"", "amount: empty"},
		{"   ", "amount: empty"},
		{"100000000.01", "more than 100.000.000,00"},
		{"100000001", "more than 100.000.000,00"},
		{"99999999999999999999999999", "more than 100.000.000,00"},
	} {
		got, err := ParseAmount(tt.in)
		if err == nil {
			t.Errorf("ParseAmount(%q) = %d, want an error", tt.in, got)
			continue
		}
		if !strings.Contains(err.Error(), tt.why) {
			t.Errorf("ParseAmount(%q): %v, want it to say %q", tt.in, err, tt.why)
		}
		if got != 0 {
			t.Errorf("ParseAmount(%q) = %d with its error, want 0", tt.in, got)
		}
	}
}
