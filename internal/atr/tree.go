package atr

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// node is one element of a message: its text when a leaf, its elements when
// a group.
type node struct {
	name  string
	text  string
	kids  []*node
	group bool // written with elements inside, even when kids is empty
}

func (n *node) child(name string) *node {
	for _, k := range n.kids {
		if k.name == name {
			return k
		}
	}
	return nil
}

// str is the text of the named child, "" when it is absent.
func (n *node) str(name string) string {
	if k := n.child(name); k != nil {
		return k.text
	}
	return ""
}

func (n *node) all(name string) []*node {
	var out []*node
	for _, k := range n.kids {
		if k.name == name {
			out = append(out, k)
		}
	}
	return out
}

const xsiNamespace = "http://www.w3.org/2001/XMLSchema-instance"

// readTree reads data into a tree of elements, refusing what no B1 message
// holds: another namespace, attributes, DTDs, text outside the root, nesting
// deeper than MaxDepth.
func readTree(data []byte) (*node, error) {
	if len(data) > MaxSize {
		return nil, &Error{Reason: fmt.Sprintf("%d bytes, more than the %d a message may have", len(data), MaxSize)}
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	d := xml.NewDecoder(bytes.NewReader(data))
	d.CharsetReader = charsetReader
	var root *node
	var stack []*node
	var texts [][]byte // text of each open element
	path := func() string {
		names := make([]string, len(stack))
		for i, n := range stack {
			names[i] = n.name
		}
		return strings.Join(names, "/")
	}
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			if root == nil {
				return nil, &Error{Reason: "no root element"}
			}
			if len(stack) > 0 {
				return nil, &Error{Element: path(), Reason: "truncated: the element is not closed"}
			}
			return root, nil
		}
		if err != nil {
			return nil, &Error{Element: path(), Reason: "malformed XML: " + err.Error()}
		}
		switch t := tok.(type) {
		case xml.StartElement:
			here := t.Name.Local
			if len(stack) > 0 {
				here = path() + "/" + here
			}
			switch {
			case root != nil && len(stack) == 0:
				return nil, &Error{Element: here, Reason: "a second root element"}
			case len(stack) >= MaxDepth:
				return nil, &Error{Element: path(), Reason: fmt.Sprintf("elements nested deeper than %d", MaxDepth)}
			case t.Name.Space != Namespace:
				return nil, &Error{Element: here, Reason: fmt.Sprintf("namespace %q, want %q", t.Name.Space, Namespace)}
			}
			for _, a := range t.Attr {
				declaration := a.Name.Space == "xmlns" || a.Name.Space == "" && a.Name.Local == "xmlns"
				if !declaration && !(a.Name.Space == xsiNamespace && len(stack) == 0) {
					return nil, &Error{Element: here, Reason: fmt.Sprintf("attribute %s is not allowed", a.Name.Local)}
				}
			}
			n := &node{name: t.Name.Local}
			if len(stack) == 0 {
				root = n
			} else {
				parent := stack[len(stack)-1]
				parent.kids = append(parent.kids, n)
			}
			stack = append(stack, n)
			texts = append(texts, nil)
		case xml.EndElement:
			// The decoder has checked that it closes the open element.
			top := len(stack) - 1
			stack[top].text = string(texts[top])
			stack, texts = stack[:top], texts[:top]
		case xml.CharData:
			if len(stack) == 0 {
				if len(bytes.TrimLeft(t, " \t\r\n")) > 0 {
					return nil, &Error{Reason: "text outside the root element"}
				}
				continue
			}
			texts[len(texts)-1] = append(texts[len(texts)-1], t...)
		case xml.Comment:
		case xml.ProcInst:
			if t.Target != "xml" || root != nil {
				return nil, &Error{Element: path(), Reason: fmt.Sprintf("processing instruction <?%s?> is not allowed", t.Target)}
			}
		case xml.Directive:
			return nil, &Error{Element: path(), Reason: "DOCTYPE and other directives are not allowed"}
		}
	}
}

// charsetReader lets Parse read ISO-8859-1, the encoding of the CNMC's
// schema files and of many distributors' messages.
func charsetReader(label string, r io.Reader) (io.Reader, error) {
	switch strings.ToLower(label) {
	case "iso-8859-1", "iso8859-1", "latin1", "l1":
	default:
		return nil, fmt.Errorf("encoding %q is not UTF-8 or ISO-8859-1", label)
	}
	b, err := io.ReadAll(r) // bounded: the input is at most MaxSize
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(b)+len(b)/8)
	for _, c := range b {
		out = utf8.AppendRune(out, rune(c))
	}
	return bytes.NewReader(out), nil
}

// validate checks n against s (n's name already matches), normalizing the
// text of collapsed leaves in place; path names n.
func validate(path string, s *spec, n *node) error {
	switch {
	case s.opaque:
		return nil
	case s.check != nil:
		if len(n.kids) > 0 {
			return &Error{Element: path + "/" + n.kids[0].name, Reason: "unexpected element inside a value"}
		}
		if s.collapse {
			n.text = collapse(n.text)
		}
		if !xmlText(n.text) {
			return &Error{Element: path, Reason: "has a character XML cannot carry"}
		}
		if reason := s.check(n.text); reason != "" {
			if n.text == "" {
				reason = "empty"
			}
			return &Error{Element: path, Reason: reason}
		}
		return nil
	}
	if strings.Trim(n.text, " \t\r\n") != "" {
		return &Error{Element: path, Reason: "text where elements are expected"}
	}
	seq := s.seq
	if s.alts != nil {
		seq = nil
		for _, alt := range s.alts {
			if len(n.kids) > 0 && n.kids[0].name == alt[0].name {
				seq = alt
			}
		}
		if seq == nil {
			firsts := make([]string, len(s.alts))
			for i, alt := range s.alts {
				firsts[i] = alt[0].name
			}
			if len(n.kids) == 0 {
				return &Error{Element: path, Reason: "empty: needs " + strings.Join(firsts, " or ")}
			}
			return &Error{Element: path + "/" + n.kids[0].name, Reason: "unexpected element: needs " + strings.Join(firsts, " or ")}
		}
	}
	return validateSeq(path, seq, n.kids)
}

// validateSeq checks that kids follow specs in order and number.
func validateSeq(path string, specs []*spec, kids []*node) error {
	known := func(name string) bool {
		for _, s := range specs {
			if s.name == name {
				return true
			}
		}
		return false
	}
	i := 0
	for si, s := range specs {
		n := 0
		for i < len(kids) && kids[i].name == s.name {
			if n == s.max {
				return &Error{Element: path + "/" + s.name, Reason: fmt.Sprintf("more than %d", s.max)}
			}
			if err := validate(path+"/"+s.name, s, kids[i]); err != nil {
				return err
			}
			i, n = i+1, n+1
		}
		if n >= s.min {
			continue
		}
		switch {
		case i < len(kids) && !known(kids[i].name):
			return &Error{Element: path + "/" + kids[i].name, Reason: "unexpected element"}
		case i < len(kids) && laterHas(kids[i:], s.name):
			return &Error{Element: path + "/" + s.name, Reason: "out of order: must come before " + kids[i].name}
		case i < len(kids) && !laterSpec(specs[si+1:], kids[i].name):
			return &Error{Element: path + "/" + kids[i].name, Reason: "out of order: must come after " + s.name}
		}
		return &Error{Element: path + "/" + s.name, Reason: "missing"}
	}
	if i < len(kids) {
		if known(kids[i].name) {
			return &Error{Element: path + "/" + kids[i].name, Reason: "out of order or repeated"}
		}
		return &Error{Element: path + "/" + kids[i].name, Reason: "unexpected element"}
	}
	return nil
}

func laterHas(kids []*node, name string) bool {
	for _, k := range kids {
		if k.name == name {
			return true
		}
	}
	return false
}

func laterSpec(specs []*spec, name string) bool {
	for _, s := range specs {
		if s.name == name {
			return true
		}
	}
	return false
}

// write appends n as indented XML; the root carries the namespace.
func write(b *bytes.Buffer, n *node, depth int) {
	indent := strings.Repeat("  ", depth)
	b.WriteString(indent)
	b.WriteString("<" + n.name)
	if depth == 0 {
		b.WriteString(` xmlns="` + Namespace + `"`)
	}
	b.WriteString(">")
	if !n.group {
		_ = xml.EscapeText(b, []byte(n.text)) // a bytes.Buffer does not fail
	} else {
		b.WriteString("\n")
		for _, k := range n.kids {
			write(b, k, depth+1)
		}
		b.WriteString(indent)
	}
	b.WriteString("</" + n.name + ">\n")
}
