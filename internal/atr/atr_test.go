package atr

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elega/impagos/internal/calendar"
)

func at(y int, m time.Month, d, hh, mm, ss int) time.Time {
	return time.Date(y, m, d, hh, mm, ss, 0, calendar.Madrid)
}

func day(y int, m time.Month, d int) *time.Time {
	t := calendar.Date(y, m, d)
	return &t
}

func header(from, to, step, code, cups string, requested time.Time) Header {
	return Header{From: from, To: to, Process: ProcessB1, Step: step, Code: code, Seq: "01", RequestedAt: requested, CUPS: cups}
}

// cutRequest is the step 01 of testdata/b1_01_cut_request.xml.
func cutRequest() CutRequest {
	return CutRequest{
		Header:      header("0762", "0390", "01", "000000004187", "ES0390412903576118RC", at(2026, 3, 9, 10, 15, 2)),
		Activation:  "F",
		PlannedDate: *day(2026, 3, 17),
		Motive:      MotiveNonPayment,
		Customer: Customer{
			IDType: "NI", ID: "47382915V", PersonType: "F",
			GivenName: "Encarnación", FirstSurname: "Ruiz", SecondSurname: "Gallardo",
			Phones: []Phone{{"34", "612408337"}, {"34", "958214460"}},
			Email:  "encarna.ruiz@correo.example",
		},
		IBAN:     "ES9530580917428310264519",
		Comments: "Facturas 2025/11 y 2025/12 impagadas; requerimiento fehaciente entregado el 2026-01-20.",
	}
}

func cutRequestMessage(r CutRequest) Message {
	return Message{Header: r.Header, Kind: CutRequested, Request: &r}
}

// fixtures are the files of testdata/ and what each must read as.
func fixtures() map[string]Message {
	company := CutRequest{
		Header:      header("0762", "0390", "01", "000000004188", "ES0390088120045731QJ1F", at(2026, 3, 9, 10, 15, 7)),
		Activation:  "F",
		PlannedDate: *day(2026, 3, 18),
		Motive:      MotiveNonPayment,
		Customer: Customer{
			IDType: "NI", ID: "B82640194", PersonType: "J",
			BusinessName: "Panadería La Espiga de Núñez S.L.",
			Phones:       []Phone{{"34", "953117240"}},
		},
	}
	return map[string]Message{
		"b1_01_cut_request.xml":         cutRequestMessage(cutRequest()),
		"b1_01_cut_request_company.xml": cutRequestMessage(company),
		"b1_02_accepted.xml": {
			Header:                header("0390", "0762", "02", "000000004187", "ES0390412903576118RC", at(2026, 3, 10, 8, 2, 41)),
			Kind:                  Accepted,
			Date:                  *day(2026, 3, 10),
			FieldWork:             true,
			LastFirmReading:       *day(2026, 2, 28),
			PlannedActivationType: "C0",
			PlannedActivation:     day(2026, 3, 17),
		},
		"b1_02_rejected.xml": {
			Header: header("0390", "0762", "02", "000000004188", "ES0390088120045731QJ1F", at(2026, 3, 10, 8, 2, 55)),
			Kind:   Rejected,
			Date:   *day(2026, 3, 10),
			Rejections: []Rejection{
				{"1", "D1", "Suministro acogido a bono social desde 2025-10-01"},
				{"2", "32", "Suministro esencial: obrador con cámara de conservación de alimentos"},
			},
		},
		"b1_03_cancel.xml": {
			Header: header("0762", "0390", "03", "000000004187", "ES0390412903576118RC", at(2026, 3, 18, 12, 40, 19)),
			Kind:   CancelRequested,
		},
		"b1_04_cancel_accepted.xml": {
			Header: header("0390", "0762", "04", "000000004187", "ES0390412903576118RC", at(2026, 3, 18, 13, 5, 44)),
			Kind:   CancelAccepted,
			Date:   *day(2026, 3, 18),
			Time:   "13:05:44",
		},
		"b1_04_rejected.xml": {
			Header:     header("0390", "0762", "04", "000000004190", "ES0390705316624092MP", at(2026, 3, 19, 9, 11, 30)),
			Kind:       Rejected,
			Date:       *day(2026, 3, 19),
			Rejections: []Rejection{{"01", "C2", "Acometida dañada tras el corte; reenganche pendiente de reparación"}},
		},
		"b1_05_activated.xml": {
			Header:   header("0390", "0762", "05", "000000004187", "ES0390412903576118RC", at(2026, 3, 17, 15, 27, 9)),
			Kind:     Activated,
			Date:     *day(2026, 3, 17),
			Contract: "208811",
			Points: []MeasurePoint{{
				Code: "ES0390412903576118RC0F", Movement: "M", Type: "05", ReadMode: "4", Function: "P",
				ValidFrom: *day(2026, 3, 17), Registered: *day(2019, 6, 4),
			}},
		},
		"b1_07_rejected.xml": {
			Header:     header("0390", "0762", "07", "000000004191", "ES0390310877245916PH", at(2026, 3, 24, 17, 48, 3)),
			Kind:       Rejected,
			Date:       *day(2026, 3, 24),
			Rejections: []Rejection{{"1", "C4", "Caja general de protección en mal estado: desconexión peligrosa"}},
		},
	}
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return data
}

func TestFixtures_ReadAsExpectedAndWriteBackTheSame(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.xml"))
	require.NoError(t, err)
	want := fixtures()
	require.Len(t, files, len(want), "every fixture has its expected message")
	for name, msg := range want {
		t.Run(name, func(t *testing.T) {
			got, err := Parse(readFixture(t, name))
			require.NoError(t, err)
			require.Equal(t, msg, got)

			out, err := Marshal(got)
			require.NoError(t, err)
			again, err := Parse(out)
			require.NoError(t, err, "%s", out)
			require.Equal(t, got, again)
		})
	}
}

func TestFixtures_CoverEveryKind(t *testing.T) {
	seen := map[Kind]bool{}
	for _, m := range fixtures() {
		seen[m.Kind] = true
	}
	for _, k := range []Kind{Accepted, Rejected, Activated, CancelAccepted, CutRequested, CancelRequested} {
		require.True(t, seen[k], "no fixture of kind %s", k)
	}
}

func TestMarshal_WritesIndentedUTF8WithTheNamespace(t *testing.T) {
	out, err := MarshalCancel(Cancel{header("0762", "0390", "03", "000000000123", "ES0390412903576118RC", at(2026, 3, 18, 12, 40, 19))})
	require.NoError(t, err)
	want := `<?xml version="1.0" encoding="UTF-8"?>
<MensajeAnulacionSolicitud xmlns="http://localhost/elegibilidad">
  <Cabecera>
    <CodigoREEEmpresaEmisora>0762</CodigoREEEmpresaEmisora>
    <CodigoREEEmpresaDestino>0390</CodigoREEEmpresaDestino>
    <CodigoDelProceso>B1</CodigoDelProceso>
    <CodigoDePaso>03</CodigoDePaso>
    <CodigoDeSolicitud>000000000123</CodigoDeSolicitud>
    <SecuencialDeSolicitud>01</SecuencialDeSolicitud>
    <FechaSolicitud>2026-03-18T12:40:19</FechaSolicitud>
    <CUPS>ES0390412903576118RC</CUPS>
  </Cabecera>
</MensajeAnulacionSolicitud>
`
	require.Equal(t, want, string(out))
}

// TestRoundTrip_EveryKind writes each kind from Go values and reads it back.
func TestRoundTrip_EveryKind(t *testing.T) {
	legal := cutRequest()
	legal.Customer = Customer{IDType: "NI", ID: "B82640194", PersonType: "J", BusinessName: "Talleres Ocaña S.A."}
	legal.IBAN, legal.Comments = "", ""
	asap := cutRequest()
	asap.Activation, asap.PlannedDate = "A", time.Time{}
	asap.Customer.PersonType = ""
	asap.Comments = "línea 1\nlínea 2\r\n\ttabulada & <marcada>"
	// 02:30 on 2026-10-25 happens twice in Madrid; this is the first, in
	// summer time, which the local time alone would not bring back.
	repeated := time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC)
	tests := map[string]Message{
		"01 natural person": cutRequestMessage(cutRequest()),
		"01 legal person":   cutRequestMessage(legal),
		"01 as soon as possible, comments kept as written": cutRequestMessage(asap),
		"02 accepted without field work": {
			Header: header("0390", "0762", "02", "000000000001", "ES0390009051277340XL", at(2026, 1, 2, 0, 0, 0)),
			Kind:   Accepted, Date: *day(2026, 1, 2), LastFirmReading: *day(2025, 12, 31),
			PlannedActivationType: "F0", PlannedActivation: day(2026, 1, 7),
		},
		"02 rejected": {
			Header: header("0390", "0762", "02", "999999999999", "ES0390009051277340XL", at(2026, 7, 1, 23, 59, 59)),
			Kind:   Rejected, Date: *day(2026, 7, 1),
			Rejections: []Rejection{{"1", "83", "Pobreza energética"}, {"2", "ZZ", "Código que la tabla aún no tiene"}},
		},
		"03 in the repeated hour": {
			Header: header("0762", "0390", "03", "000000000002", "ES0390009051277340XL", repeated.In(calendar.Madrid)),
			Kind:   CancelRequested,
		},
		"04 accepted without time": {
			Header: header("0390", "0762", "04", "000000000003", "ES0390009051277340XL", at(2026, 2, 3, 4, 5, 6)),
			Kind:   CancelAccepted, Date: *day(2026, 2, 3),
		},
		"04 rejected": {
			Header: header("0390", "0762", "04", "000000000004", "ES0390009051277340XL", at(2026, 2, 3, 4, 5, 6)),
			Kind:   Rejected, Date: *day(2026, 2, 3), Rejections: []Rejection{{"01", "C2", "Imposible reenganchar por causas técnicas"}},
		},
		"05 with two measure points": {
			Header: header("0390", "0762", "05", "000000000005", "ES0390009051277340XL", at(2026, 3, 17, 9, 0, 0)),
			Kind:   Activated, Date: *day(2026, 3, 17), Contract: "000000000005",
			Points: []MeasurePoint{
				{Code: "ES0390009051277340XL0F", Movement: "M", Type: "05", ReadMode: "4", Function: "P", ValidFrom: *day(2026, 3, 17), Registered: *day(2010, 1, 1)},
				{Code: "ES0390009051277340XL1P", Movement: "B", Type: "03", ReadMode: "1", Function: "C", ValidFrom: *day(2026, 3, 17), Registered: *day(2011, 5, 9)},
			},
		},
	}
	for name, m := range tests {
		t.Run(name, func(t *testing.T) {
			out, err := Marshal(m)
			require.NoError(t, err)
			got, err := Parse(out)
			require.NoError(t, err, "%s", out)
			require.Equal(t, m, got)
		})
	}
	out, err := Marshal(tests["03 in the repeated hour"])
	require.NoError(t, err)
	require.Contains(t, string(out), "<FechaSolicitud>2026-10-25T02:30:00+02:00</FechaSolicitud>", "the ambiguous local time carries its offset")
}

func TestMarshalCutRequest_CutsCommentsToTheSchemasLength(t *testing.T) {
	r := cutRequest()
	r.Comments = strings.Repeat("ñ", maxComment+50)
	out, err := MarshalCutRequest(r)
	require.NoError(t, err)
	got, err := Parse(out)
	require.NoError(t, err)
	require.Equal(t, strings.Repeat("ñ", maxComment), got.Request.Comments)
}

func TestMarshal_CollapsesWhiteSpaceWhereTheSchemaDoes(t *testing.T) {
	r := cutRequest()
	r.Customer.GivenName = "  María\tdel \n Mar "
	out, err := MarshalCutRequest(r)
	require.NoError(t, err)
	require.Contains(t, string(out), "<NombreDePila>María del Mar</NombreDePila>")
}

// requireError checks that err is an *Error naming element.
func requireError(t *testing.T, err error, element string) {
	t.Helper()
	require.Error(t, err)
	var e *Error
	require.True(t, errors.As(err, &e), "not an *Error: %v", err)
	require.Equal(t, element, e.Element, "error: %v", err)
	require.NotEmpty(t, e.Reason)
	if element != "" {
		require.Contains(t, err.Error(), element)
	}
}

func TestMarshalCutRequest_RefusesNamingTheElement(t *testing.T) {
	const base = "MensajeBajaSuspension/"
	const client = base + "BajaSuspension/Cliente/"
	tests := []struct {
		name    string
		change  func(*CutRequest)
		element string
	}{
		{"activation F without date", func(r *CutRequest) { r.PlannedDate = time.Time{} }, base + "BajaSuspension/DatosSolicitud/FechaPrevistaAccion"},
		{"11-digit request code", func(r *CutRequest) { r.Code = "00000004187" }, base + "Cabecera/CodigoDeSolicitud"},
		{"letter in request code", func(r *CutRequest) { r.Code = "00000000418A" }, base + "Cabecera/CodigoDeSolicitud"},
		{"CUPS control letters wrong", func(r *CutRequest) { r.CUPS = "ES0390412903576118RD" }, base + "Cabecera/CUPS"},
		{"CUPS too short", func(r *CutRequest) { r.CUPS = "ES0390412903576118R" }, base + "Cabecera/CUPS"},
		{"CUPS missing", func(r *CutRequest) { r.CUPS = "" }, base + "Cabecera/CUPS"},
		{"unknown motive", func(r *CutRequest) { r.Motive = "05" }, base + "BajaSuspension/DatosSolicitud/Motivo"},
		{"unknown activation", func(r *CutRequest) { r.Activation = "X" }, base + "BajaSuspension/DatosSolicitud/IndActivacion"},
		{"given name too long", func(r *CutRequest) { r.Customer.GivenName = strings.Repeat("a", 81) }, client + "Nombre/NombreDePila"},
		{"business name too long", func(r *CutRequest) {
			r.Customer = Customer{IDType: "NI", ID: "B82640194", BusinessName: strings.Repeat("S", 81)}
		}, client + "Nombre/RazonSocial"},
		{"no first surname", func(r *CutRequest) { r.Customer.FirstSurname = "" }, client + "Nombre/PrimerApellido"},
		{"no name at all", func(r *CutRequest) {
			r.Customer.GivenName, r.Customer.FirstSurname, r.Customer.SecondSurname = "", "", ""
		}, client + "Nombre"},
		{"both a personal name and a business name", func(r *CutRequest) { r.Customer.BusinessName = "Ruiz S.L." }, client + "Nombre"},
		{"legal person with a personal name", func(r *CutRequest) { r.Customer.PersonType = "J" }, client + "Nombre/NombreDePila"},
		{"natural person with a business name", func(r *CutRequest) {
			r.Customer.GivenName, r.Customer.FirstSurname, r.Customer.SecondSurname = "", "", ""
			r.Customer.BusinessName = "Ruiz S.L."
		}, client + "Nombre/RazonSocial"},
		{"unknown person type", func(r *CutRequest) { r.Customer.PersonType = "X" }, client + "IdCliente/TipoPersona"},
		{"unknown id type", func(r *CutRequest) { r.Customer.IDType = "DNI" }, client + "IdCliente/TipoIdentificador"},
		{"id too short", func(r *CutRequest) { r.Customer.ID = "12345Z" }, client + "IdCliente/Identificador"},
		{"id too long", func(r *CutRequest) { r.Customer.ID = "123456789012345" }, client + "IdCliente/Identificador"},
		{"six phones", func(r *CutRequest) {
			for len(r.Customer.Phones) < 6 {
				r.Customer.Phones = append(r.Customer.Phones, Phone{"34", "600000000"})
			}
		}, client + "Telefono"},
		{"phone number with a space", func(r *CutRequest) { r.Customer.Phones[0].Number = "612 408 337" }, client + "Telefono/Numero"},
		{"phone prefix with a plus", func(r *CutRequest) { r.Customer.Phones[1].CountryPrefix = "+34" }, client + "Telefono/PrefijoPais"},
		{"e-mail too long", func(r *CutRequest) { r.Customer.Email = strings.Repeat("x", 50) + "@example.com" }, client + "CorreoElectronico"},
		{"IBAN too long", func(r *CutRequest) { r.IBAN = strings.Repeat("9", 35) }, base + "BajaSuspension/IBAN"},
		{"character XML cannot carry", func(r *CutRequest) { r.Comments = "fin\x00" }, base + "BajaSuspension/Comentarios"},
		{"three-digit sender", func(r *CutRequest) { r.From = "762" }, base + "Cabecera/CodigoREEEmpresaEmisora"},
		{"no receiver", func(r *CutRequest) { r.To = "" }, base + "Cabecera/CodigoREEEmpresaDestino"},
		{"one-digit sequence", func(r *CutRequest) { r.Seq = "1" }, base + "Cabecera/SecuencialDeSolicitud"},
		{"no request time", func(r *CutRequest) { r.RequestedAt = time.Time{} }, base + "Cabecera/FechaSolicitud"},
		{"year 10000", func(r *CutRequest) { r.PlannedDate = calendar.Date(10000, 1, 1) }, base + "BajaSuspension/DatosSolicitud/FechaPrevistaAccion"},
		{"another process", func(r *CutRequest) { r.Process = "C1" }, base + "Cabecera/CodigoDelProceso"},
		{"unknown process", func(r *CutRequest) { r.Process = "B9" }, base + "Cabecera/CodigoDelProceso"},
		{"step of an answer", func(r *CutRequest) { r.Step = "02" }, base + "Cabecera/CodigoDePaso"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := cutRequest()
			r.Customer.Phones = append([]Phone(nil), r.Customer.Phones...)
			tt.change(&r)
			out, err := MarshalCutRequest(r)
			require.Nil(t, out)
			requireError(t, err, tt.element)
		})
	}
}

func TestMarshal_RefusesAnswersMissingWhatTheSchemaRequires(t *testing.T) {
	h := func(step string) Header {
		return header("0390", "0762", step, "000000000007", "ES0390009051277340XL", at(2026, 3, 10, 8, 0, 0))
	}
	point := MeasurePoint{Code: "ES0390009051277340XL0F", Movement: "M", Type: "05", ReadMode: "4", Function: "P", ValidFrom: *day(2026, 3, 17), Registered: *day(2010, 1, 1)}
	elevenPoints := make([]MeasurePoint, 11)
	for i := range elevenPoints {
		elevenPoints[i] = point
	}
	tests := []struct {
		name    string
		m       Message
		element string
	}{
		{"rejection without Rechazo", Message{Header: h("02"), Kind: Rejected, Date: *day(2026, 3, 10)}, "MensajeRechazo/Rechazos/Rechazo"},
		{"rejection without comment", Message{Header: h("02"), Kind: Rejected, Date: *day(2026, 3, 10), Rejections: []Rejection{{"1", "32", ""}}}, "MensajeRechazo/Rechazos/Rechazo/Comentarios"},
		{"rejection with a long code", Message{Header: h("02"), Kind: Rejected, Date: *day(2026, 3, 10), Rejections: []Rejection{{"1", "032", "x"}}}, "MensajeRechazo/Rechazos/Rechazo/CodigoMotivo"},
		{"rejection at step 03", Message{Header: h("03"), Kind: Rejected, Date: *day(2026, 3, 10), Rejections: []Rejection{{"1", "32", "x"}}}, "MensajeRechazo/Cabecera/CodigoDePaso"},
		{"rejection without date", Message{Header: h("02"), Kind: Rejected, Rejections: []Rejection{{"1", "32", "x"}}}, "MensajeRechazo/Rechazos/FechaRechazo"},
		{"acceptance without planned activation", Message{Header: h("02"), Kind: Accepted, Date: *day(2026, 3, 10), LastFirmReading: *day(2026, 3, 1), PlannedActivationType: "C0"},
			"MensajeAceptacionBajaSuspension/AceptacionBajaSuspension/DatosAceptacion/FechaActivacionPrevista"},
		{"acceptance with unknown activation type", Message{Header: h("02"), Kind: Accepted, Date: *day(2026, 3, 10), LastFirmReading: *day(2026, 3, 1), PlannedActivationType: "Z9", PlannedActivation: day(2026, 3, 17)},
			"MensajeAceptacionBajaSuspension/AceptacionBajaSuspension/DatosAceptacion/TipoActivacionPrevista"},
		{"activation without measure point", Message{Header: h("05"), Kind: Activated, Date: *day(2026, 3, 17), Contract: "1"}, "MensajeActivacionBajaSuspension/ActivacionBaja/PuntosDeMedida/PuntoDeMedida"},
		{"activation with eleven measure points", Message{Header: h("05"), Kind: Activated, Date: *day(2026, 3, 17), Contract: "1", Points: elevenPoints}, "MensajeActivacionBajaSuspension/ActivacionBaja/PuntosDeMedida/PuntoDeMedida"},
		{"activation with a 13-digit contract", Message{Header: h("05"), Kind: Activated, Date: *day(2026, 3, 17), Contract: "1234567890123", Points: []MeasurePoint{point}},
			"MensajeActivacionBajaSuspension/ActivacionBaja/Contrato/IdContrato/CodContrato"},
		{"activation at step 04", Message{Header: h("04"), Kind: Activated, Date: *day(2026, 3, 17), Contract: "1", Points: []MeasurePoint{point}}, "MensajeActivacionBajaSuspension/Cabecera/CodigoDePaso"},
		{"cancel acceptance with a bad time", Message{Header: h("04"), Kind: CancelAccepted, Date: *day(2026, 3, 10), Time: "25:00:00"}, "MensajeAceptacionAnulacionBaja/AceptacionAnulacion/HoraAceptacion"},
		{"cut request without Request", Message{Header: h("01"), Kind: CutRequested}, "MensajeBajaSuspension"},
		{"unknown kind", Message{Header: h("02"), Kind: "refused"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := Marshal(tt.m)
			require.Nil(t, out)
			requireError(t, err, tt.element)
		})
	}
}

func TestFileName_ProcessStepCodeAndSequence(t *testing.T) {
	h := header("0762", "0390", "01", "000000000123", "ES0390412903576118RC", at(2026, 3, 9, 10, 15, 2))
	require.Equal(t, "B1_01_000000000123_01.xml", FileName(h))
	h.Step = "05"
	require.Equal(t, "B1_05_000000000123_01.xml", FileName(h))
	require.Equal(t, "B1_01_______etc_pw_01.xml", FileName(Header{Process: "B1", Step: "01", Code: "../../etc/pw", Seq: "01"}), "never a path")
}

func TestNextCode_TwelveZeroPaddedDigits(t *testing.T) {
	tests := map[int64]string{
		1:                    "000000000001",
		123:                  "000000000123",
		999999999999:         "999999999999",
		1000000000000:        "000000000000",
		1000000000001:        "000000000001",
		-1:                   "999999999999",
		-9223372036854775808: "963145224192",
		9223372036854775807:  "036854775807",
	}
	for seq, want := range tests {
		got := NextCode(seq)
		require.Equal(t, want, got, "NextCode(%d)", seq)
		require.Empty(t, digits(12, 12)(got))
	}
}
