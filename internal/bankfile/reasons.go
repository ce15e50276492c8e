package bankfile

import (
	"strings"
)

// Path is what a return asks of the collections process, decided by its
// reason code (and, for MD01, by who raised it).
type Path string

// The paths.
const (
	PathFunds    Path = "funds"     // the money was not there: collect again, notices
	PathDisputed Path = "disputed"  // the debtor refused or disputes the debit
	PathAccount  Path = "account"   // the account or mandate is not usable: ask for another
	PathDeceased Path = "deceased"  // the debtor has died
	PathOurError Path = "our_error" // the creditor's side sent something wrong
)

// ReasonRule is one line of the reason table.
type ReasonRule struct {
	Code string // SEPA reason code (AT-R3)
	Path Path
	// ByDebtor is the path when the debtor raised the return, when it
	// differs from Path; "" otherwise.
	ByDebtor    Path
	Description string // in Spanish, for the clerks
}

// reasonRules is the table. The descriptions follow the AEB's list of
// rejection and return codes of the SEPA core direct debit (Cuaderno 19.14,
// Anexo IX). A code not listed takes the funds path: it is treated as a
// failed collection until a clerk says otherwise.
var reasonRules = []ReasonRule{
	{Code: "AC01", Path: PathAccount, Description: "número de cuenta incorrecto (IBAN no válido)"},
	{Code: "AC04", Path: PathAccount, Description: "cuenta cancelada"},
	{Code: "AC06", Path: PathAccount, Description: "cuenta bloqueada, o bloqueada por el deudor para adeudos directos"},
	{Code: "AG01", Path: PathAccount, Description: "la cuenta no admite adeudos directos"},
	{Code: "AM04", Path: PathFunds, Description: "saldo insuficiente"},
	{Code: "AM05", Path: PathOurError, Description: "operación duplicada"},
	{Code: "FF01", Path: PathOurError, Description: "formato no válido"},
	{Code: "FF05", Path: PathOurError, Description: "tipo de adeudo incorrecto"},
	{Code: "MD01", Path: PathAccount, ByDebtor: PathDisputed, Description: "mandato no válido o inexistente"},
	{Code: "MD02", Path: PathAccount, Description: "faltan datos del mandato o son incorrectos"},
	{Code: "MD06", Path: PathDisputed, Description: "devolución a petición del deudor (operación autorizada no conforme)"},
	{Code: "MD07", Path: PathDeceased, Description: "deudor fallecido"},
	{Code: "MS02", Path: PathDisputed, Description: "razón no especificada por el cliente (orden del deudor)"},
	{Code: "MS03", Path: PathFunds, Description: "razón no especificada por la entidad del deudor"},
	{Code: "RR01", Path: PathOurError, Description: "faltan la identificación o la cuenta del deudor (razones regulatorias)"},
	{Code: "RR02", Path: PathOurError, Description: "faltan el nombre o la dirección del deudor (razones regulatorias)"},
	{Code: "RR03", Path: PathOurError, Description: "faltan el nombre o la dirección del acreedor (razones regulatorias)"},
	{Code: "RR04", Path: PathOurError, Description: "razones regulatorias"},
	{Code: "SL01", Path: PathDisputed, Description: "servicios específicos ofrecidos por la entidad del deudor (bloqueo de adeudos)"},
}

var rulesByCode = func() map[string]ReasonRule {
	m := make(map[string]ReasonRule, len(reasonRules))
	for _, r := range reasonRules {
		m[r.Code] = r
	}
	return m
}()

// Reasons lists the reason table in code order. The slice is the caller's
// to keep.
func Reasons() []ReasonRule {
	return append([]ReasonRule(nil), reasonRules...)
}

// Describe is a reason code in the clerks' words, "" for a code not in the
// table.
func Describe(code string) string {
	return rulesByCode[strings.ToUpper(strings.TrimSpace(code))].Description
}

// PathOf is the path of a return with this reason code raised by this
// originator (a Return's Originator). MD01 is disputed only when the file
// says the debtor raised it; raised by a bank, or by no one named (every
// flat file), it is an account problem. An unknown or proprietary code
// takes the funds path.
func PathOf(reason, originator string) Path {
	r, ok := rulesByCode[strings.ToUpper(strings.TrimSpace(reason))]
	if !ok {
		return PathFunds
	}
	if r.ByDebtor != "" && originator == OriginatorDebtor {
		return r.ByDebtor
	}
	return r.Path
}

// originatorOf names who raised a return from the originator a file gives
// (a name, a BIC, or an id) and the BICs of the debtor's and the creditor's
// banks for that transaction. A BIC is matched on its first eight
// characters, since a branch code may or may not be given. A name is matched
// on the words Spanish banks use ("deudor", "entidad del deudor",
// "acreedor", in Spanish or English); any other name or BIC is kept as
// written.
func originatorOf(name, bic, otherID, debtorAgent, creditorAgent string) string {
	if bic = strings.ToUpper(strings.TrimSpace(bic)); bic != "" {
		switch {
		case sameBank(bic, debtorAgent):
			return OriginatorDebtorBank
		case sameBank(bic, creditorAgent):
			return OriginatorCreditorBank
		}
		return bic
	}
	if name = collapseSpaces(name); name != "" {
		words := strings.Fields(strings.ToUpper(foldAccents(name)))
		has := func(set ...string) bool {
			for _, w := range words {
				w = strings.Trim(w, ".,;:()")
				for _, s := range set {
					if w == s {
						return true
					}
				}
			}
			return false
		}
		bank := has("ENTIDAD", "BANCO", "BANK", "AGENT", "AGENTE", "ENT")
		debtor := has("DEUDOR", "DEUDORA", "DEBTOR", "DBTR", "TITULAR", "CLIENTE")
		switch {
		case bank && debtor:
			return OriginatorDebtorBank
		case bank && has("ACREEDOR", "ACREEDORA", "CREDITOR", "CDTR"):
			return OriginatorCreditorBank
		case debtor:
			return OriginatorDebtor
		}
		return name
	}
	return strings.TrimSpace(otherID)
}

// sameBank says whether two BICs name the same bank: the same first eight
// characters (bank, country, location).
func sameBank(a, b string) bool {
	b = strings.ToUpper(strings.TrimSpace(b))
	return len(a) >= 8 && len(b) >= 8 && a[:8] == b[:8]
}

// foldAccents replaces the accented letters of Spanish with plain ones, so
// that "Entidad Deudora" and "ENTIDAD DEUDORA" read the same.
func foldAccents(s string) string {
	return accentFolder.Replace(s)
}

var accentFolder = strings.NewReplacer(
	"á", "a", "é", "e", "í", "i", "ó", "o", "ú", "u", "ü", "u", "ñ", "n",
	"Á", "A", "É", "E", "Í", "I", "Ó", "O", "Ú", "U", "Ü", "U", "Ñ", "N",
)
