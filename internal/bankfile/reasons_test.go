package bankfile

import (
	"sort"
	"testing"
)

func TestPathOf(t *testing.T) {
	byBank := []string{"", OriginatorDebtorBank, OriginatorCreditorBank, "CAIXESBBXXX", "ENTIDAD X"}
	tests := []struct {
		code     string
		path     Path // whoever raised it, the debtor included
		byDebtor Path // when the debtor raised it, if different
	}{
		{"AM04", PathFunds, ""},
		{"MS03", PathFunds, ""},
		{"MD06", PathDisputed, ""},
		{"MS02", PathDisputed, ""},
		{"SL01", PathDisputed, ""},
		{"MD01", PathAccount, PathDisputed},
		{"AC01", PathAccount, ""},
		{"AC04", PathAccount, ""},
		{"AC06", PathAccount, ""},
		{"AG01", PathAccount, ""},
		{"MD02", PathAccount, ""},
		{"MD07", PathDeceased, ""},
		{"AM05", PathOurError, ""},
		{"FF01", PathOurError, ""},
		{"FF05", PathOurError, ""},
		{"RR01", PathOurError, ""},
		{"RR02", PathOurError, ""},
		{"RR03", PathOurError, ""},
		{"RR04", PathOurError, ""},
		// Unknown and proprietary codes: funds.
		{"AG02", PathFunds, ""},
		{"XX99", PathFunds, ""},
		{"DEV12", PathFunds, ""},
		{"", PathFunds, ""},
	}
	for _, tt := range tests {
		for _, o := range byBank {
			if got := PathOf(tt.code, o); got != tt.path {
				t.Errorf("PathOf(%q, %q) = %s, want %s", tt.code, o, got, tt.path)
			}
		}
		want := tt.path
		if tt.byDebtor != "" {
			want = tt.byDebtor
		}
		if got := PathOf(tt.code, OriginatorDebtor); got != want {
			t.Errorf("PathOf(%q, debtor) = %s, want %s", tt.code, got, want)
		}
	}
	// Codes are read as the files write them, in any case and spacing.
	if got := PathOf(" md06 ", ""); got != PathDisputed {
		t.Errorf("PathOf(\" md06 \") = %s, want disputed", got)
	}
	if got := PathOf("md01", OriginatorDebtor); got != PathDisputed {
		t.Errorf("PathOf(md01, debtor) = %s, want disputed", got)
	}
}

func TestReasons(t *testing.T) {
	rules := Reasons()
	codes := make([]string, len(rules))
	valid := map[Path]bool{PathFunds: true, PathDisputed: true, PathAccount: true, PathDeceased: true, PathOurError: true}
	for i, r := range rules {
		codes[i] = r.Code
		if r.Description == "" {
			t.Errorf("%s has no description", r.Code)
		}
		if !valid[r.Path] || r.ByDebtor != "" && !valid[r.ByDebtor] {
			t.Errorf("%s: paths %q, %q", r.Code, r.Path, r.ByDebtor)
		}
		if got := PathOf(r.Code, ""); got != r.Path {
			t.Errorf("PathOf(%s) = %s, the table says %s", r.Code, got, r.Path)
		}
	}
	if !sort.StringsAreSorted(codes) {
		t.Errorf("Reasons() not in code order: %v", codes)
	}
	want := []string{"AC01", "AC04", "AC06", "AG01", "AM04", "AM05", "FF01", "FF05", "MD01", "MD02",
		"MD06", "MD07", "MS02", "MS03", "RR01", "RR02", "RR03", "RR04", "SL01"}
	if len(codes) != len(want) {
		t.Fatalf("Reasons() lists %v, want %v", codes, want)
	}
	for i := range want {
		if codes[i] != want[i] {
			t.Fatalf("Reasons() lists %v, want %v", codes, want)
		}
	}
	if rules[4].Description != "saldo insuficiente" {
		t.Errorf("AM04 reads %q", rules[4].Description)
	}
	// The caller's copy is its own.
	rules[0].Path = PathDeceased
	if Reasons()[0].Path != PathAccount {
		t.Error("changing the slice Reasons returned changed the table")
	}
}

func TestOriginatorOf(t *testing.T) {
	const dbtrAgt, cdtrAgt = "BSABESBBXXX", "CAIXESBBXXX"
	tests := []struct {
		name, bic, other string
		want             string
	}{
		{bic: "BSABESBBXXX", want: OriginatorDebtorBank},
		{bic: "bsabesbb", want: OriginatorDebtorBank},
		{bic: "BSABESBB123", want: OriginatorDebtorBank},
		{bic: "CAIXESBBXXX", want: OriginatorCreditorBank},
		{bic: "IPAYESMMXXX", want: "IPAYESMMXXX"},
		{name: "DEUDOR", want: OriginatorDebtor},
		{name: " deudor ", want: OriginatorDebtor},
		{name: "Debtor", want: OriginatorDebtor},
		{name: "TITULAR DE LA CUENTA", want: OriginatorDebtor},
		{name: "ENTIDAD DEUDORA", want: OriginatorDebtorBank},
		{name: "Entidad del deudor", want: OriginatorDebtorBank},
		{name: "Debtor bank", want: OriginatorDebtorBank},
		{name: "DEBTOR AGENT", want: OriginatorDebtorBank},
		{name: "ENTIDAD DEL ACREEDOR", want: OriginatorCreditorBank},
		{name: "Entidad acreedora", want: OriginatorCreditorBank},
		{name: "CREDITOR BANK", want: OriginatorCreditorBank},
		{name: "Acreedor", want: "Acreedor"}, // the creditor is us: kept as written
		{name: "BANCO  SANTANDER", want: "BANCO SANTANDER"},
		{name: "Deudor", bic: "IPAYESMMXXX", want: "IPAYESMMXXX"}, // the BIC is the more precise
		{other: "ES12ABC", want: "ES12ABC"},
		{want: ""},
	}
	for _, tt := range tests {
		if got := originatorOf(tt.name, tt.bic, tt.other, dbtrAgt, cdtrAgt); got != tt.want {
			t.Errorf("originatorOf(%q, %q, %q) = %q, want %q", tt.name, tt.bic, tt.other, got, tt.want)
		}
	}
	// No agent known: a BIC is kept.
	if got := originatorOf("", "BSABESBBXXX", "", "", ""); got != "BSABESBBXXX" {
		t.Errorf("with no agents known, the BIC gives %q", got)
	}
}

func TestDescribe(t *testing.T) {
	if got := Describe(" am04 "); got != "saldo insuficiente" {
		t.Errorf("Describe(AM04) = %q", got)
	}
	if got := Describe("ZZ99"); got != "" {
		t.Errorf("Describe(ZZ99) = %q, want empty for a code not in the table", got)
	}
}
