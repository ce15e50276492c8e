package atr

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// edit replaces old by new in a fixture, exactly once.
func edit(t *testing.T, name, old, new string) []byte {
	t.Helper()
	data := string(readFixture(t, name))
	require.Equal(t, 1, strings.Count(data, old), "%q in %s", old, name)
	return []byte(strings.Replace(data, old, new, 1))
}

func TestParse_RefusesNamingTheElement(t *testing.T) {
	const cut = "b1_01_cut_request.xml"
	const head = "MensajeBajaSuspension/Cabecera/"
	const datos = "MensajeBajaSuspension/BajaSuspension/DatosSolicitud/"
	deep := `<MensajeAnulacionSolicitud xmlns="http://localhost/elegibilidad">` + strings.Repeat("<Cabecera>", MaxDepth) + strings.Repeat("</Cabecera>", MaxDepth) + `</MensajeAnulacionSolicitud>`
	tests := []struct {
		name    string
		data    []byte
		element string
	}{
		{"wrong namespace", edit(t, cut, `xmlns="http://localhost/elegibilidad"`, `xmlns="http://localhost/elegibilidad2"`), "MensajeBajaSuspension"},
		{"no namespace", edit(t, cut, ` xmlns="http://localhost/elegibilidad"`, ``), "MensajeBajaSuspension"},
		{"child in another namespace", edit(t, cut, `<Motivo>`, `<Motivo xmlns="urn:other">`), datos + "Motivo"},
		{"unknown root", []byte(`<MensajeIncidenciasATRDistribuidor xmlns="http://localhost/elegibilidad"/>`), "MensajeIncidenciasATRDistribuidor"},
		{"extra element", edit(t, cut, `<Motivo>03</Motivo>`, `<Motivo>03</Motivo><Urgente>S</Urgente>`), datos + "Urgente"},
		{"element out of place", edit(t, cut, "<IndActivacion>F</IndActivacion>\n      <FechaPrevistaAccion>2026-03-17</FechaPrevistaAccion>",
			"<FechaPrevistaAccion>2026-03-17</FechaPrevistaAccion>\n      <IndActivacion>F</IndActivacion>"), datos + "IndActivacion"},
		{"optional element out of place", edit(t, cut, "<FechaPrevistaAccion>2026-03-17</FechaPrevistaAccion>\n      <Motivo>03</Motivo>",
			"<Motivo>03</Motivo>\n      <FechaPrevistaAccion>2026-03-17</FechaPrevistaAccion>"), datos + "FechaPrevistaAccion"},
		{"header fields swapped", edit(t, cut, "<FechaSolicitud>2026-03-09T10:15:02</FechaSolicitud>\n    <CUPS>ES0390412903576118RC</CUPS>",
			"<CUPS>ES0390412903576118RC</CUPS>\n    <FechaSolicitud>2026-03-09T10:15:02</FechaSolicitud>"), head + "FechaSolicitud"},
		{"missing element", edit(t, cut, "<Motivo>03</Motivo>", ""), datos + "Motivo"},
		{"repeated element", edit(t, cut, "<Motivo>03</Motivo>", "<Motivo>03</Motivo><Motivo>03</Motivo>"), datos + "Motivo"},
		{"activation F without date", edit(t, cut, "<FechaPrevistaAccion>2026-03-17</FechaPrevistaAccion>", "<FechaPrevistaAccion/>"), datos + "FechaPrevistaAccion"},
		{"truncated", readFixture(t, cut)[:900], "MensajeBajaSuspension/BajaSuspension/Cliente/IdCliente"},
		{"truncated at the end", bytes.TrimSpace(readFixture(t, cut))[:len(bytes.TrimSpace(readFixture(t, cut)))-3], "MensajeBajaSuspension"},
		{"too big", append(readFixture(t, cut), bytes.Repeat([]byte(" "), MaxSize)...), ""},
		{"too deep", []byte(deep), "MensajeAnulacionSolicitud" + strings.Repeat("/Cabecera", MaxDepth-1)},
		{"step does not match the root", edit(t, cut, "<CodigoDePaso>01</CodigoDePaso>", "<CodigoDePaso>03</CodigoDePaso>"), head + "CodigoDePaso"},
		{"acceptance at step 05", edit(t, "b1_02_accepted.xml", "<CodigoDePaso>02</CodigoDePaso>", "<CodigoDePaso>05</CodigoDePaso>"), "MensajeAceptacionBajaSuspension/Cabecera/CodigoDePaso"},
		{"process not B1", edit(t, cut, "<CodigoDelProceso>B1</CodigoDelProceso>", "<CodigoDelProceso>C1</CodigoDelProceso>"), head + "CodigoDelProceso"},
		{"rejection without Rechazo", edit(t, "b1_04_rejected.xml", readRechazo(t), ""), "MensajeRechazo/Rechazos/Rechazo"},
		{"rejection without comment", edit(t, "b1_04_rejected.xml", "<Comentarios>Acometida dañada tras el corte; reenganche pendiente de reparación</Comentarios>", ""), "MensajeRechazo/Rechazos/Rechazo/Comentarios"},
		{"11-digit request code", edit(t, cut, "<CodigoDeSolicitud>000000004187</CodigoDeSolicitud>", "<CodigoDeSolicitud>00000004187</CodigoDeSolicitud>"), head + "CodigoDeSolicitud"},
		{"bad CUPS", edit(t, cut, "<CUPS>ES0390412903576118RC</CUPS>", "<CUPS>ES0390412903576118CR</CUPS>"), head + "CUPS"},
		{"CUPS with spaces around", edit(t, cut, "<CUPS>ES0390412903576118RC</CUPS>", "<CUPS> ES0390412903576118RC </CUPS>"), head + "CUPS"},
		{"bad date", edit(t, cut, "2026-03-17", "2026-02-30"), datos + "FechaPrevistaAccion"},
		{"date with slashes", edit(t, cut, "2026-03-17", "17/03/2026"), datos + "FechaPrevistaAccion"},
		{"bad date-time", edit(t, cut, "2026-03-09T10:15:02", "2026-03-09 10:15:02"), head + "FechaSolicitud"},
		{"date-time with a bad zone", edit(t, cut, "2026-03-09T10:15:02", "2026-03-09T10:15:02+1"), head + "FechaSolicitud"},
		{"name too long", edit(t, cut, "<NombreDePila>Encarnación</NombreDePila>", "<NombreDePila>"+strings.Repeat("n", 81)+"</NombreDePila>"), "MensajeBajaSuspension/BajaSuspension/Cliente/Nombre/NombreDePila"},
		{"both kinds of name", edit(t, cut, "<SegundoApellido>Gallardo</SegundoApellido>", "<SegundoApellido>Gallardo</SegundoApellido><RazonSocial>X</RazonSocial>"), "MensajeBajaSuspension/BajaSuspension/Cliente/Nombre/RazonSocial"},
		{"empty name", edit(t, cut, "<NombreDePila>Encarnación</NombreDePila>\n        <PrimerApellido>Ruiz</PrimerApellido>\n        <SegundoApellido>Gallardo</SegundoApellido>", ""), "MensajeBajaSuspension/BajaSuspension/Cliente/Nombre"},
		{"unknown motive", edit(t, cut, "<Motivo>03</Motivo>", "<Motivo>3</Motivo>"), datos + "Motivo"},
		{"attribute", edit(t, cut, "<Motivo>", `<Motivo tipo="corte">`), datos + "Motivo"},
		{"element inside a value", edit(t, cut, "<Motivo>03</Motivo>", "<Motivo><b>03</b></Motivo>"), datos + "Motivo/b"},
		{"text inside a group", edit(t, cut, "<DatosSolicitud>", "<DatosSolicitud>urgente"), "MensajeBajaSuspension/BajaSuspension/DatosSolicitud"},
		{"DOCTYPE", edit(t, cut, `<?xml version="1.0" encoding="UTF-8"?>`, `<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE x [<!ENTITY e "e">]>`), ""},
		{"processing instruction", edit(t, cut, "<Cabecera>", "<?php echo 1; ?><Cabecera>"), "MensajeBajaSuspension"},
		{"text after the root", append(readFixture(t, cut), []byte("fin")...), ""},
		{"second root", append(readFixture(t, "b1_03_cancel.xml"), readFixture(t, "b1_03_cancel.xml")[39:]...), "MensajeAnulacionSolicitud"},
		{"unsupported encoding", edit(t, cut, `encoding="UTF-8"`, `encoding="UTF-16"`), ""},
		{"invalid UTF-8", edit(t, cut, "Encarnación", "Encarnaci\xf3n"), "MensajeBajaSuspension/BajaSuspension/Cliente/Nombre/NombreDePila"},
		{"empty", nil, ""},
		{"not XML", []byte("B1;01;000000004187"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse(tt.data)
			requireError(t, err, tt.element)
			require.Equal(t, Message{}, m)
		})
	}
}

// readRechazo is the one Rechazo of b1_04_rejected.xml.
func readRechazo(t *testing.T) string {
	data := string(readFixture(t, "b1_04_rejected.xml"))
	i, j := strings.Index(data, "<Rechazo>"), strings.Index(data, "</Rechazo>")
	require.True(t, i > 0 && j > i)
	return data[i : j+len("</Rechazo>")]
}

func TestParse_AcceptsWhatTheSchemaAllowsAndKeepsNoneOfIt(t *testing.T) {
	base, err := Parse(readFixture(t, "b1_05_activated.xml"))
	require.NoError(t, err)
	tests := map[string][]byte{
		"without the optional parts of a measure point": edit(t, "b1_05_activated.xml", "<TensionPM>230</TensionPM>", ""),
		"with a comment and a BOM":                      append([]byte("\xef\xbb\xbf<!-- enviado por el distribuidor -->\n"), readFixture(t, "b1_05_activated.xml")[39:]...),
		"with a fraction of a second":                   edit(t, "b1_05_activated.xml", "2026-03-17T15:27:09", "2026-03-17T15:27:09.250"),
		"with a zone":                                   edit(t, "b1_05_activated.xml", "2026-03-17T15:27:09", "2026-03-17T14:27:09Z"),
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := Parse(data)
			require.NoError(t, err)
			require.Equal(t, base, got)
		})
	}
}

func TestParse_EmptyPlannedDateIsNoDate(t *testing.T) {
	data := edit(t, "b1_01_cut_request.xml", "<IndActivacion>F</IndActivacion>\n      <FechaPrevistaAccion>2026-03-17</FechaPrevistaAccion>",
		"<IndActivacion>A</IndActivacion>\n      <FechaPrevistaAccion></FechaPrevistaAccion>")
	m, err := Parse(data)
	require.NoError(t, err)
	require.True(t, m.Request.PlannedDate.IsZero())
	require.Equal(t, "A", m.Request.Activation)
}

// FuzzParse: Parse never panics, and whatever it accepts Marshal writes and
// Parse reads back as the same message.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.xml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`<MensajeAnulacionSolicitud xmlns="http://localhost/elegibilidad"><Cabecera/></MensajeAnulacionSolicitud>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %T is not an *Error: %v", err, err)
			}
			return
		}
		out, err := Marshal(m)
		if err != nil {
			t.Fatalf("Parse accepted what Marshal refuses: %v\n%q", err, data)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("Marshal wrote what Parse refuses: %v\n%s", err, out)
		}
		require.Equal(t, m, again)
	})
}
