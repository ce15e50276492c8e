package mail

import (
	"html"
	"strings"
)

// The layout is inline-styled because many mail clients drop <style> blocks.
const (
	htmlHead = `<!DOCTYPE html>
<html lang="es">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
</head>
<body style="margin:0;padding:0;background-color:#f4f4f4;">
<div style="max-width:600px;margin:0 auto;padding:24px;background-color:#ffffff;font-family:Arial,Helvetica,sans-serif;font-size:15px;line-height:1.5;color:#222222;">
`
	htmlTail = `</div>
</body>
</html>
`
	styleP     = `margin:0 0 16px 0;`
	styleTable = `border-collapse:collapse;margin:0 0 16px 0;`
	styleLabel = `padding:2px 16px 2px 0;color:#555555;vertical-align:top;`
	styleValue = `padding:2px 0;font-weight:bold;vertical-align:top;`
	stylePre   = `margin:0 0 16px 0;padding:8px;background-color:#f4f4f4;font-family:Consolas,Menlo,monospace;font-size:13px;white-space:pre-wrap;`
)

// HTMLFromText turns a plain-text notice into a minimal HTML e-mail body, so
// each notice keeps a single text to maintain. Paragraphs are separated by
// blank lines and keep their line breaks; a run of indented lines becomes a
// two-column table when every line reads "Label: value", and preformatted
// text otherwise. Every piece of the text is HTML-escaped.
func HTMLFromText(text string) string {
	var b strings.Builder
	b.WriteString(htmlHead)
	for _, block := range paragraphs(text) {
		for _, run := range runs(block) {
			switch {
			case !run.indented:
				writeParagraph(&b, run.lines)
			case isTable(run.lines):
				writeTable(&b, run.lines)
			default:
				writePre(&b, run.lines)
			}
		}
	}
	b.WriteString(htmlTail)
	return b.String()
}

// paragraphs splits text into groups of non-blank lines.
func paragraphs(text string) [][]string {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	var out [][]string
	var cur []string
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimRight(line, " \t\r")
		if line == "" {
			if len(cur) > 0 {
				out = append(out, cur)
				cur = nil
			}
			continue
		}
		cur = append(cur, line)
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

type run struct {
	indented bool
	lines    []string
}

// runs splits a paragraph into consecutive lines that share indentation.
func runs(lines []string) []run {
	var out []run
	for _, line := range lines {
		ind := line[0] == ' ' || line[0] == '\t'
		if n := len(out); n > 0 && out[n-1].indented == ind {
			out[n-1].lines = append(out[n-1].lines, line)
			continue
		}
		out = append(out, run{indented: ind, lines: []string{line}})
	}
	return out
}

func isTable(lines []string) bool {
	for _, line := range lines {
		label, value, ok := strings.Cut(strings.TrimSpace(line), ": ")
		if !ok || strings.TrimSpace(label) == "" || strings.TrimSpace(value) == "" {
			return false
		}
	}
	return true
}

func writeParagraph(b *strings.Builder, lines []string) {
	b.WriteString(`<p style="` + styleP + `">`)
	for i, line := range lines {
		if i > 0 {
			b.WriteString("<br>\n")
		}
		b.WriteString(html.EscapeString(line))
	}
	b.WriteString("</p>\n")
}

func writeTable(b *strings.Builder, lines []string) {
	b.WriteString(`<table role="presentation" style="` + styleTable + `">` + "\n")
	for _, line := range lines {
		label, value, _ := strings.Cut(strings.TrimSpace(line), ": ")
		b.WriteString(`<tr><td style="` + styleLabel + `">`)
		b.WriteString(html.EscapeString(strings.TrimSpace(label)))
		b.WriteString(`</td><td style="` + styleValue + `">`)
		b.WriteString(html.EscapeString(strings.TrimSpace(value)))
		b.WriteString("</td></tr>\n")
	}
	b.WriteString("</table>\n")
}

// writePre keeps the layout of the lines, less the indentation they share.
func writePre(b *strings.Builder, lines []string) {
	common := -1
	for _, line := range lines {
		n := len(line) - len(strings.TrimLeft(line, " \t"))
		if common < 0 || n < common {
			common = n
		}
	}
	b.WriteString(`<pre style="` + stylePre + `">`)
	for i, line := range lines {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(html.EscapeString(line[common:]))
	}
	b.WriteString("</pre>\n")
}
