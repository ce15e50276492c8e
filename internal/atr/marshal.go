package atr

import (
	"bytes"
	"fmt"
)

// MarshalCutRequest writes a step 01 after checking it as Parse would:
// required fields, lengths, digits, codes, the CUPS and its control letters,
// FechaPrevistaAccion when the activation is F. Comments longer than the
// schema allows are cut.
func MarshalCutRequest(r CutRequest) ([]byte, error) {
	return Marshal(Message{Header: r.Header, Kind: CutRequested, Request: &r})
}

// MarshalCancel writes a step 03.
func MarshalCancel(c Cancel) ([]byte, error) {
	return Marshal(Message{Header: c.Header, Kind: CancelRequested})
}

// Marshal writes a message of any kind, the distributor's answers included,
// as indented UTF-8 XML, after checking it as Parse would. A CutRequested
// message is written from its Request (its own Header is not used).
func Marshal(m Message) ([]byte, error) {
	root, ok := rootOf(m.Kind)
	if !ok {
		return nil, &Error{Reason: fmt.Sprintf("unknown kind %q", m.Kind)}
	}
	if m.Kind == CutRequested {
		if m.Request == nil {
			return nil, &Error{Element: root, Reason: "a cut request needs its Request"}
		}
		m.Header = m.Request.Header
	}
	tree, err := build(root, m)
	if err != nil {
		return nil, err
	}
	if err := validate(root, roots[root].spec, tree); err != nil {
		return nil, err
	}
	if err := checkRules(m, root); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	write(&b, tree, 0)
	return b.Bytes(), nil
}

// el is a group element; nil kids (absent optional elements) are left out.
func el(name string, kids ...*node) *node {
	n := &node{name: name, group: true}
	for _, k := range kids {
		if k != nil {
			n.kids = append(n.kids, k)
		}
	}
	return n
}

func val(name, text string) *node { return &node{name: name, text: text} }

// opt is an optional value, left out when empty.
func opt(name, text string) *node {
	if text == "" {
		return nil
	}
	return val(name, text)
}

func yesNo(b bool) string {
	if b {
		return "S"
	}
	return "N"
}

func build(root string, m Message) (*node, error) {
	h := m.Header
	header := el("Cabecera",
		val("CodigoREEEmpresaEmisora", h.From),
		val("CodigoREEEmpresaDestino", h.To),
		val("CodigoDelProceso", h.Process),
		val("CodigoDePaso", h.Step),
		val("CodigoDeSolicitud", h.Code),
		val("SecuencialDeSolicitud", h.Seq),
		val("FechaSolicitud", formatDateTime(h.RequestedAt)),
		val("CUPS", h.CUPS),
	)
	switch m.Kind {
	case CutRequested:
		body, err := buildCutRequest(root, m.Request)
		if err != nil {
			return nil, err
		}
		return el(root, header, body), nil
	case CancelRequested:
		return el(root, header), nil
	case Accepted:
		planned := ""
		if m.PlannedActivation != nil {
			planned = formatDate(*m.PlannedActivation)
		}
		return el(root, header, el("AceptacionBajaSuspension", el("DatosAceptacion",
			val("FechaAceptacion", formatDate(m.Date)),
			val("ActuacionCampo", yesNo(m.FieldWork)),
			val("FechaUltimaLecturaFirme", formatDate(m.LastFirmReading)),
			val("TipoActivacionPrevista", m.PlannedActivationType),
			val("FechaActivacionPrevista", planned),
		))), nil
	case Rejected:
		rs := el("Rechazos", val("FechaRechazo", formatDate(m.Date)))
		for _, r := range m.Rejections {
			rs.kids = append(rs.kids, el("Rechazo",
				val("Secuencial", r.Seq),
				val("CodigoMotivo", r.Code),
				val("Comentarios", r.Comment),
			))
		}
		return el(root, header, rs), nil
	case CancelAccepted:
		return el(root, header, el("AceptacionAnulacion",
			val("FechaAceptacion", formatDate(m.Date)),
			opt("HoraAceptacion", m.Time),
		)), nil
	case Activated:
		points := el("PuntosDeMedida")
		for _, p := range m.Points {
			points.kids = append(points.kids, el("PuntoDeMedida",
				val("CodPM", p.Code),
				val("TipoMovimiento", p.Movement),
				val("TipoPM", p.Type),
				val("ModoLectura", p.ReadMode),
				val("Funcion", p.Function),
				val("FechaVigor", formatDate(p.ValidFrom)),
				val("FechaAlta", formatDate(p.Registered)),
			))
		}
		return el(root, header, el("ActivacionBaja",
			el("DatosActivacionBaja", val("FechaActivacion", formatDate(m.Date))),
			el("Contrato", el("IdContrato", val("CodContrato", m.Contract))),
			points,
		)), nil
	}
	return nil, &Error{Reason: fmt.Sprintf("unknown kind %q", m.Kind)}
}

func buildCutRequest(root string, r *CutRequest) (*node, error) {
	c := r.Customer
	personal := c.GivenName != "" || c.FirstSurname != "" || c.SecondSurname != ""
	namePath := root + "/BajaSuspension/Cliente/Nombre"
	var name *node
	switch {
	case personal && c.BusinessName != "":
		return nil, &Error{Element: namePath, Reason: "both a personal name and RazonSocial: give one"}
	case c.BusinessName != "":
		name = el("Nombre", val("RazonSocial", c.BusinessName))
	case personal:
		name = el("Nombre",
			val("NombreDePila", c.GivenName),
			val("PrimerApellido", c.FirstSurname),
			opt("SegundoApellido", c.SecondSurname),
		)
	default:
		return nil, &Error{Element: namePath, Reason: "missing: NombreDePila and PrimerApellido, or RazonSocial"}
	}
	client := el("Cliente",
		el("IdCliente",
			val("TipoIdentificador", c.IDType),
			val("Identificador", c.ID),
			opt("TipoPersona", c.PersonType),
		),
		name,
	)
	for _, p := range c.Phones {
		client.kids = append(client.kids, el("Telefono", val("PrefijoPais", p.CountryPrefix), val("Numero", p.Number)))
	}
	if e := opt("CorreoElectronico", c.Email); e != nil {
		client.kids = append(client.kids, e)
	}
	return el("BajaSuspension",
		el("DatosSolicitud",
			val("IndActivacion", r.Activation),
			opt("FechaPrevistaAccion", formatDate(r.PlannedDate)),
			val("Motivo", r.Motive),
		),
		client,
		opt("IBAN", r.IBAN),
		opt("Comentarios", cut(r.Comments, maxComment)),
	), nil
}

// cut shortens s to at most n characters.
func cut(s string, n int) string {
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}
