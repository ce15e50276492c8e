package sheets

import (
	"fmt"
	"strings"
	"unicode"
)

// headerSearchRows is how far down a sheet the header row is looked for:
// exports put a title, the filter used and the date above it.
const headerSearchRows = 30

// role is what a column means to a reader.
type role int

const (
	roleNone role = iota
	roleInvoice
	roleCustomer
	roleAmount
	roleCups
	roleStatus
	roleReturnDate
	roleTaxID
	roleContract
	roleSegment
	rolePhone
	roleEmail
	roleProvince
	roleBonoSocial
	roleEssential
	roleProtected
	rolePaidAt
	roleMethod
	roleReference
	roleMandate
	roleIBAN
)

// column describes one role of a layout: its name in messages, whether the
// file is useless without it, and the headers that mean it, best first.
type column struct {
	role     role
	name     string // as a clerk knows it, for messages
	required bool
	aliases  []string
}

// layout is the set of columns a reader looks for. Aliases are compared
// after headerKey, so "Nº Factura", "N. Factura" and "nº factura" are one.
type layout struct {
	what    string // "TRADE returns export", for messages
	columns []column
}

// The aliases of each reader. One header means one role only (a test checks
// that no two roles of a layout share a key), which is why "Importe" is the
// amount of a return but "Importe Pagado" that of a payment, and why
// "Nº Vencimiento" (the due-date line of TRADE) is nobody's invoice.
var (
	invoiceAliases = []string{
		"Número de Factura", "Nº de Factura", "Nº Factura", "Num. Factura", "Núm. Factura",
		"Número Factura", "N Factura", "Nro. Factura", "No. Factura", "Nº Fra.", "Num Fra",
		"Factura Nº", "Factura", "Código Factura", "Id Factura", "Invoice", "Invoice Number",
	}
	customerAliases = []string{
		"Cliente", "Nombre Cliente", "Nombre del Cliente", "Nombre", "Titular",
		"Razón Social", "Nombre o Razón Social", "Nombre/Razón Social", "Nombre y Apellidos",
		"Cliente/Titular", "Customer",
	}
	cupsAliases = []string{
		"Cups", "Código CUPS", "Cod. CUPS", "CUPS Suministro", "Punto de Suministro (CUPS)",
		"CUPS del Suministro",
	}
	taxIDAliases = []string{
		"NIF/CIF", "NIF", "CIF", "DNI", "CIF/NIF", "NIF/NIE", "DNI/NIF", "NIF/DNI",
		"NIF/CIF/NIE", "DNI/CIF", "NIF Cliente", "CIF Cliente", "Documento", "Tax ID",
	}
)

var returnsLayout = layout{
	what: "TRADE returns export",
	columns: []column{
		{roleInvoice, "Número de Factura", true, invoiceAliases},
		{roleCustomer, "Cliente", true, customerAliases},
		{roleAmount, "Importe", true, []string{
			"Importe Devuelto", "Importe Pendiente", "Importe", "Importe (€)", "Importe €",
			"Importe Factura", "Importe Total", "Total", "Amount",
		}},
		{roleCups, "Cups", true, cupsAliases},
		{roleStatus, "Estado", false, []string{
			"Estado", "Situación", "Estado Vencimiento", "Estado del Vencimiento",
			"Estado Cobro", "Estado Recibo", "Status",
		}},
		{roleReturnDate, "Fecha Devolución", false, []string{
			"Fecha Devolución", "F. Devolución", "Fecha de Devolución", "Fecha Dev.", "F. Dev.",
		}},
		{roleTaxID, "NIF/CIF", false, taxIDAliases},
	},
}

var contractsLayout = layout{
	what: "contracts export",
	columns: []column{
		{roleContract, "Contrato", false, []string{
			"Contrato", "Nº Contrato", "Num. Contrato", "Número de Contrato", "Número Contrato",
			"Código Contrato", "Id Contrato", "Contract",
		}},
		{roleCustomer, "Cliente", true, customerAliases},
		{roleTaxID, "NIF/CIF", true, taxIDAliases},
		{roleCups, "Cups", true, cupsAliases},
		{roleSegment, "Tipo Cliente", true, []string{
			"Tipo Cliente", "Tipo de Cliente", "Tipo", "Segmento", "Tipo Suministro",
			"Tipo de Suministro", "Customer Type",
		}},
		{rolePhone, "Teléfono", false, []string{
			"Teléfono", "Móvil", "Teléfono Móvil", "Teléfono de Contacto", "Teléfono Contacto",
			"Tel.", "Tlf.", "Tfno.", "Telf.", "Phone",
		}},
		{roleEmail, "Email", false, []string{
			"Email", "E-mail", "Correo", "Correo Electrónico", "Correo-e", "Mail",
		}},
		{roleProvince, "Provincia", false, []string{"Provincia"}},
		{roleBonoSocial, "Bono Social", false, []string{"Bono Social", "Bono"}},
		{roleEssential, "Suministro Esencial", false, []string{
			"Suministro Esencial", "Esencial", "Servicio Esencial",
		}},
		{roleProtected, "Protegido", false, []string{
			"Protegido", "Cliente Protegido", "Suministro Protegido", "Protección",
		}},
		{roleMandate, "Mandato", false, []string{
			"Mandato", "Referencia Mandato", "Ref. Mandato", "Referencia del Mandato",
			"Id Mandato", "Mandato SEPA", "Mandate", "Mandate Id",
		}},
		{roleIBAN, "IBAN", false, []string{
			"IBAN", "Cuenta", "Cuenta Bancaria", "IBAN Domiciliación", "Cuenta de Domiciliación",
			"Cuenta Cargo", "Account",
		}},
	},
}

var paymentsLayout = layout{
	what: "payments workbook",
	columns: []column{
		{rolePaidAt, "Fecha Pago", true, []string{
			"Fecha Pago", "Fecha de Pago", "F. Pago", "Fecha Cobro", "Fecha de Cobro", "Fecha",
		}},
		{roleCustomer, "Cliente", false, customerAliases},
		{roleInvoice, "Número de Factura", true, invoiceAliases},
		{roleAmount, "Importe Pagado", true, []string{
			"Importe Pagado", "Importe Pago", "Importe Cobrado", "Pagado", "Cobrado", "Importe",
			"Importe (€)",
		}},
		{roleMethod, "Forma de Pago", false, []string{
			"Forma de Pago", "Forma Pago", "Método", "Método de Pago", "Medio de Pago", "Método Pago",
		}},
		{roleReference, "Referencia", false, []string{
			"Referencia", "Ref.", "Referencia Pago", "Referencia de Pago", "Nº Operación",
			"Id Pago", "Reference",
		}},
	},
}

// headerKey reduces a header to what identifies it: lower-case letters and
// digits only, without accents, so that "Importe (€)", "IMPORTE" and
// "importe" are one key, and "Nº Factura", "N. Factura" and "nº factura"
// another. Everything else (º ª ° € ( ) . : / - spaces...) is dropped.
func headerKey(s string) string {
	var b strings.Builder
	for _, r := range s {
		r = unicode.ToLower(foldAccent(r))
		if ('a' <= r && r <= 'z') || ('0' <= r && r <= '9') {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// headerText is a header tidied for messages: trimmed, spaces collapsed.
func headerText(s string) string { return strings.Join(strings.Fields(s), " ") }

// foldAccent maps the accented letters of Spanish, Catalan, Galician and
// Basque text to their base letter; other runes pass through.
func foldAccent(r rune) rune {
	switch r {
	case 'á', 'à', 'ä', 'â', 'ã', 'å', 'Á', 'À', 'Ä', 'Â', 'Ã', 'Å':
		return 'a'
	case 'é', 'è', 'ë', 'ê', 'É', 'È', 'Ë', 'Ê':
		return 'e'
	case 'í', 'ì', 'ï', 'î', 'Í', 'Ì', 'Ï', 'Î':
		return 'i'
	case 'ó', 'ò', 'ö', 'ô', 'õ', 'Ó', 'Ò', 'Ö', 'Ô', 'Õ':
		return 'o'
	case 'ú', 'ù', 'ü', 'û', 'Ú', 'Ù', 'Ü', 'Û':
		return 'u'
	case 'ñ', 'Ñ':
		return 'n'
	case 'ç', 'Ç':
		return 'c'
	}
	return r
}

// alias is where a header key leads: a role and how good the match is
// (0 is the best alias of the role).
type alias struct {
	role role
	rank int
}

// aliasIndex maps header keys to roles for a layout.
func (l layout) aliasIndex() map[string]alias {
	idx := make(map[string]alias)
	for _, c := range l.columns {
		for i, a := range c.aliases {
			k := headerKey(a)
			if _, dup := idx[k]; !dup {
				idx[k] = alias{c.role, i}
			}
		}
	}
	return idx
}

// header is the header row found in a sheet: the column index (0-based) of
// each role it has.
type header struct {
	row   int // spreadsheet row number, 1-based
	cols  map[role]int
	texts []string // the header cells as written, for messages
}

// col returns the index of a role's column, or -1 when the sheet lacks it.
func (h header) col(r role) int {
	if i, ok := h.cols[r]; ok {
		return i
	}
	return -1
}

// matchHeader maps the cells of a candidate header row to roles. Each cell
// takes at most one role (its key leads to one) and each role at most one
// cell: the best-ranked alias wins, and two cells with the same best rank
// are an ambiguity the clerk must resolve, reported in ambiguous.
func (l layout) matchHeader(idx map[string]alias, cells []string) (cols map[role]int, ambiguous string) {
	cols = make(map[role]int)
	rank := make(map[role]int)
	for i, c := range cells {
		a, ok := idx[headerKey(c)]
		if !ok {
			continue
		}
		j, seen := cols[a.role]
		switch {
		case !seen || a.rank < rank[a.role]:
			cols[a.role], rank[a.role] = i, a.rank
		case a.rank == rank[a.role] && ambiguous == "":
			ambiguous = fmt.Sprintf("columns %s (%s) and %s (%s) both look like the %s column",
				columnLetter(j), headerText(cells[j]), columnLetter(i), headerText(c), l.column(a.role).name)
		}
	}
	return cols, ambiguous
}

func (l layout) column(r role) column {
	for _, c := range l.columns {
		if c.role == r {
			return c
		}
	}
	return column{}
}

// required lists the names of the required columns.
func (l layout) required() []string {
	var names []string
	for _, c := range l.columns {
		if c.required {
			names = append(names, c.name)
		}
	}
	return names
}

// missing lists the names of the required columns absent from cols.
func (l layout) missing(cols map[role]int) []string {
	var names []string
	for _, c := range l.columns {
		if _, ok := cols[c.role]; c.required && !ok {
			names = append(names, c.name)
		}
	}
	return names
}

// headerFinder looks at the first rows of a sheet for the header.
type headerFinder struct {
	l   layout
	idx map[string]alias

	// The best incomplete candidate seen, for the error message.
	bestRow     int
	bestFound   int
	bestMissing []string
	ambiguous   string
	ambiguousAt int
}

func newHeaderFinder(l layout) *headerFinder {
	return &headerFinder{l: l, idx: l.aliasIndex()}
}

// try reports whether cells (row n) hold every required column. A row with
// two columns for one role is not taken, and is remembered for the error.
func (f *headerFinder) try(n int, cells []string) (header, bool) {
	cols, ambiguous := f.l.matchHeader(f.idx, cells)
	missing := f.l.missing(cols)
	if len(missing) == 0 && ambiguous == "" {
		texts := make([]string, len(cells))
		for i, c := range cells {
			texts[i] = headerText(c)
		}
		return header{row: n, cols: cols, texts: texts}, true
	}
	if len(missing) == 0 && f.ambiguous == "" {
		f.ambiguous, f.ambiguousAt = ambiguous, n
	}
	found := len(f.l.required()) - len(missing)
	if found > f.bestFound {
		f.bestRow, f.bestFound, f.bestMissing = n, found, missing
	}
	return header{}, false
}

// err explains why no header was found in a sheet.
func (f *headerFinder) err(sheet string) error {
	switch {
	case f.ambiguous != "":
		return &HeaderError{Sheet: sheet, Row: f.ambiguousAt, found: len(f.l.required()),
			msg: fmt.Sprintf("sheet %q row %d: %s; rename one of them", sheet, f.ambiguousAt, f.ambiguous)}
	// A row with at least two of the required columns is taken for the header
	// the clerk meant; one matching cell is more likely a title.
	case f.bestFound >= 2:
		return &HeaderError{Sheet: sheet, Row: f.bestRow, Missing: f.bestMissing, found: f.bestFound,
			msg: fmt.Sprintf("sheet %q: the header on row %d has no %s column (a %s needs %s)",
				sheet, f.bestRow, orList(f.bestMissing), f.l.what, andList(f.l.required()))}
	default:
		return &HeaderError{Sheet: sheet, Missing: f.l.required(), found: f.bestFound,
			msg: fmt.Sprintf("no header row with columns %s in the first %d rows of sheet %q",
				andList(f.l.required()), headerSearchRows, sheet)}
	}
}

// HeaderError says why a sheet has no usable header row. Missing names the
// required columns that were not found.
type HeaderError struct {
	Sheet   string
	Row     int // the row taken for the header, 0 when none was
	Missing []string
	found   int // how many required columns the best row had
	msg     string
}

func (e *HeaderError) Error() string { return e.msg }

func andList(names []string) string { return joinList(names, "and") }
func orList(names []string) string  { return joinList(names, "or") }

func joinList(names []string, last string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " " + last + " " + names[len(names)-1]
}

// columnLetter turns a 0-based column index into its spreadsheet letters.
func columnLetter(i int) string {
	s := ""
	for i++; i > 0; i = (i - 1) / 26 {
		s = string(rune('A'+(i-1)%26)) + s
	}
	return s
}
