package money

import (
	"math"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"1.234,56 €", 123456},
		{"1.234,56\u00a0€", 123456},
		{"12,50 EUR", 1250},
		{"12,50 eur", 1250},
		{"EUR 12,50", 1250},
		{"1234,5", 123450},
		{"1234.56", 123456},
		{"1234.5", 123450},
		{"4094.9", 409490},
		{"1.234", 123400},
		{"1.234.567", 123456700},
		{"1.234.567,89", 123456789},
		{"1,234.56", 123456},
		{"1,234,567.89", 123456789},
		{"-12,00", -1200},
		{"-35.2", -3520},
		{"- 12,00 €", -1200},
		{"-€ 7", -700},
		{"€ -7", -700},
		{"+7", 700},
		{"€ 7", 700},
		{"7€", 700},
		{"  \t 0,05  ", 5},
		{"0", 0},
		{"-0,00", 0},
		{"007", 700},
		{"12.3", 1230},
		{"\u202f2.573,97\u202f€", 257397},
		{"92233720368547758,07", math.MaxInt64},
		{"-92.233.720.368.547.758,08 €", math.MinInt64},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("Parse(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string
	}{
		{"12,345", `amount "12,345" has more than two decimals`},
		{"1.234,567", "has more than two decimals"},
		{"12.3456", "has more than two decimals"},
		{"", `amount "" is empty`},
		{"   ", "is empty"},
		{"€", "is not a number"},
		{"-", "is not a number"},
		{"sin importe", "is not a number"},
		{"12a", "is not a number"},
		{"1 234,56", "is not a number"},
		{"1,234,567", "is not a number"},
		{"1,2,3.4", "badly grouped thousands"},
		{"1.2,3,4", "is not a number"},
		{"12,", "is not a number"},
		{"12.", "is not a number"},
		{",50", "is not a number"},
		{"--5", "is not a number"},
		{"5-", "is not a number"},
		{"€5€", "is not a number"},
		{"5 € EUR", "is not a number"},
		{"0x10", "is not a number"},
		{"1e3", "is not a number"},
		{"1.23.456", "badly grouped thousands"},
		{"1.2345,00", "badly grouped thousands"},
		{"12.34.567", "badly grouped thousands"},
		{"0.500", "badly grouped thousands"},
		{".123", "badly grouped thousands"},
		{"1234.567,00", "badly grouped thousands"},
		{"92233720368547758,08", "is too large"},
		{"-92233720368547758,09", "is too large"},
		{"99999999999999999999", "is too large"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %d, want error containing %q", tt.in, got, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Parse(%q) error = %q, want it to contain %q", tt.in, err, tt.wantErr)
			}
		})
	}
}

func TestFromFloat(t *testing.T) {
	tests := []struct {
		in   float64
		want int64
	}{
		{0, 0},
		{math.Copysign(0, -1), 0},
		{1.15, 115}, // stored as 1.149999...
		{0.1 + 0.2, 30},
		{4094.9, 409490},
		{-35.2, -3520},
		{1234.56, 123456},
		{0.29, 29},
		{123456789.12, 12345678912},
		{9999999999.99, 999999999999},
		{1e16, 1e18},
	}
	for _, tt := range tests {
		got, err := FromFloat(tt.in)
		if err != nil {
			t.Errorf("FromFloat(%v): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("FromFloat(%v) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestFromFloatErrors(t *testing.T) {
	tests := []struct {
		in      float64
		wantErr string
	}{
		{math.NaN(), "is not a number"},
		{math.Inf(1), "is not a number"},
		{math.Inf(-1), "is not a number"},
		{1.005, "more than two decimals"},
		{0.285, "more than two decimals"},
		{12.345, "more than two decimals"},
		{0.001, "more than two decimals"},
		{1e17, "too large"},
		{-1e17, "too large"},
		{math.MaxFloat64, "too large"},
	}
	for _, tt := range tests {
		got, err := FromFloat(tt.in)
		if err == nil {
			t.Errorf("FromFloat(%v) = %d, want error containing %q", tt.in, got, tt.wantErr)
			continue
		}
		if !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("FromFloat(%v) error = %q, want it to contain %q", tt.in, err, tt.wantErr)
		}
	}
}

// TestFromFloatEveryCent checks that binary noise never rejects or shifts a
// genuine two-decimal amount over a realistic range of invoice amounts.
func TestFromFloatEveryCent(t *testing.T) {
	for c := int64(-100000); c <= 1000000; c++ {
		f := float64(c) / 100 // the float a spreadsheet would hold for c cents
		got, err := FromFloat(f)
		if err != nil || got != c {
			t.Fatalf("FromFloat(%v) = %d, %v; want %d", f, got, err, c)
		}
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		in        int64
		want      string
		wantEuros string
	}{
		{0, "0,00 €", "0.00"},
		{5, "0,05 €", "0.05"},
		{-5, "-0,05 €", "-0.05"},
		{100, "1,00 €", "1.00"},
		{99999, "999,99 €", "999.99"},
		{100000, "1.000,00 €", "1000.00"},
		{123456, "1.234,56 €", "1234.56"},
		{-123456, "-1.234,56 €", "-1234.56"},
		{123456789, "1.234.567,89 €", "1234567.89"},
		{math.MaxInt64, "92.233.720.368.547.758,07 €", "92233720368547758.07"},
		{math.MinInt64, "-92.233.720.368.547.758,08 €", "-92233720368547758.08"},
	}
	for _, tt := range tests {
		if got := Format(tt.in); got != tt.want {
			t.Errorf("Format(%d) = %q, want %q", tt.in, got, tt.want)
		}
		if got := Euros(tt.in); got != tt.wantEuros {
			t.Errorf("Euros(%d) = %q, want %q", tt.in, got, tt.wantEuros)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	values := []int64{math.MinInt64, math.MinInt64 + 1, -100000, -1, 0, 1, 99, 100, 999, 1000,
		99999, 100000, 100001, 123456, 99999999, math.MaxInt64 - 1, math.MaxInt64}
	for p := int64(1); p > 0 && p < math.MaxInt64/10; p *= 10 {
		values = append(values, p-1, p, p+1, -p)
	}
	for _, v := range values {
		checkRoundTrip(t, v)
	}
}

// checkRoundTrip asserts that both printed forms of v parse back to v.
func checkRoundTrip(t *testing.T, v int64) {
	t.Helper()
	for _, s := range []string{Format(v), Euros(v)} {
		got, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q) (printed from %d): %v", s, v, err)
		}
		if got != v {
			t.Fatalf("Parse(%q) = %d, want %d", s, got, v)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"1.234,56 €", "12,50 EUR", "1234,5", "1234.56", "1.234", "-12,00", "€ 7",
		"12,345", "", "sin importe", "1,234.56", "-92.233.720.368.547.758,08 €",
		"92233720368547758,08", "0.500", "\u00a07\u00a0€",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := Parse(s)
		if err != nil {
			return
		}
		checkRoundTrip(t, v)
	})
}
