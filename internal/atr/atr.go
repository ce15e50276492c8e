// Package atr writes and reads the messages of the CNMC's ATR switching
// process B1 (baja o suspensión) that a retailer exchanges with a distributor
// to cut a supply for non-payment (motive 03) and to restore it or cancel a
// request not yet carried out (step 03, anulación).
//
// The steps, their XML roots and what this package calls them:
//
//	01 retailer → distributor  MensajeBajaSuspension            CutRequested (CutRequest)
//	02 distributor → retailer  MensajeAceptacionBajaSuspension  Accepted
//	02 distributor → retailer  MensajeRechazo                   Rejected
//	03 retailer → distributor  MensajeAnulacionSolicitud        CancelRequested (Cancel)
//	04 distributor → retailer  MensajeAceptacionAnulacionBaja   CancelAccepted
//	04 distributor → retailer  MensajeRechazo                   Rejected
//	05 distributor → retailer  MensajeActivacionBajaSuspension  Activated
//	07 distributor → retailer  MensajeRechazo                   Rejected
//
// Every message is in the namespace http://localhost/elegibilidad and starts
// with a Cabecera: CodigoREEEmpresaEmisora, CodigoREEEmpresaDestino,
// CodigoDelProceso, CodigoDePaso, CodigoDeSolicitud, SecuencialDeSolicitud,
// FechaSolicitud, CUPS, in that order. Marshal writes UTF-8; Parse reads UTF-8
// and ISO-8859-1, the encoding the CNMC's own schema files are in.
//
// Where the CNMC schemas say otherwise than the first description of this
// package, the schemas were followed:
//
//   - The customer's given name is NombreDePila (not NombrePila); the name is
//     either NombreDePila, PrimerApellido and an optional SegundoApellido, or
//     RazonSocial, each at most 80 characters.
//   - TipoPersona is optional in IdCliente. Marshal accepts a customer
//     without it; when it is given, F must come with a personal name and J
//     with RazonSocial (a rule of this package, not of the schema).
//   - Identificador is 7 to 14 characters; TipoIdentificador is one of NI,
//     NV, OT, PS, NE (table 6). Telefono appears 0 to 5 times, PrefijoPais is
//     1 to 4 digits and Numero 6 to 12 digits. CorreoElectronico is optional,
//     at most 60 characters.
//   - BajaSuspension is DatosSolicitud, Cliente, an optional Contacto, IBAN
//     (at most 34 characters), Comentarios (at most 4000) and an optional
//     RegistrosDocumento. Parse accepts Contacto and RegistrosDocumento where
//     the schema puts them but keeps neither; Marshal writes neither.
//   - FechaPrevistaAccion may be present and empty (the schema's
//     date-or-nothing); Parse reads that as no date.
//   - The 02 acceptance nests its data in DatosAceptacion, and besides
//     FechaAceptacion, ActuacionCampo and FechaActivacionPrevista requires
//     FechaUltimaLecturaFirme and TipoActivacionPrevista (table 55, e.g. C0
//     "tras actuaciones en campo"): Message.LastFirmReading and
//     Message.PlannedActivationType.
//   - The 04 acceptance's root is MensajeAceptacionAnulacionBaja, its body
//     AceptacionAnulacion; HoraAceptacion is optional.
//   - The 05's body is ActivacionBaja (not ActivacionBajaSuspension):
//     DatosActivacionBaja/FechaActivacion, then Contrato/IdContrato/CodContrato
//     (up to 12 digits: Message.Contract) and PuntosDeMedida with 1 to 10
//     PuntoDeMedida, each requiring CodPM (22 characters), TipoMovimiento,
//     TipoPM, ModoLectura, Funcion, FechaVigor and FechaAlta (MeasurePoint).
//     Parse accepts the optional parts of a PuntoDeMedida (CodPMPrincipal,
//     telemetry data, FechaBaja, Aparatos with the meters and their readings,
//     Comentarios) in their place and keeps none of them.
//   - In a MensajeRechazo each Rechazo's Comentarios is required (1 to 4000
//     characters), Secuencial is a number of at most two digits, and an
//     optional RegistrosDocumento may follow the last Rechazo (accepted, not
//     kept).
//   - The schema enumerates the rejection codes of table 27; Parse and
//     Marshal accept any two capital letters or digits instead, so that a code
//     the CNMC adds after these schemas (the table already has 93 and F2 to F5,
//     which the enumeration lacks) still reaches the retailer: Classify puts
//     an unknown code in ClassOther.
//   - gestionatr's table of B1 steps also lists a MensajeRechazo at step 07
//     (the rejection after field work); Parse reads it as Rejected.
//   - Step 06 (MensajeIncidenciasATRDistribuidor, incidents in the field) is
//     not read: Parse refuses its root as unknown.
//
// Dates are xs:date, written YYYY-MM-DD and read as midnight in Madrid.
// FechaSolicitud is xs:dateTime, written YYYY-MM-DDThh:mm:ss in Madrid's
// local time; Parse also takes a zone (Z or ±hh:mm) and fractions of a second
// (dropped), and Marshal adds the zone only in the hour that Madrid's clock
// repeats when summer time ends, where the local time alone is ambiguous.
package atr

import (
	"fmt"
	"strings"
	"time"
)

// Namespace is the XML namespace of every ATR message.
const Namespace = "http://localhost/elegibilidad"

// ProcessB1 is the CNMC process of cuts and cancellations of supply.
const ProcessB1 = "B1"

// MotiveNonPayment is the B1 motive "corte de suministro por impago" (table 10).
const MotiveNonPayment = "03"

// MaxSize is the largest message Parse reads, in bytes.
const MaxSize = 1 << 20

// MaxDepth is the deepest element nesting Parse reads; the deepest part of
// a B1 message (a meter reading of a 05) is nine levels down.
const MaxDepth = 16

// Header is a message's Cabecera.
type Header struct {
	From, To    string    // REE codes, 4 digits: CodigoREEEmpresaEmisora, CodigoREEEmpresaDestino
	Process     string    // CodigoDelProceso: "B1"
	Step        string    // CodigoDePaso: "01".."05" (or "07")
	Code        string    // CodigoDeSolicitud, 12 digits
	Seq         string    // SecuencialDeSolicitud, 2 digits: "01"
	RequestedAt time.Time // FechaSolicitud, written in Europe/Madrid local time to the second
	CUPS        string    // 20 or 22 characters with valid control letters
}

// Phone is a Telefono: PrefijoPais (1 to 4 digits) and Numero (6 to 12 digits).
type Phone struct{ CountryPrefix, Number string }

// Customer is a step 01's Cliente.
type Customer struct {
	IDType, ID string // TipoIdentificador (NI, NV, OT, PS, NE: table 6), Identificador (7 to 14 characters)
	PersonType string // TipoPersona: "F" natural person, "J" legal person, or "" (optional)
	// GivenName, FirstSurname and an optional SecondSurname name a natural
	// person (NombreDePila, PrimerApellido, SegundoApellido).
	GivenName, FirstSurname, SecondSurname string
	BusinessName                           string // RazonSocial, for a legal person
	Phones                                 []Phone
	Email                                  string // CorreoElectronico, optional
}

// CutRequest is a step 01: the retailer asks the distributor to cut (or take
// down) a supply.
type CutRequest struct {
	Header
	Activation  string    // IndActivacion: A (as soon as possible), L (next reading), F (on PlannedDate)
	PlannedDate time.Time // FechaPrevistaAccion, a date; required when Activation is F
	Motive      string    // Motivo (table 10): 01, 02, 03 (MotiveNonPayment) or 04
	Customer    Customer
	IBAN        string // optional
	Comments    string // optional; Marshal cuts it to 4000 characters
}

// Cancel is a step 03: the retailer cancels its request, or asks for the
// supply back when the cut was carried out.
type Cancel struct{ Header }

// Kind tells what a message is.
type Kind string

// The kinds of B1 message.
const (
	Accepted        Kind = "accepted"         // 02 acceptance
	Rejected        Kind = "rejected"         // 02, 04 or 07 MensajeRechazo
	Activated       Kind = "activated"        // 05
	CancelAccepted  Kind = "cancel_accepted"  // 04 acceptance
	CutRequested    Kind = "cut_requested"    // 01
	CancelRequested Kind = "cancel_requested" // 03
)

// Rejection is one Rechazo: Secuencial (at most 2 digits), CodigoMotivo
// (table 27) and Comentarios (required, 1 to 4000 characters).
type Rejection struct{ Seq, Code, Comment string }

// MeasurePoint is the required part of a 05's PuntoDeMedida.
type MeasurePoint struct {
	Code       string    // CodPM, 22 letters or digits
	Movement   string    // TipoMovimiento (table 37): A alta, B baja, M modificación
	Type       string    // TipoPM (table 30): 01 to 05
	ReadMode   string    // ModoLectura (table 38): 1 to 5
	Function   string    // Funcion (table 40): C, P or R
	ValidFrom  time.Time // FechaVigor
	Registered time.Time // FechaAlta
}

// Message is any B1 message, parsed or to be written. The fields that do not
// belong to its Kind are zero when parsed and ignored when written.
type Message struct {
	Header
	Kind Kind
	// Date is FechaAceptacion (02, 04), FechaRechazo or FechaActivacion (05).
	Date time.Time
	// Time is HoraAceptacion, hh:mm:ss, of a 04 acceptance when present.
	Time string
	// PlannedActivation is FechaActivacionPrevista of a 02 acceptance (required there).
	PlannedActivation *time.Time
	// PlannedActivationType is TipoActivacionPrevista (table 55) of a 02 acceptance.
	PlannedActivationType string
	// LastFirmReading is FechaUltimaLecturaFirme of a 02 acceptance.
	LastFirmReading time.Time
	// FieldWork is ActuacionCampo (S/N) of a 02 acceptance.
	FieldWork  bool
	Rejections []Rejection
	// Request is the step 01 itself, for Kind CutRequested.
	Request *CutRequest
	// Contract is CodContrato of a 05, up to 12 digits.
	Contract string
	// Points are the PuntosDeMedida of a 05, 1 to 10.
	Points []MeasurePoint
}

// Error is a message that Parse refuses or that Marshal will not write.
type Error struct {
	Element string // path of the element from the root, e.g. "MensajeRechazo/Cabecera/CUPS"; "" for the whole input
	Reason  string
}

func (e *Error) Error() string {
	if e.Element == "" {
		return "B1 message: " + e.Reason
	}
	return e.Element + ": " + e.Reason
}

// FileName is the name a message is exchanged under: process, step, request
// code and sequence, e.g. "B1_01_000000000123_01.xml". It is unique per
// message of a request: one answer per step. Characters that are not letters
// or digits are replaced by '_', so a bad header never names a path.
func FileName(h Header) string {
	return safeName(h.Process) + "_" + safeName(h.Step) + "_" + safeName(h.Code) + "_" + safeName(h.Seq) + ".xml"
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if ('0' <= r && r <= '9') || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') {
			return r
		}
		return '_'
	}, s)
}

// codeSpan is the number of distinct 12-digit request codes.
const codeSpan = 1_000_000_000_000

// NextCode is the 12-digit CodigoDeSolicitud of a ledger sequence number,
// zero-padded: 123 is "000000000123". Numbers outside 1..999999999999 wrap
// modulo 10^12 rather than fail; a ledger does not get there.
func NextCode(seq int64) string {
	n := seq % codeSpan
	if n < 0 {
		n += codeSpan
	}
	return fmt.Sprintf("%012d", n)
}
