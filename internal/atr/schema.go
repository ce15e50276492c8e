package atr

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/elega/impagos/internal/calendar"
	"github.com/elega/impagos/internal/cups"
)

// A spec describes one element of a message as the CNMC schemas do: how
// often it occurs where it stands and what it holds. Parse and Marshal check
// a message against the same specs, so what one writes the other reads.
type spec struct {
	name     string
	min, max int

	// A leaf holds text: check says what is wrong with it, "" when nothing.
	check func(string) string
	// collapse applies the schema's whiteSpace="collapse" before check.
	collapse bool

	// A group holds elements: seq in that order, or one of alts.
	seq  []*spec
	alts [][]*spec

	// opaque elements are accepted where they stand and not looked into:
	// parts of a message the retailer has no use for.
	opaque bool
}

const unbounded = int(^uint(0) >> 1)

func leaf(name string, check func(string) string) *spec {
	return &spec{name: name, min: 1, max: 1, check: check}
}

// cleaf is a leaf whose text the schema collapses (names, comments, dates).
func cleaf(name string, check func(string) string) *spec {
	s := leaf(name, check)
	s.collapse = true
	return s
}

func dateLeaf(name string) *spec { return cleaf(name, isDate) }

func group(name string, kids ...*spec) *spec {
	return &spec{name: name, min: 1, max: 1, seq: kids}
}

func choice(name string, alts ...[]*spec) *spec {
	return &spec{name: name, min: 1, max: 1, alts: alts}
}

func opaque(name string) *spec {
	return &spec{name: name, min: 1, max: 1, opaque: true}
}

func optional(s *spec) *spec { s.min = 0; return s }

func repeated(s *spec, lo, hi int) *spec { s.min, s.max = lo, hi; return s }

// Roots of the B1 messages.
const (
	rootCutRequest     = "MensajeBajaSuspension"
	rootAccepted       = "MensajeAceptacionBajaSuspension"
	rootRejected       = "MensajeRechazo"
	rootCancel         = "MensajeAnulacionSolicitud"
	rootCancelAccepted = "MensajeAceptacionAnulacionBaja"
	rootActivated      = "MensajeActivacionBajaSuspension"
)

// roots maps each root element to its spec and the kind it is read as.
var roots = map[string]struct {
	spec  *spec
	kind  Kind
	steps []string
}{
	rootCutRequest:     {cutRequestSpec(), CutRequested, []string{"01"}},
	rootAccepted:       {acceptedSpec(), Accepted, []string{"02"}},
	rootRejected:       {rejectedSpec(), Rejected, []string{"02", "04", "07"}},
	rootCancel:         {group(rootCancel, headerSpec()), CancelRequested, []string{"03"}},
	rootCancelAccepted: {cancelAcceptedSpec(), CancelAccepted, []string{"04"}},
	rootActivated:      {activatedSpec(), Activated, []string{"05"}},
}

// rootOf is the root element a message of kind k is written under.
func rootOf(k Kind) (string, bool) {
	for name, r := range roots {
		if r.kind == k {
			return name, true
		}
	}
	return "", false
}

func headerSpec() *spec {
	return group("Cabecera",
		leaf("CodigoREEEmpresaEmisora", digits(4, 4)),
		leaf("CodigoREEEmpresaDestino", digits(4, 4)),
		leaf("CodigoDelProceso", oneOf(processes...)),
		leaf("CodigoDePaso", oneOf(steps...)),
		leaf("CodigoDeSolicitud", digits(12, 12)),
		leaf("SecuencialDeSolicitud", digits(2, 2)),
		cleaf("FechaSolicitud", isDateTime),
		leaf("CUPS", isCUPS),
	)
}

func phoneSpec(lo, hi int) *spec {
	return repeated(group("Telefono",
		leaf("PrefijoPais", digits(1, 4)),
		leaf("Numero", digits(6, 12)),
	), lo, hi)
}

func customerSpec() *spec {
	return group("Cliente",
		group("IdCliente",
			leaf("TipoIdentificador", oneOf(idTypes...)),
			cleaf("Identificador", chars(7, 14)),
			optional(leaf("TipoPersona", oneOf("F", "J"))),
		),
		choice("Nombre",
			[]*spec{
				cleaf("NombreDePila", chars(1, 80)),
				cleaf("PrimerApellido", chars(1, 80)),
				optional(cleaf("SegundoApellido", chars(1, 80))),
			},
			[]*spec{cleaf("RazonSocial", chars(1, 80))},
		),
		phoneSpec(0, 5),
		optional(cleaf("CorreoElectronico", chars(1, 60))),
	)
}

func cutRequestSpec() *spec {
	return group(rootCutRequest,
		headerSpec(),
		group("BajaSuspension",
			group("DatosSolicitud",
				leaf("IndActivacion", oneOf("A", "L", "F")),
				optional(cleaf("FechaPrevistaAccion", isDateOrEmpty)),
				leaf("Motivo", oneOf(motives...)),
			),
			customerSpec(),
			optional(group("Contacto",
				cleaf("PersonaDeContacto", chars(1, 150)),
				phoneSpec(1, 5),
			)),
			optional(leaf("IBAN", chars(1, 34))),
			optional(leaf("Comentarios", chars(1, maxComment))),
			optional(opaque("RegistrosDocumento")),
		),
	)
}

func acceptedSpec() *spec {
	return group(rootAccepted,
		headerSpec(),
		group("AceptacionBajaSuspension",
			group("DatosAceptacion",
				dateLeaf("FechaAceptacion"),
				leaf("ActuacionCampo", oneOf("S", "N")),
				dateLeaf("FechaUltimaLecturaFirme"),
				leaf("TipoActivacionPrevista", oneOf(activationTypes...)),
				dateLeaf("FechaActivacionPrevista"),
			),
		),
	)
}

func rejectedSpec() *spec {
	return group(rootRejected,
		headerSpec(),
		group("Rechazos",
			dateLeaf("FechaRechazo"),
			repeated(group("Rechazo",
				cleaf("Secuencial", digits(1, 2)),
				leaf("CodigoMotivo", isRejectionCode),
				cleaf("Comentarios", chars(1, maxComment)),
			), 1, unbounded),
			optional(opaque("RegistrosDocumento")),
		),
	)
}

func cancelAcceptedSpec() *spec {
	return group(rootCancelAccepted,
		headerSpec(),
		group("AceptacionAnulacion",
			dateLeaf("FechaAceptacion"),
			optional(cleaf("HoraAceptacion", isClock)),
		),
	)
}

func activatedSpec() *spec {
	return group(rootActivated,
		headerSpec(),
		group("ActivacionBaja",
			group("DatosActivacionBaja", dateLeaf("FechaActivacion")),
			group("Contrato", group("IdContrato", cleaf("CodContrato", digits(1, 12)))),
			group("PuntosDeMedida", repeated(measurePointSpec(), 1, 10)),
		),
	)
}

func measurePointSpec() *spec {
	return group("PuntoDeMedida",
		leaf("CodPM", alnum(22, 22)),
		leaf("TipoMovimiento", oneOf("A", "B", "M")),
		leaf("TipoPM", oneOf("01", "02", "03", "04", "05")),
		optional(leaf("CodPMPrincipal", alnum(22, 22))),
		leaf("ModoLectura", oneOf("1", "2", "3", "4", "5")),
		leaf("Funcion", oneOf("C", "P", "R")),
		optional(leaf("DireccionEnlace", chars(1, 10))),
		optional(leaf("DireccionPuntoMedida", chars(1, 10))),
		optional(cleaf("NumLinea", digits(1, 2))),
		optional(cleaf("TelefonoTelemedida", chars(9, 21))),
		optional(leaf("EstadoTelefono", oneOf("1", "2", "3", "4", "5", "6", "7", "8", "9"))),
		optional(leaf("ClaveAcceso", chars(1, 10))),
		optional(cleaf("TensionPM", digits(1, 9))),
		dateLeaf("FechaVigor"),
		dateLeaf("FechaAlta"),
		optional(dateLeaf("FechaBaja")),
		optional(opaque("Aparatos")),
		optional(leaf("Comentarios", chars(1, maxComment))),
	)
}

// maxComment is the length of every Comentarios (the schema's X4000).
const maxComment = 4000

// Code tables of the schemas.
var (
	// processes is table 2; only B1 passes the later check.
	processes = []string{"A3", "B1", "C1", "C2", "M1", "M2", "F1", "D1", "W1", "Q1", "R1", "E1", "E2", "T1", "B2", "P0"}
	// steps is table 3; B1 uses 01 to 07 (and 16).
	steps = []string{"01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "13", "14", "15", "16"}
	// idTypes is table 6: NIF, NIVA, other, passport, NIE.
	idTypes = []string{"NI", "NV", "OT", "PS", "NE"}
	// motives is table 10: end of activity, end of energy contract, cut for
	// non-payment, take-down for non-payment.
	motives = []string{"01", "02", MotiveNonPayment, "04"}
	// activationTypes is table 55.
	activationTypes = []string{"L0", "C0", "F0", "B1", "B2", "B3", "B4", "A0", "P0", "T1", "C1"}
)

// Checks of leaf text. Each returns what is wrong, or "".

func digits(lo, hi int) func(string) string {
	return func(s string) string {
		if len(s) < lo || len(s) > hi || strings.Trim(s, "0123456789") != "" {
			if lo == hi {
				return fmt.Sprintf("must be %d digits, got %q", lo, s)
			}
			return fmt.Sprintf("must be %d to %d digits, got %q", lo, hi, s)
		}
		return ""
	}
}

func alnum(lo, hi int) func(string) string {
	return func(s string) string {
		ok := len(s) >= lo && len(s) <= hi
		for i := 0; ok && i < len(s); i++ {
			c := s[i]
			ok = '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z'
		}
		if !ok {
			return fmt.Sprintf("must be %d letters or digits, got %q", hi, s)
		}
		return ""
	}
}

// chars checks a length in characters, as the schema counts it.
func chars(lo, hi int) func(string) string {
	return func(s string) string {
		if n := utf8.RuneCountInString(s); n < lo || n > hi {
			return fmt.Sprintf("must be %d to %d characters, has %d", lo, hi, n)
		}
		return ""
	}
}

func oneOf(values ...string) func(string) string {
	return func(s string) string {
		if !slices.Contains(values, s) {
			return fmt.Sprintf("%q is not one of %s", s, strings.Join(values, " "))
		}
		return ""
	}
}

func isCUPS(s string) string {
	if err := cups.Validate(s); err != nil {
		return err.Error()
	}
	return ""
}

// isRejectionCode accepts any code of table 27's shape: see the package doc.
func isRejectionCode(s string) string {
	ok := len(s) == 2
	for i := 0; ok && i < 2; i++ {
		ok = '0' <= s[i] && s[i] <= '9' || 'A' <= s[i] && s[i] <= 'Z'
	}
	if !ok {
		return fmt.Sprintf("%q is not a code of table 27 (two capital letters or digits)", s)
	}
	return ""
}

func isDate(s string) string {
	if _, err := parseDate(s); err != nil {
		return err.Error()
	}
	return ""
}

func isDateOrEmpty(s string) string {
	if s == "" {
		return ""
	}
	return isDate(s)
}

func isDateTime(s string) string {
	if _, err := parseDateTime(s); err != nil {
		return err.Error()
	}
	return ""
}

func isClock(s string) string {
	if _, err := time.Parse(time.TimeOnly, s); err != nil || len(s) != len(time.TimeOnly) {
		return fmt.Sprintf("%q is not a time hh:mm:ss", s)
	}
	return ""
}

// parseDate reads an xs:date without zone as midnight in Madrid.
func parseDate(s string) (time.Time, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil || len(s) != len(time.DateOnly) || t.Year() < 1 {
		return time.Time{}, fmt.Errorf("%q is not a date YYYY-MM-DD", s)
	}
	return calendar.Date(t.Date()), nil
}

// formatDate writes t's day in Madrid; "" for the zero time.
func formatDate(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(calendar.Madrid).Format(time.DateOnly)
}

const localDateTime = "2006-01-02T15:04:05"

// parseDateTime reads an xs:dateTime: Madrid local time unless it carries a
// zone; fractions of a second are dropped.
func parseDateTime(s string) (time.Time, error) {
	bad := fmt.Errorf("%q is not a date-time YYYY-MM-DDThh:mm:ss", s)
	if len(s) < len(localDateTime) {
		return time.Time{}, bad
	}
	base, rest := s[:len(localDateTime)], s[len(localDateTime):]
	if strings.HasPrefix(rest, ".") {
		i := 1
		for i < len(rest) && '0' <= rest[i] && rest[i] <= '9' {
			i++
		}
		if i == 1 {
			return time.Time{}, bad
		}
		rest = rest[i:]
	}
	var t time.Time
	var err error
	switch {
	case rest == "":
		t, err = time.ParseInLocation(localDateTime, base, calendar.Madrid)
	case rest == "Z" || len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		zone := rest
		if zone == "Z" {
			zone = "+00:00"
		}
		t, err = time.Parse(localDateTime+"-07:00", base+zone)
		if err == nil && (zone[1:3] > "14" || zone[4:] > "59") {
			err = bad
		}
	default:
		err = bad
	}
	if err != nil || t.Year() < 1 {
		return time.Time{}, bad
	}
	return t.In(calendar.Madrid), nil
}

// formatDateTime writes t in Madrid's local time to the second, adding the
// offset only where the local time alone would read back as another instant
// (the repeated hour when summer time ends).
func formatDateTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	t = t.Truncate(time.Second).In(calendar.Madrid)
	s := t.Format(localDateTime)
	if back, err := time.ParseInLocation(localDateTime, s, calendar.Madrid); err != nil || !back.Equal(t) {
		s += t.Format("-07:00")
	}
	return s
}

// collapse applies the schema's whiteSpace="collapse": tabs, line ends and
// runs of spaces become one space, and the ends are trimmed.
func collapse(s string) string {
	if !strings.ContainsAny(s, "\t\n\r") && !strings.Contains(s, "  ") && strings.TrimSpace(s) == s {
		return s
	}
	var b strings.Builder
	space := false
	for _, r := range s {
		if r == ' ' || r == '\t' || r == '\n' || r == '\r' {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// xmlText says whether every character of s may appear in an XML document.
func xmlText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
		case r >= 0x20 && r <= 0xD7FF:
		case r >= 0xE000 && r <= 0xFFFD:
		case r >= 0x10000 && r <= 0x10FFFF:
		default:
			return false
		}
	}
	return true
}
