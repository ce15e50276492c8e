package atr

import (
	"fmt"
	"slices"
	"time"
)

// Parse reads a B1 message, strictly: an unknown root, an element unknown,
// missing, repeated or out of its place, a value of the wrong length or
// shape, a bad date, another namespace, a process other than B1, a step that
// does not go with the root, input over MaxSize or nested deeper than
// MaxDepth all give an *Error naming the element.
func Parse(data []byte) (Message, error) {
	root, err := readTree(data)
	if err != nil {
		return Message{}, err
	}
	r, ok := roots[root.name]
	if !ok {
		return Message{}, &Error{Element: root.name, Reason: "not a B1 message this package reads"}
	}
	if err := validate(root.name, r.spec, root); err != nil {
		return Message{}, err
	}
	// From here on every value has been checked, so the conversions below
	// cannot fail.
	m := Message{Header: readHeader(root.child("Cabecera")), Kind: r.kind}
	switch r.kind {
	case CutRequested:
		m.Request = readCutRequest(m.Header, root.child("BajaSuspension"))
	case Accepted:
		d := root.child("AceptacionBajaSuspension").child("DatosAceptacion")
		m.Date = date(d.str("FechaAceptacion"))
		m.FieldWork = d.str("ActuacionCampo") == "S"
		m.LastFirmReading = date(d.str("FechaUltimaLecturaFirme"))
		m.PlannedActivationType = d.str("TipoActivacionPrevista")
		planned := date(d.str("FechaActivacionPrevista"))
		m.PlannedActivation = &planned
	case Rejected:
		rs := root.child("Rechazos")
		m.Date = date(rs.str("FechaRechazo"))
		for _, r := range rs.all("Rechazo") {
			m.Rejections = append(m.Rejections, Rejection{Seq: r.str("Secuencial"), Code: r.str("CodigoMotivo"), Comment: r.str("Comentarios")})
		}
	case CancelAccepted:
		a := root.child("AceptacionAnulacion")
		m.Date = date(a.str("FechaAceptacion"))
		m.Time = a.str("HoraAceptacion")
	case Activated:
		a := root.child("ActivacionBaja")
		m.Date = date(a.child("DatosActivacionBaja").str("FechaActivacion"))
		m.Contract = a.child("Contrato").child("IdContrato").str("CodContrato")
		for _, p := range a.child("PuntosDeMedida").all("PuntoDeMedida") {
			m.Points = append(m.Points, MeasurePoint{
				Code:       p.str("CodPM"),
				Movement:   p.str("TipoMovimiento"),
				Type:       p.str("TipoPM"),
				ReadMode:   p.str("ModoLectura"),
				Function:   p.str("Funcion"),
				ValidFrom:  date(p.str("FechaVigor")),
				Registered: date(p.str("FechaAlta")),
			})
		}
	}
	if err := checkRules(m, root.name); err != nil {
		return Message{}, err
	}
	return m, nil
}

// date converts a checked date; "" is the zero time.
func date(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, _ := parseDate(s)
	return t
}

func readHeader(c *node) Header {
	at, _ := parseDateTime(c.str("FechaSolicitud"))
	return Header{
		From:        c.str("CodigoREEEmpresaEmisora"),
		To:          c.str("CodigoREEEmpresaDestino"),
		Process:     c.str("CodigoDelProceso"),
		Step:        c.str("CodigoDePaso"),
		Code:        c.str("CodigoDeSolicitud"),
		Seq:         c.str("SecuencialDeSolicitud"),
		RequestedAt: at,
		CUPS:        c.str("CUPS"),
	}
}

func readCutRequest(h Header, b *node) *CutRequest {
	d := b.child("DatosSolicitud")
	c := b.child("Cliente")
	id, name := c.child("IdCliente"), c.child("Nombre")
	r := &CutRequest{
		Header:      h,
		Activation:  d.str("IndActivacion"),
		PlannedDate: date(d.str("FechaPrevistaAccion")),
		Motive:      d.str("Motivo"),
		Customer: Customer{
			IDType:        id.str("TipoIdentificador"),
			ID:            id.str("Identificador"),
			PersonType:    id.str("TipoPersona"),
			GivenName:     name.str("NombreDePila"),
			FirstSurname:  name.str("PrimerApellido"),
			SecondSurname: name.str("SegundoApellido"),
			BusinessName:  name.str("RazonSocial"),
			Email:         c.str("CorreoElectronico"),
		},
		IBAN:     b.str("IBAN"),
		Comments: b.str("Comentarios"),
	}
	for _, p := range c.all("Telefono") {
		r.Customer.Phones = append(r.Customer.Phones, Phone{CountryPrefix: p.str("PrefijoPais"), Number: p.str("Numero")})
	}
	return r
}

// checkRules holds what the schemas cannot say, for Parse and Marshal alike.
func checkRules(m Message, root string) error {
	if m.Process != ProcessB1 {
		return &Error{Element: root + "/Cabecera/CodigoDelProceso", Reason: fmt.Sprintf("process %s, not %s", m.Process, ProcessB1)}
	}
	if steps := roots[root].steps; !slices.Contains(steps, m.Step) {
		return &Error{Element: root + "/Cabecera/CodigoDePaso", Reason: fmt.Sprintf("step %s does not go with %s (step %s)", m.Step, root, joinOr(steps))}
	}
	if m.Kind != CutRequested {
		return nil
	}
	r := m.Request
	base := root + "/BajaSuspension"
	if r.Activation == "F" && r.PlannedDate.IsZero() {
		return &Error{Element: base + "/DatosSolicitud/FechaPrevistaAccion", Reason: "required when IndActivacion is F"}
	}
	c := r.Customer
	switch {
	case c.PersonType == "F" && c.BusinessName != "":
		return &Error{Element: base + "/Cliente/Nombre/RazonSocial", Reason: "a natural person (TipoPersona F) is named by NombreDePila and PrimerApellido"}
	case c.PersonType == "J" && c.BusinessName == "":
		return &Error{Element: base + "/Cliente/Nombre/NombreDePila", Reason: "a legal person (TipoPersona J) is named by RazonSocial"}
	}
	return nil
}

func joinOr(s []string) string {
	switch len(s) {
	case 0:
		return ""
	case 1:
		return s[0]
	}
	out := s[0]
	for _, x := range s[1 : len(s)-1] {
		out += ", " + x
	}
	return out + " or " + s[len(s)-1]
}
