package calendar

import (
	"bufio"
	"embed"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// holidayFiles are the regional holidays, one file per year. Each line is
//
//	YYYY-MM-DD [SCOPE] name
//
// where SCOPE is ES (national), the code of an autonomous community or city
// (CT, GA, ...) or the INE code of a province (08). A header comment names
// the sources and says "status: official" or "status: provisional".
//
//go:embed holidays/*.txt
var holidayFiles embed.FS

// scope says where a holiday applies; both fields empty means all of Spain.
type scope struct {
	community string // community code: "CT"
	province  string // INE code: "08"
}

// regionalHoliday is one line of a data file.
type regionalHoliday struct {
	key  int // dayKey of its date
	name string
	scope
}

func (h regionalHoliday) national() bool { return h.scope == scope{} }

// dataset is every data file, read once.
type dataset struct {
	first, last int
	provisional map[int]bool
	holidays    []regionalHoliday // sorted by date
}

// data returns the embedded holiday data. The files are part of the build
// and a test reads every one, so a file that does not parse is a broken
// build, not a condition to handle at run time.
var data = sync.OnceValue(func() *dataset {
	d, err := loadDataset(holidayFiles, "holidays")
	if err != nil {
		panic("calendar: " + err.Error())
	}
	return d
})

// loadDataset reads every YYYY.txt in dir of fsys. The years must follow
// each other without a gap, so that "through" means every year up to it.
func loadDataset(fsys fs.FS, dir string) (*dataset, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("holiday data: %w", err)
	}
	d := &dataset{provisional: map[int]bool{}}
	for _, e := range entries {
		year, err := strconv.Atoi(strings.TrimSuffix(e.Name(), ".txt"))
		if err != nil || !strings.HasSuffix(e.Name(), ".txt") || year < 1900 || year > 2200 {
			return nil, fmt.Errorf("holiday data: %s is not named YYYY.txt", e.Name())
		}
		if d.first != 0 && year != d.last+1 {
			return nil, fmt.Errorf("holiday data: %s follows %d.txt: the years must follow each other", e.Name(), d.last)
		}
		f, err := fsys.Open(path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("holiday data: %w", err)
		}
		hs, provisional, err := parseYear(f, year)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("holidays/%s %w", e.Name(), err)
		}
		if d.first == 0 {
			d.first = year
		}
		d.last = year
		d.provisional[year] = provisional
		d.holidays = append(d.holidays, hs...)
	}
	if d.first == 0 {
		return nil, fmt.Errorf("holiday data: no file in %s", dir)
	}
	slices.SortStableFunc(d.holidays, func(a, b regionalHoliday) int { return a.key - b.key })
	return d, nil
}

// parseYear reads one data file. Its errors start with "line N:".
func parseYear(r io.Reader, year int) (hs []regionalHoliday, provisional bool, err error) {
	status := ""
	err = eachLine(r, func(n int, line string) error {
		if c, ok := strings.CutPrefix(line, "#"); ok {
			if v, ok := strings.CutPrefix(strings.TrimSpace(c), "status:"); ok {
				if status != "" {
					return fmt.Errorf("line %d: a second status", n)
				}
				status = strings.TrimSpace(v)
				if status != "official" && status != "provisional" {
					return fmt.Errorf("line %d: status %q: want official or provisional", n, status)
				}
			}
			return nil
		}
		l, err := parseLine(line)
		if err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
		y, m, d := l.date.Date()
		if y != year {
			return fmt.Errorf("line %d: %s is not in %d", n, l.date.Format(time.DateOnly), year)
		}
		s, err := dataScope(l.scope)
		if err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
		if l.name == "" {
			return fmt.Errorf("line %d: the holiday has no name", n)
		}
		hs = append(hs, regionalHoliday{key: dayKey(y, m, d), name: l.name, scope: s})
		return nil
	})
	if err == nil && status == "" {
		err = fmt.Errorf("line 1: no \"# status: official\" or \"# status: provisional\" in the header")
	}
	return hs, status == "provisional", err
}

// dataScope reads the scope of a data line, which must be a code.
func dataScope(s string) (scope, error) {
	switch {
	case s == "ES":
		return scope{}, nil
	case communityByCode[s].Code == s && s != "":
		return scope{community: s}, nil
	case provinceByCode[s].Code == s && s != "":
		return scope{province: s}, nil
	}
	return scope{}, fmt.Errorf("scope [%s]: want ES, a community code (CT) or a province's INE code (08)", s)
}

// line is one holiday line: its date, the scope written between brackets or
// after @ ("" when none), and the name.
type line struct {
	date  time.Time
	scope string
	name  string
}

// parseLine reads "YYYY-MM-DD [scope] name", "YYYY-MM-DD @scope name" or
// "YYYY-MM-DD name"; the scope and the name are optional.
func parseLine(text string) (line, error) {
	field := strings.Fields(text)[0]
	t, err := time.Parse(time.DateOnly, field)
	if err != nil {
		return line{}, fmt.Errorf("%q is not a valid YYYY-MM-DD date", field)
	}
	y, m, d := t.Date()
	l := line{date: Date(y, m, d)}
	rest := strings.TrimSpace(text[len(field):])
	switch {
	case strings.HasPrefix(rest, "["):
		inside, after, ok := strings.Cut(rest[1:], "]")
		if !ok {
			return line{}, fmt.Errorf("%q: the scope's [ is not closed", rest)
		}
		l.scope, rest = strings.TrimSpace(inside), after
		if l.scope == "" {
			return line{}, fmt.Errorf("empty scope []")
		}
	case strings.HasPrefix(rest, "@"):
		tok := strings.Fields(rest)[0]
		l.scope, rest = tok[1:], rest[len(tok):]
		if l.scope == "" {
			return line{}, fmt.Errorf("empty scope after @")
		}
	}
	l.name = strings.TrimSpace(rest)
	return l, nil
}

// eachLine calls f with every line that is neither blank nor only space,
// trimmed, with its 1-based number; a byte-order mark is dropped. Lines that
// start with # reach f too, so a data file can read its header.
func eachLine(r io.Reader, f func(n int, line string) error) error {
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		text := sc.Text()
		if n == 1 {
			text = strings.TrimPrefix(text, "\ufeff") // files saved by Windows editors
		}
		text = strings.TrimSpace(text)
		if text == "" {
			continue
		}
		if err := f(n, text); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("line %d: %w", n+1, err)
	}
	return nil
}

// ParseExtra reads a holidays file of the retailer (IMPAGOS_HOLIDAYS_FILE):
// one holiday per line,
//
//	YYYY-MM-DD [name]                   a holiday in every province
//	YYYY-MM-DD [scope] name             a holiday where scope says
//	YYYY-MM-DD @scope name              the same, for a scope without spaces
//
// where scope is a province (name or INE code, as LookupProvince reads it:
// [Barcelona], @08, [28079] for Madrid's municipality code), an autonomous
// community ([Cataluña], @CT: all its provinces) or ES (every province).
// Blank lines and lines starting with # are ignored. The dates are midnight
// in Madrid. Errors name the line.
func ParseExtra(r io.Reader) (Extra, error) {
	var e Extra
	err := eachLine(r, func(n int, text string) error {
		if strings.HasPrefix(text, "#") {
			return nil
		}
		l, err := parseLine(text)
		if err != nil {
			return fmt.Errorf("holidays line %d: %w", n, err)
		}
		codes, err := extraScope(l.scope)
		if err != nil {
			return fmt.Errorf("holidays line %d: %w", n, err)
		}
		if codes == nil {
			e.All = append(e.All, l.date)
			return nil
		}
		if e.ByProvince == nil {
			e.ByProvince = map[string][]time.Time{}
		}
		for _, c := range codes {
			e.ByProvince[c] = append(e.ByProvince[c], l.date)
		}
		return nil
	})
	if err != nil && !strings.HasPrefix(err.Error(), "holidays line") {
		err = fmt.Errorf("holidays %w", err) // a read error: "line N: ..."
	}
	return e, err
}

// extraScope returns the INE codes of the provinces a configured scope
// covers, nil for every province.
func extraScope(s string) ([]string, error) {
	if s == "" || s == "ES" || fold(s) == "espana" {
		return nil, nil
	}
	if p, ok := LookupProvince(s); ok {
		return []string{p.Code}, nil
	}
	if c, ok := LookupCommunity(s); ok {
		var codes []string
		for _, p := range provinces {
			if p.Community == c.Code {
				codes = append(codes, p.Code)
			}
		}
		return codes, nil
	}
	return nil, fmt.Errorf("scope %q is not a province, a province's INE code, a community or ES", s)
}

// LoadExtra reads the holidays file at path with ParseExtra. An empty path
// means no configured holidays.
func LoadExtra(path string) (Extra, error) {
	if path == "" {
		return Extra{}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return Extra{}, fmt.Errorf("load holidays: %w", err)
	}
	defer f.Close()
	e, err := ParseExtra(f)
	if err != nil {
		return Extra{}, fmt.Errorf("load holidays %s: %w", path, err)
	}
	return e, nil
}
