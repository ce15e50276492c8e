package calendar

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// cutDay is one row of the regional tables: in a province, a date, whether
// a cut is allowed, and why.
type cutDay struct {
	province string
	date     string
	weekday  time.Weekday // checked, so a table cannot lie about the week
	allowed  bool
	why      string
}

func checkCutDays(t *testing.T, rows []cutDay) {
	t.Helper()
	for _, r := range rows {
		d := day(t, r.date)
		if d.Weekday() != r.weekday {
			t.Fatalf("bad table: %s is a %s, not a %s", r.date, d.Weekday(), r.weekday)
		}
		cal, _ := ForProvince(r.province, Extra{})
		if got := cal.IsAllowedCutDay(d); got != r.allowed {
			t.Errorf("%s: IsAllowedCutDay(%s %s) = %v, want %v (%s)", r.province, r.weekday, r.date, got, r.allowed, r.why)
		}
	}
}

func TestSantJoan_NoCutInCataloniaOnItOrItsEve_MadridCuts(t *testing.T) {
	checkCutDays(t, []cutDay{
		{"Barcelona", "2026-06-22", time.Monday, true, "Tuesday 23 is a working day"},
		{"Barcelona", "2026-06-23", time.Tuesday, false, "eve of Sant Joan"},
		{"Barcelona", "2026-06-24", time.Wednesday, false, "Sant Joan"},
		{"Barcelona", "2026-06-25", time.Thursday, true, "Friday 26 is a working day"},
		{"Girona", "2026-06-23", time.Tuesday, false, "eve of Sant Joan, all of Catalonia"},
		{"Lleida", "2026-06-23", time.Tuesday, false, "eve of Sant Joan, all of Catalonia"},
		{"Madrid", "2026-06-23", time.Tuesday, true, "Sant Joan is not a holiday in Madrid"},
		{"Madrid", "2026-06-24", time.Wednesday, true, "Sant Joan is not a holiday in Madrid"},
		{"Barcelona", "2026-09-10", time.Thursday, false, "eve of the Diada"},
		{"Barcelona", "2026-09-14", time.Monday, true, "after the Diada"},
	})
}

func TestHolyThursday_HolidayInMadridNotInCatalonia(t *testing.T) {
	checkCutDays(t, []cutDay{
		{"Madrid", "2026-03-31", time.Tuesday, true, "Wednesday 1 April is a working day"},
		{"Madrid", "2026-04-01", time.Wednesday, false, "eve of Holy Thursday"},
		{"Madrid", "2026-04-02", time.Thursday, false, "Holy Thursday"},
		{"Barcelona", "2026-04-01", time.Wednesday, true, "Holy Thursday is a working day in Catalonia"},
		{"Barcelona", "2026-04-02", time.Thursday, false, "eve of Good Friday"},
		{"Valencia", "2026-04-01", time.Wednesday, true, "Holy Thursday is a working day in Valencia"},
		{"Sevilla", "2026-04-01", time.Wednesday, false, "eve of Holy Thursday in Andalucía"},
	})
}

func TestEasterMonday_CataloniaCutsFromTuesday_MadridFromMonday(t *testing.T) {
	checkCutDays(t, []cutDay{
		{"Barcelona", "2026-04-06", time.Monday, false, "Easter Monday"},
		{"Barcelona", "2026-04-07", time.Tuesday, true, "after Easter Monday"},
		{"Madrid", "2026-04-06", time.Monday, true, "Easter Monday is a working day in Madrid"},
		{"Bizkaia", "2026-04-06", time.Monday, false, "Easter Monday in the Basque Country"},
		{"Navarra", "2026-04-06", time.Monday, false, "Easter Monday in Navarre"},
		{"Illes Balears", "2026-04-06", time.Monday, false, "Easter Monday in the Balearics"},
		{"Alicante", "2026-04-06", time.Monday, false, "Easter Monday in Valencia"},
	})
	// From the eve of Good Friday, the Friday being a holiday anyway, the
	// Easter Monday of Catalonia costs one more day.
	for _, tt := range []struct{ province, want string }{{"Barcelona", "2026-04-07"}, {"Madrid", "2026-04-06"}} {
		cal, _ := ForProvince(tt.province, Extra{})
		if got := cal.NextCutDay(day(t, "2026-04-02")); !got.Equal(day(t, tt.want)) {
			t.Errorf("%s: NextCutDay(2026-04-02) = %s, want %s", tt.province, got.Format(time.DateOnly), tt.want)
		}
	}
}

func TestGalicia_SantiagoLetrasSanXoan(t *testing.T) {
	checkCutDays(t, []cutDay{
		{"A Coruña", "2028-07-24", time.Monday, false, "eve of Santiago, Día Nacional de Galicia"},
		{"Ourense", "2028-07-25", time.Tuesday, false, "Santiago"},
		{"Barcelona", "2028-07-24", time.Monday, true, "Santiago is not a holiday in Catalonia"},
		{"Lugo", "2028-05-16", time.Tuesday, false, "eve of the Día das Letras Galegas"},
		{"Barcelona", "2028-05-16", time.Tuesday, true, "the Letras Galegas are Galician"},
		{"Pontevedra", "2026-06-23", time.Tuesday, false, "eve of San Xoán, a Galician holiday in 2026"},
		{"Pontevedra", "2026-03-18", time.Wednesday, false, "eve of San Xosé"},
		{"Madrid", "2026-03-18", time.Wednesday, true, "San José is not a holiday in Madrid in 2026"},
	})
}

func TestUnknownProvince_NoDayThatIsAHolidayOrEveAnywhere(t *testing.T) {
	for _, place := range []string{"", "  ", "Atlantis", "99", "ES"} {
		checkCutDays(t, []cutDay{
			{place, "2026-06-23", time.Tuesday, false, "eve of Sant Joan in Catalonia, Galicia and Valencia"},
			{place, "2026-04-01", time.Wednesday, false, "eve of Holy Thursday in most communities"},
			{place, "2026-03-18", time.Wednesday, false, "eve of San José in Valencia, Murcia, Galicia..."},
			{place, "2026-12-02", time.Wednesday, false, "eve of San Francisco Javier in Navarre"},
			{place, "2026-02-01", time.Sunday, false, "Sunday"},
			{place, "2026-03-10", time.Tuesday, true, "nobody's holiday nor eve"},
		})
	}
	madrid, _ := ForProvince("Madrid", Extra{})
	if !madrid.IsAllowedCutDay(day(t, "2026-12-02")) {
		t.Error("Madrid: 2 December 2026 should be allowed")
	}
	// The strictest calendar holds every province's days.
	all, _ := Regional("", Extra{})
	for _, p := range Provinces() {
		own, _ := Regional(p.Code, Extra{})
		for _, d := range own {
			if _, found := slices.BinarySearchFunc(all, d, func(a, b time.Time) int { return a.Compare(b) }); !found {
				t.Errorf("%s's holiday %s is missing from the unknown province's calendar", p.Name, d.Format(time.DateOnly))
			}
		}
	}
}

func TestCommunityNamedForProvince_AllItsProvincesCount(t *testing.T) {
	checkCutDays(t, []cutDay{
		{"Cataluña", "2026-06-23", time.Tuesday, false, "eve of Sant Joan"},
		{"Catalunya", "2026-06-16", time.Tuesday, false, "eve of the Festa d'Aran, in Lleida"},
		{"Cataluña", "2026-04-01", time.Wednesday, true, "no Holy Thursday in Catalonia"},
		{"Canarias", "2026-02-02", time.Monday, false, "the Candelaria, in Tenerife"},
		{"Canarias", "2026-09-07", time.Monday, false, "eve of the Pino, in Gran Canaria"},
	})
}

func TestRegional(t *testing.T) {
	days, through := Regional("Barcelona", Extra{
		All:        []time.Time{Date(2026, 3, 19), time.Date(2026, 6, 24, 22, 0, 0, 0, time.UTC)}, // the second is Sant Joan again
		ByProvince: map[string][]time.Time{"08": {Date(2026, 9, 24)}, "28": {Date(2026, 5, 15)}},
	})
	if through != 2028 {
		t.Errorf("through = %d, want 2028", through)
	}
	want := []string{"2026-03-19", "2026-04-06", "2026-06-24", "2026-09-11", "2026-09-24", "2026-12-26"}
	var got2026 []string
	for i, d := range days {
		if d.Location() != Madrid || d.Hour() != 0 {
			t.Errorf("day %d = %v, want midnight in Madrid", i, d)
		}
		if i > 0 && !days[i-1].Before(d) {
			t.Errorf("days not sorted or repeated at %d: %v then %v", i, days[i-1], d)
		}
		if d.Year() == 2026 {
			got2026 = append(got2026, d.Format(time.DateOnly))
		}
		if nationalName(d.Date()) != "" {
			t.Errorf("%s is national: New adds it, Regional must not", d.Format(time.DateOnly))
		}
	}
	if !slices.Equal(got2026, want) {
		t.Errorf("Regional(Barcelona) in 2026 = %v, want %v", got2026, want)
	}
	if last := days[len(days)-1]; last.Year() != 2028 {
		t.Errorf("last day %v, want one in 2028", last)
	}
}

func TestYearsAndThrough(t *testing.T) {
	first, through := Years()
	if first != 2026 || through != 2028 {
		t.Errorf("Years() = %d, %d; want 2026, 2028", first, through)
	}
	if _, th := ForProvince("Madrid", Extra{}); th != 2028 {
		t.Errorf("ForProvince through = %d, want 2028", th)
	}
	if Provisional(2026) || !Provisional(2027) || !Provisional(2028) {
		t.Errorf("Provisional 2026, 2027, 2028 = %v %v %v; want false true true", Provisional(2026), Provisional(2027), Provisional(2028))
	}
}

// TestDataFiles_HaveTheNationalHolidays checks the national lines of every
// year against NationalHolidays, and that every community has its days.
func TestDataFiles_HaveTheNationalHolidays(t *testing.T) {
	d := data()
	for year := d.first; year <= d.last; year++ {
		var got []Holiday
		communitiesSeen := map[string]bool{}
		for _, h := range d.holidays {
			if h.key/10000 != year {
				continue
			}
			if h.national() {
				got = append(got, Holiday{Date: Date(year, time.Month(h.key/100%100), h.key%100), Name: h.name})
			}
			communitiesSeen[h.community] = true
		}
		want := NationalHolidays(year)
		if len(got) != len(want) {
			t.Fatalf("%d.txt has %d national holidays, want %d: %v", year, len(got), len(want), got)
		}
		for i := range want {
			if !got[i].Date.Equal(want[i].Date) || got[i].Name != want[i].Name {
				t.Errorf("%d.txt national %d = %s %s, want %s %s", year, i,
					got[i].Date.Format(time.DateOnly), got[i].Name, want[i].Date.Format(time.DateOnly), want[i].Name)
			}
		}
		for _, c := range communities {
			if !communitiesSeen[c.Code] {
				t.Errorf("%d.txt has no holiday of %s", year, c.Name)
			}
		}
	}
}

func TestLoadDataset_Errors(t *testing.T) {
	const head = "# status: official\n"
	tests := []struct {
		name    string
		files   fstest.MapFS
		wantErr string
	}{
		{"no files", fstest.MapFS{"h/README": {Data: []byte("x")}}, "README is not named YYYY.txt"},
		{"a gap", fstest.MapFS{"h/2026.txt": {Data: []byte(head)}, "h/2028.txt": {Data: []byte(head)}}, "years must follow"},
		{"no status", fstest.MapFS{"h/2026.txt": {Data: []byte("2026-01-01 [ES] Año Nuevo\n")}}, "no \"# status"},
		{"bad status", fstest.MapFS{"h/2026.txt": {Data: []byte("# status: final\n")}}, `line 1: status "final"`},
		{"wrong year", fstest.MapFS{"h/2026.txt": {Data: []byte(head + "\n2027-01-01 [ES] Año Nuevo\n")}}, "2026.txt line 3: 2027-01-01 is not in 2026"},
		{"no scope", fstest.MapFS{"h/2026.txt": {Data: []byte(head + "2026-01-01 Año Nuevo\n")}}, "line 2: scope []"},
		{"a name for scope", fstest.MapFS{"h/2026.txt": {Data: []byte(head + "2026-06-24 [Barcelona] Sant Joan\n")}}, "line 2: scope [Barcelona]"},
		{"no name", fstest.MapFS{"h/2026.txt": {Data: []byte(head + "2026-06-24 [CT]\n")}}, "line 2: the holiday has no name"},
		{"bad date", fstest.MapFS{"h/2026.txt": {Data: []byte(head + "2026-02-30 [CT] x\n")}}, `line 2: "2026-02-30"`},
	}
	for _, tt := range tests {
		_, err := loadDataset(tt.files, "h")
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: loadDataset error = %v, want it to contain %q", tt.name, err, tt.wantErr)
		}
	}
	if _, err := loadDataset(fstest.MapFS{}, "h"); err == nil {
		t.Error("loadDataset(no directory) = nil error")
	}
}

func TestLookupProvince_EveryNameAndCode(t *testing.T) {
	ps := Provinces()
	if len(ps) != 52 {
		t.Fatalf("%d provinces, want 52", len(ps))
	}
	for i, p := range ps {
		if want := fmt.Sprintf("%02d", i+1); p.Code != want {
			t.Errorf("province %d has code %s, want %s", i, p.Code, want)
		}
		if p.CommunityName() == "" {
			t.Errorf("%s: community %q unknown", p.Name, p.Community)
		}
		for _, s := range []string{p.Name, p.Code, fmt.Sprint(i + 1), strings.ToUpper(p.Name), strings.ToLower(p.Name),
			fold(p.Name), " " + p.Name + " ", p.Code + "001"} {
			if got, ok := LookupProvince(s); !ok || got != p {
				t.Errorf("LookupProvince(%q) = %v, %v; want %s", s, got, ok, p.Name)
			}
		}
	}
	for s, want := range map[string]string{
		"Girona": "17", "Gerona": "17", "GERONA": "17", "A Coruña": "15", "La Coruña": "15", "Coruña, A": "15",
		"a coruna": "15", "Ourense": "32", "Orense": "32", "Illes Balears": "07", "Baleares": "07",
		"Islas Baleares": "07", "Balears, Illes": "07", "Mallorca": "07", "Gipuzkoa": "20", "Guipúzcoa": "20",
		"guipuzcoa": "20", "Bizkaia": "48", "Vizcaya": "48", "Araba": "01", "Álava": "01", "alava": "01",
		"Araba/Álava": "01", "Álava - Araba": "01", "València": "46", "Valencia": "46", "Valencia/València": "46",
		"Alacant": "03", "Alicante": "03", "Alicante/Alacant": "03", "Castelló": "12", "Castellón": "12",
		"Castellón de la Plana": "12", "Lleida": "25", "Lérida": "25", "LERIDA": "25", "Santa Cruz de Tenerife": "38",
		"S/C de Tenerife": "38", "Tenerife": "38", "Las Palmas": "35", "Palmas, Las": "35", "Gran Canaria": "35",
		"Ávila": "05", "AVILA": "05", "Cádiz": "11", "Jaén": "23", "León": "24", "Málaga": "29", "Cáceres": "10",
		"Córdoba": "14", "Almería": "04", "La Rioja": "26", "Rioja, La": "26", "Navarra": "31", "Nafarroa": "31",
		"Asturias": "33", "Principado de Asturias": "33", "Comunidad de Madrid": "28", "Región de Murcia": "30",
		"Ceuta": "51", "Melilla": "52", "8": "08", "08": "08", "28079": "28", "08001": "08", "52": "52",
	} {
		if got, ok := LookupProvince(s); !ok || got.Code != want {
			t.Errorf("LookupProvince(%q) = %v, %v; want code %s", s, got, ok, want)
		}
	}
	for _, s := range []string{"", "Atlantis", "0", "00", "53", "99", "123", "2807", "280790", "Cataluña", "Valencia/Barcelona",
		"Castilla-La Mancha", "-", "/", "08a"} {
		if got, ok := LookupProvince(s); ok {
			t.Errorf("LookupProvince(%q) = %v, want none", s, got)
		}
	}
}

func TestLookupCommunity(t *testing.T) {
	for s, want := range map[string]string{
		"CT": "CT", "ct": "CT", "Cataluña": "CT", "Catalunya": "CT", "catalunya": "CT", "Galicia": "GA",
		"País Vasco": "PV", "Euskadi": "PV", "Comunitat Valenciana": "VC", "Castilla-La Mancha": "CM",
		"castilla la mancha": "CM", "Illes Balears": "IB", "Madrid": "MD", "Melilla": "ML",
	} {
		if got, ok := LookupCommunity(s); !ok || got.Code != want {
			t.Errorf("LookupCommunity(%q) = %v, %v; want %s", s, got, ok, want)
		}
	}
	for _, s := range []string{"", "Valencia", "Barcelona", "XX"} {
		if got, ok := LookupCommunity(s); ok {
			t.Errorf("LookupCommunity(%q) = %v, want none", s, got)
		}
	}
}

func TestParseExtra_Scopes(t *testing.T) {
	in := "# Festivos de la comercializadora\n" +
		"2026-03-19 San José\n" +
		"2026-09-24 [Barcelona] Mare de Déu de la Mercè\n" +
		"2026-05-15 [28079] San Isidro\n" +
		"2026-11-09 @Madrid Almudena\n" +
		"2026-02-02 [Santa Cruz de Tenerife] Candelaria\n" +
		"2026-05-25 @CT Segunda Pascua\n" +
		"2026-12-24 [ES] Nochebuena\n" +
		"2026-06-29 [ 36 ]\n"
	e, err := ParseExtra(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	dates := func(ts []time.Time) []string {
		var out []string
		for _, d := range ts {
			if d.Location() != Madrid {
				t.Errorf("%v is not in Madrid", d)
			}
			out = append(out, d.Format(time.DateOnly))
		}
		return out
	}
	if got := dates(e.All); !slices.Equal(got, []string{"2026-03-19", "2026-12-24"}) {
		t.Errorf("All = %v", got)
	}
	for code, want := range map[string][]string{
		"08": {"2026-09-24", "2026-05-25"}, "28": {"2026-05-15", "2026-11-09"}, "38": {"2026-02-02"},
		"17": {"2026-05-25"}, "25": {"2026-05-25"}, "43": {"2026-05-25"}, "36": {"2026-06-29"},
	} {
		if got := dates(e.ByProvince[code]); !slices.Equal(got, want) {
			t.Errorf("ByProvince[%s] = %v, want %v", code, got, want)
		}
	}
	if len(e.ByProvince) != 7 {
		t.Errorf("ByProvince has %d provinces, want 7: %v", len(e.ByProvince), e.ByProvince)
	}

	// For: every province's days plus its own; a community's provinces; all when unknown.
	for _, tt := range []struct {
		province string
		want     []string
	}{
		{"Barcelona", []string{"2026-03-19", "2026-12-24", "2026-09-24", "2026-05-25"}},
		{"Sevilla", []string{"2026-03-19", "2026-12-24"}},
		{"Galicia", []string{"2026-03-19", "2026-12-24", "2026-06-29"}},
	} {
		if got := dates(e.For(tt.province)); !slices.Equal(got, tt.want) {
			t.Errorf("For(%s) = %v, want %v", tt.province, got, tt.want)
		}
	}
	if got := e.For("Atlantis"); len(got) != 2+2+2+1+1+1+1+1 {
		t.Errorf("For(unknown) = %v, want every configured day", dates(got))
	}

	// ParseHolidays keeps only the days of every province.
	all, err := ParseHolidays(strings.NewReader(in))
	if err != nil || !slices.Equal(dates(all), []string{"2026-03-19", "2026-12-24"}) {
		t.Errorf("ParseHolidays = %v, %v", dates(all), err)
	}
}

func TestParseExtra_ErrorsNameTheLine(t *testing.T) {
	for _, tt := range []struct{ in, wantErr string }{
		{"2026-03-19\n2026-09-24 [Barcelna] La Mercè\n", `holidays line 2: scope "Barcelna" is not a province`},
		{"\n\n2026-09-24 [Barcelona La Mercè\n", `holidays line 3: "[Barcelona La Mercè": the scope's [ is not closed`},
		{"2026-09-24 [] La Mercè\n", "holidays line 1: empty scope []"},
		{"2026-09-24 @ La Mercè\n", "holidays line 1: empty scope after @"},
		{"2026-09-24 @Barcelna\n", `holidays line 1: scope "Barcelna"`},
		{"24/09/2026 [Barcelona]\n", `holidays line 1: "24/09/2026" is not a valid YYYY-MM-DD date`},
	} {
		_, err := ParseExtra(strings.NewReader(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("ParseExtra(%q) error = %v, want it to contain %q", tt.in, err, tt.wantErr)
		}
	}
}

func TestLoadExtra(t *testing.T) {
	if e, err := LoadExtra(""); err != nil || e.All != nil || e.ByProvince != nil {
		t.Errorf(`LoadExtra("") = %v, %v; want nothing`, e, err)
	}
	e, err := LoadExtra("testdata/holidays_example.txt")
	if err != nil || len(e.All) != 3 || len(e.ByProvince["08"]) != 1 {
		t.Errorf("LoadExtra(example) = %v, %v", e, err)
	}
	if _, err := LoadExtra("testdata/no-such-file.txt"); err == nil {
		t.Error("LoadExtra(missing file) = nil error")
	}
}

// places are every province by code, a community, an empty and an unknown place.
func places() []string {
	out := []string{"", "Atlantis", "Cataluña", "Canarias"}
	for _, p := range Provinces() {
		out = append(out, p.Code)
	}
	return out
}

// TestEveryProvinceEveryDay walks every day of the data in every province
// and checks the calendar against an oracle built from the province's
// holidays, and NextCutDay against IsAllowedCutDay.
func TestEveryProvinceEveryDay(t *testing.T) {
	first, through := Years()
	for _, place := range places() {
		days, _ := Regional(place, Extra{})
		holiday := map[string]bool{}
		for _, d := range days {
			holiday[d.Format(time.DateOnly)] = true
		}
		for _, h := range data().holidays {
			if h.national() {
				holiday[Date(h.key/10000, time.Month(h.key/100%100), h.key%100).Format(time.DateOnly)] = true
			}
		}
		working := func(d time.Time) bool {
			wd := d.Weekday()
			return wd != time.Saturday && wd != time.Sunday && !holiday[d.Format(time.DateOnly)]
		}
		cal, _ := ForProvince(place, Extra{})
		next := Date(through+1, 1, 1)
		for d := Date(through, 12, 31); !d.Before(Date(first, 1, 1)); d = d.AddDate(0, 0, -1) {
			allowed := working(d) && working(d.AddDate(0, 0, 1))
			if d.Year() == through && d.Month() == time.December && d.Day() == 31 {
				allowed = working(d) // 1 January is national everywhere
			}
			if got := cal.IsAllowedCutDay(d); got != allowed {
				t.Fatalf("%q: IsAllowedCutDay(%s) = %v, want %v", place, d.Format(time.DateOnly), got, allowed)
			}
			if allowed {
				next = d
			}
			if next.Year() <= through {
				if got := cal.NextCutDay(d.Add(13 * time.Hour)); !got.Equal(next) {
					t.Fatalf("%q: NextCutDay(%s) = %s, want %s", place, d.Format(time.DateOnly), got.Format(time.DateOnly), next.Format(time.DateOnly))
				}
			}
		}
	}
}

func FuzzNextCutDay_IsAllowed(f *testing.F) {
	f.Add(uint8(0), uint16(0), uint16(0))
	f.Add(uint8(11), uint16(173), uint16(600)) // Barcelona, 23 June 2026
	f.Add(uint8(1), uint16(1000), uint16(1439))
	ps := places()
	f.Fuzz(func(t *testing.T, place uint8, dayOffset, minute uint16) {
		p := ps[int(place)%len(ps)]
		cal, through := ForProvince(p, Extra{})
		from := Date(2026, 1, 1).AddDate(0, 0, int(dayOffset)%(365*3)).Add(time.Duration(minute%1440) * time.Minute)
		got := cal.NextCutDay(from)
		if !cal.IsAllowedCutDay(got) || got.Before(Date(from.In(Madrid).Date())) || got.Hour() != 0 || got.Location() != Madrid {
			t.Fatalf("%q: NextCutDay(%v) = %v, not an allowed day on or after it", p, from, got)
		}
		if got.Year() <= through && got.Sub(from) > 21*24*time.Hour {
			t.Fatalf("%q: NextCutDay(%v) = %v, three weeks later", p, from, got)
		}
		for d := Date(from.In(Madrid).Date()); d.Before(got); d = d.AddDate(0, 0, 1) {
			if cal.IsAllowedCutDay(d) {
				t.Fatalf("%q: NextCutDay(%v) = %v skips %v", p, from, got, d)
			}
		}
	})
}

func FuzzLookupProvince(f *testing.F) {
	for _, s := range []string{"Barcelona", "A Coruña", "Valencia/València", "8", "28079", "", "Álava - Araba", "S/C de Tenerife"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, ok := LookupProvince(s)
		if !ok {
			return
		}
		if q, ok := LookupProvince(p.Code); !ok || q != p {
			t.Fatalf("LookupProvince(%q) = %v, whose code does not find it again", s, p)
		}
	})
}

func FuzzParseExtra(f *testing.F) {
	f.Add("2026-03-19 San José\n2026-09-24 [Barcelona] La Mercè\n2026-05-15 @28079 San Isidro\n")
	f.Add("# x\n2026-05-25 [CT\n")
	f.Fuzz(func(t *testing.T, in string) {
		e, err := ParseExtra(strings.NewReader(in))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "holidays line ") {
				t.Fatalf("error %q does not name the line", err)
			}
			return
		}
		for _, d := range e.All {
			if d.Location() != Madrid || d.Hour() != 0 {
				t.Fatalf("%v is not midnight in Madrid", d)
			}
		}
		for code := range e.ByProvince {
			if _, ok := provinceByCode[code]; !ok {
				t.Fatalf("configured days for unknown province %q", code)
			}
		}
	})
}
