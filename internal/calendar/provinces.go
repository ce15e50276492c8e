package calendar

import (
	"strings"
	"unicode"
)

// Community is an autonomous community, or the autonomous city of Ceuta or
// Melilla, whose government sets part of the holidays of its provinces.
type Community struct {
	Code string // ISO 3166-2:ES code without the country: "CT" Cataluña
	Name string
}

// communities are Spain's seventeen autonomous communities and two
// autonomous cities, with the other names a contracts sheet may use.
var communities = []struct {
	Community
	aliases []string
}{
	{Community{"AN", "Andalucía"}, nil},
	{Community{"AR", "Aragón"}, []string{"Aragó"}},
	{Community{"AS", "Principado de Asturias"}, []string{"Asturias", "Asturies"}},
	{Community{"IB", "Illes Balears"}, []string{"Islas Baleares", "Baleares", "Balears"}},
	{Community{"CN", "Canarias"}, []string{"Islas Canarias"}},
	{Community{"CB", "Cantabria"}, nil},
	{Community{"CL", "Castilla y León"}, nil},
	{Community{"CM", "Castilla-La Mancha"}, nil},
	{Community{"CT", "Cataluña"}, []string{"Catalunya", "Catalonia"}},
	{Community{"EX", "Extremadura"}, nil},
	{Community{"GA", "Galicia"}, nil},
	{Community{"MD", "Comunidad de Madrid"}, []string{"Madrid"}},
	{Community{"MC", "Región de Murcia"}, []string{"Murcia"}},
	{Community{"NC", "Comunidad Foral de Navarra"}, []string{"Navarra", "Nafarroa"}},
	{Community{"PV", "País Vasco"}, []string{"Euskadi", "Comunidad Autónoma Vasca"}},
	{Community{"RI", "La Rioja"}, []string{"Rioja"}},
	{Community{"VC", "Comunitat Valenciana"}, []string{"Comunidad Valenciana", "País Valencià"}},
	{Community{"CE", "Ceuta"}, nil},
	{Community{"ML", "Melilla"}, nil},
}

// provinces are Spain's fifty provinces and the two autonomous cities, by INE
// code, with their co-official, former and INE-sorted names, and their
// islands, as aliases.
var provinces = []struct {
	Province
	aliases []string
}{
	{Province{"01", "Araba/Álava", "PV"}, []string{"Álava", "Araba", "Alava"}},
	{Province{"02", "Albacete", "CM"}, nil},
	{Province{"03", "Alicante/Alacant", "VC"}, []string{"Alicante", "Alacant"}},
	{Province{"04", "Almería", "AN"}, nil},
	{Province{"05", "Ávila", "CL"}, nil},
	{Province{"06", "Badajoz", "EX"}, nil},
	{Province{"07", "Illes Balears", "IB"}, []string{"Islas Baleares", "Baleares", "Balears", "Balears, Illes", "Baleares, Islas", "Mallorca", "Menorca", "Eivissa", "Ibiza", "Formentera"}},
	{Province{"08", "Barcelona", "CT"}, nil},
	{Province{"09", "Burgos", "CL"}, nil},
	{Province{"10", "Cáceres", "EX"}, nil},
	{Province{"11", "Cádiz", "AN"}, nil},
	{Province{"12", "Castellón/Castelló", "VC"}, []string{"Castellón", "Castelló", "Castellón de la Plana", "Castelló de la Plana"}},
	{Province{"13", "Ciudad Real", "CM"}, nil},
	{Province{"14", "Córdoba", "AN"}, nil},
	{Province{"15", "A Coruña", "GA"}, []string{"La Coruña", "Coruña", "Coruña, A", "Coruña, La"}},
	{Province{"16", "Cuenca", "CM"}, nil},
	{Province{"17", "Girona", "CT"}, []string{"Gerona"}},
	{Province{"18", "Granada", "AN"}, nil},
	{Province{"19", "Guadalajara", "CM"}, nil},
	{Province{"20", "Gipuzkoa", "PV"}, []string{"Guipúzcoa", "Guipuzkoa"}},
	{Province{"21", "Huelva", "AN"}, nil},
	{Province{"22", "Huesca", "AR"}, nil},
	{Province{"23", "Jaén", "AN"}, nil},
	{Province{"24", "León", "CL"}, nil},
	{Province{"25", "Lleida", "CT"}, []string{"Lérida"}},
	{Province{"26", "La Rioja", "RI"}, []string{"Rioja", "Rioja, La"}},
	{Province{"27", "Lugo", "GA"}, nil},
	{Province{"28", "Madrid", "MD"}, []string{"Comunidad de Madrid"}},
	{Province{"29", "Málaga", "AN"}, nil},
	{Province{"30", "Murcia", "MC"}, []string{"Región de Murcia"}},
	{Province{"31", "Navarra", "NC"}, []string{"Nafarroa", "Comunidad Foral de Navarra"}},
	{Province{"32", "Ourense", "GA"}, []string{"Orense"}},
	{Province{"33", "Asturias", "AS"}, []string{"Principado de Asturias", "Asturies"}},
	{Province{"34", "Palencia", "CL"}, nil},
	{Province{"35", "Las Palmas", "CN"}, []string{"Palmas", "Palmas, Las", "Las Palmas de Gran Canaria", "Gran Canaria", "Lanzarote", "Fuerteventura"}},
	{Province{"36", "Pontevedra", "GA"}, nil},
	{Province{"37", "Salamanca", "CL"}, nil},
	{Province{"38", "Santa Cruz de Tenerife", "CN"}, []string{"S/C de Tenerife", "SC de Tenerife", "Sta. Cruz de Tenerife", "Tenerife", "La Palma", "La Gomera", "El Hierro"}},
	{Province{"39", "Cantabria", "CB"}, nil},
	{Province{"40", "Segovia", "CL"}, nil},
	{Province{"41", "Sevilla", "AN"}, nil},
	{Province{"42", "Soria", "CL"}, nil},
	{Province{"43", "Tarragona", "CT"}, nil},
	{Province{"44", "Teruel", "AR"}, nil},
	{Province{"45", "Toledo", "CM"}, nil},
	{Province{"46", "Valencia/València", "VC"}, []string{"Valencia", "València"}},
	{Province{"47", "Valladolid", "CL"}, nil},
	{Province{"48", "Bizkaia", "PV"}, []string{"Vizcaya"}},
	{Province{"49", "Zamora", "CL"}, nil},
	{Province{"50", "Zaragoza", "AR"}, nil},
	{Province{"51", "Ceuta", "CE"}, nil},
	{Province{"52", "Melilla", "ML"}, nil},
}

// Lookup tables by folded name and by code, built once from the lists above.
var (
	provinceByName  = map[string]Province{}
	provinceByCode  = map[string]Province{}
	communityByName = map[string]Community{}
	communityByCode = map[string]Community{}
)

func init() {
	for _, p := range provinces {
		provinceByCode[p.Code] = p.Province
		for _, n := range append([]string{p.Name}, p.aliases...) {
			provinceByName[fold(n)] = p.Province
		}
	}
	for _, c := range communities {
		communityByCode[c.Code] = c.Community
		for _, n := range append([]string{c.Name, c.Code}, c.aliases...) {
			communityByName[fold(n)] = c.Community
		}
	}
}

// Provinces returns the 52 provinces (Ceuta and Melilla included) in INE code order.
func Provinces() []Province {
	out := make([]Province, len(provinces))
	for i, p := range provinces {
		out[i] = p.Province
	}
	return out
}

// LookupProvince finds a province by name (accents, case and the usual
// co-official spellings ignored) or by INE code.
//
// Names: the Spanish or co-official name (Girona or Gerona, Ourense or
// Orense, Bizkaia or Vizcaya), the INE's sorted form ("Coruña, A"), or both
// halves of a double name ("Valencia/València"). Codes: the province's INE
// code with or without its leading zero ("08", "8"), or five digits whose
// first two are the province: a municipality's INE code (28079 Madrid) or a
// postal code (08001 Barcelona).
func LookupProvince(s string) (Province, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Province{}, false
	}
	if isDigits(s) {
		switch len(s) {
		case 1, 2, 5:
			code := s
			if len(code) == 5 {
				code = code[:2]
			}
			p, ok := provinceByCode[pad2(code)]
			return p, ok
		}
		return Province{}, false
	}
	if p, ok := provinceByName[fold(s)]; ok {
		return p, true
	}
	// "Alicante/Alacant", "Gerona - Girona": every half must name the same province.
	halves := strings.FieldsFunc(s, func(r rune) bool { return r == '/' || r == '-' || r == '(' || r == ')' })
	if len(halves) < 2 {
		return Province{}, false
	}
	var found Province
	for i, h := range halves {
		p, ok := provinceByName[fold(h)]
		if !ok || (i > 0 && p != found) {
			return Province{}, false
		}
		found = p
	}
	return found, true
}

// LookupCommunity finds an autonomous community or city by its code ("CT")
// or its name in Spanish or a co-official language ("Catalunya").
func LookupCommunity(s string) (Community, bool) {
	s = strings.TrimSpace(s)
	if c, ok := communityByCode[strings.ToUpper(s)]; ok {
		return c, true
	}
	c, ok := communityByName[fold(s)]
	return c, ok
}

// CommunityName returns the name of the province's autonomous community.
func (p Province) CommunityName() string { return communityByCode[p.Community].Name }

// fold lowers s, drops its accents and turns every run of other than
// letters and digits into one space, so "Coruña, A" and "coruna a" match.
func fold(s string) string {
	var b strings.Builder
	space := false
	for _, r := range strings.ToLower(s) {
		if r == '·' { // the Catalan l·l
			continue
		}
		r = unaccent(r)
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(r)
			continue
		}
		space = true
	}
	return b.String()
}

// unaccent maps the accented letters of Spanish, Catalan, Galician and Basque
// place names to their bare letter.
func unaccent(r rune) rune {
	switch r {
	case 'á', 'à', 'â', 'ä':
		return 'a'
	case 'é', 'è', 'ê', 'ë':
		return 'e'
	case 'í', 'ì', 'î', 'ï':
		return 'i'
	case 'ó', 'ò', 'ô', 'ö':
		return 'o'
	case 'ú', 'ù', 'û', 'ü':
		return 'u'
	case 'ñ':
		return 'n'
	case 'ç':
		return 'c'
	}
	return r
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

func pad2(code string) string {
	if len(code) == 1 {
		return "0" + code
	}
	return code
}
