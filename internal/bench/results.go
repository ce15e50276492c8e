package main

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// figure is one measured number.
type figure struct {
	fig    string // the figure it belongs to: "1".."7"
	name   string
	value  float64
	unit   string
	digits int    // decimals printed
	target string // e.g. "≥ 0.8"; empty when the figure has none
	met    *bool  // nil when there is no target or nothing was measured
}

// results collects the figures as they are measured; figures run in
// goroutines (figure 3 runs in the background), so it locks.
type results struct {
	mu       sync.Mutex
	figs     []figure
	failures map[string]string // figure → why it was not measured
	notes    []string
}

func (r *results) add(f figure) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.figs = append(r.figs, f)
}

// addTarget adds a figure with a target: at least min when atLeast, else at most max.
func (r *results) addTarget(f figure, limit float64, atLeast bool) {
	ok := f.value <= limit
	op := "≤"
	if atLeast {
		ok, op = f.value >= limit, "≥"
	}
	f.met = &ok
	f.target = op + " " + trimFloat(limit)
	r.add(f)
}

func (r *results) fail(fig string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failures == nil {
		r.failures = map[string]string{}
	}
	r.failures[fig] = err.Error()
}

func (r *results) note(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

// failed lists the figures that could not be measured.
func (r *results) failed() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for f, why := range r.failures {
		out = append(out, fmt.Sprintf("%s (%s)", f, why))
	}
	sort.Strings(out)
	return out
}

// sorted returns the figures in figure order, keeping the order within one.
func (r *results) sorted() []figure {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := append([]figure(nil), r.figs...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].fig < out[j].fig })
	return out
}

// sortedNotes returns the notes in figure order (each begins "figure N").
func (r *results) sortedNotes() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := append([]string(nil), r.notes...)
	sort.Strings(out)
	return out
}

func (f figure) formatted() string {
	if math.IsNaN(f.value) {
		return "NaN"
	}
	return fmt.Sprintf("%.*f", f.digits, f.value)
}

func (f figure) verdict() string {
	switch {
	case f.met == nil:
		return ""
	case *f.met:
		return "met"
	default:
		return "MISSED"
	}
}

// print writes the table, the notes and the BENCH lines.
func (r *results) print(w io.Writer, m machine, total time.Duration) {
	figs := r.sorted()
	fmt.Fprintf(w, "\nimpagos bench on %s\n\n", m.summary())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "fig\tname\tvalue\tunit\ttarget\t")
	for _, f := range figs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s %s\t\n", f.fig, f.name, f.formatted(), f.unit, f.target, f.verdict())
	}
	tw.Flush()
	for _, fail := range r.failed() {
		fmt.Fprintf(w, "not measured: figure %s\n", fail)
	}
	for _, n := range r.sortedNotes() {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	fmt.Fprintf(w, "total runtime %s\n\n", total.Round(time.Second))
	for _, f := range figs {
		fmt.Fprintf(w, "BENCH %s %s %s\n", f.name, f.formatted(), f.unit)
	}
	fmt.Fprintf(w, "BENCH total_runtime_s %.0f s\n", total.Seconds())
}

// The block of docs/benchmarks.md the bench rewrites.
const (
	docBegin = "<!-- bench:results:begin (written by make bench; edit outside this block) -->"
	docEnd   = "<!-- bench:results:end -->"
)

// writeDoc replaces the results block of a markdown file with this run's.
func writeDoc(path string, r *results, m machine, total time.Duration) error {
	old, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	i, j := bytes.Index(old, []byte(docBegin)), bytes.Index(old, []byte(docEnd))
	if i < 0 || j < i {
		return fmt.Errorf("%s has no results block (%s ... %s)", path, docBegin, docEnd)
	}
	var b strings.Builder
	b.WriteString(docBegin + "\n\n")
	fmt.Fprintf(&b, "Last full run: %s, total runtime %s.\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"), total.Round(time.Second))
	b.WriteString("| machine | |\n|---|---|\n")
	for _, kv := range m.rows() {
		fmt.Fprintf(&b, "| %s | %s |\n", kv[0], kv[1])
	}
	b.WriteString("\n| fig | figure | value | unit | target | |\n|---|---|---:|---|---|---|\n")
	for _, f := range r.sorted() {
		fmt.Fprintf(&b, "| %s | `%s` | %s | %s | %s | %s |\n", f.fig, f.name, f.formatted(), f.unit, f.target, f.verdict())
	}
	if failed := r.failed(); len(failed) > 0 {
		b.WriteString("\nNot measured: figure " + strings.Join(failed, "; figure ") + "\n")
	}
	if notes := r.sortedNotes(); len(notes) > 0 {
		b.WriteString("\n")
		for _, n := range notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	b.WriteString("\n```\n")
	for _, f := range r.sorted() {
		fmt.Fprintf(&b, "BENCH %s %s %s\n", f.name, f.formatted(), f.unit)
	}
	fmt.Fprintf(&b, "BENCH total_runtime_s %.0f s\n", total.Seconds())
	b.WriteString("```\n\n")
	out := append([]byte(nil), old[:i]...)
	out = append(out, b.String()...)
	out = append(out, old[j:]...)
	return os.WriteFile(path, out, 0o644)
}

// trimFloat prints a limit without trailing zeros: 0.8, 200, 2000.
func trimFloat(v float64) string {
	if v >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	s := fmt.Sprintf("%.3f", v)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return a / b
}
