package standin

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/elega/impagos/internal/atr"
	"github.com/elega/impagos/internal/cups"
)

// The environment variables OptionsFromEnv reads.
const (
	EnvEnabled       = "IMPAGOS_ATR_STANDIN"                // "1" runs the stand-in
	EnvOutbox        = "IMPAGOS_ATR_OUTBOX"                 // the retailer's outbox
	EnvInbox         = "IMPAGOS_ATR_INBOX"                  // the retailer's inbox
	EnvAcceptAfter   = "IMPAGOS_ATR_STANDIN_ACCEPT_AFTER"   // Go duration; DefaultAcceptAfter
	EnvActivateAfter = "IMPAGOS_ATR_STANDIN_ACTIVATE_AFTER" // Go duration; DefaultActivateAfter
	EnvPoll          = "IMPAGOS_ATR_STANDIN_POLL"           // Go duration, positive; DefaultPoll
	EnvList          = "IMPAGOS_ATR_STANDIN_LIST"           // a file of CUPS the distributor treats apart
)

// The delays when their variables are not set.
const (
	DefaultAcceptAfter   = 5 * time.Second
	DefaultActivateAfter = 15 * time.Second
)

// OptionsFromEnv reads the stand-in's configuration. enabled is false, and
// nothing else is read, unless IMPAGOS_ATR_STANDIN is "1"; then
// IMPAGOS_ATR_OUTBOX and IMPAGOS_ATR_INBOX are required, the delays
// IMPAGOS_ATR_STANDIN_ACCEPT_AFTER and IMPAGOS_ATR_STANDIN_ACTIVATE_AFTER are
// Go durations (default 5s and 15s), IMPAGOS_ATR_STANDIN_POLL is how often it
// looks at the outbox (a positive Go duration, default 1s), and
// IMPAGOS_ATR_STANDIN_LIST names an optional file read by ParseList. A bad value gives an error naming its
// variable (and the list's line).
func OptionsFromEnv() (o Options, enabled bool, err error) {
	switch v := strings.TrimSpace(os.Getenv(EnvEnabled)); v {
	case "", "0":
		return Options{}, false, nil
	case "1":
	default:
		return Options{}, false, fmt.Errorf("%s=%q: want 1 (on) or 0 (off)", EnvEnabled, v)
	}
	o.Outbox = strings.TrimSpace(os.Getenv(EnvOutbox))
	o.Inbox = strings.TrimSpace(os.Getenv(EnvInbox))
	for _, v := range []struct{ name, value string }{{EnvOutbox, o.Outbox}, {EnvInbox, o.Inbox}} {
		if v.value == "" {
			return Options{}, false, fmt.Errorf("%s is required when %s=1", v.name, EnvEnabled)
		}
	}
	if o.AcceptAfter, err = durationEnv(EnvAcceptAfter, DefaultAcceptAfter); err != nil {
		return Options{}, false, err
	}
	if o.ActivateAfter, err = durationEnv(EnvActivateAfter, DefaultActivateAfter); err != nil {
		return Options{}, false, err
	}
	if o.Poll, err = durationEnv(EnvPoll, DefaultPoll); err != nil {
		return Options{}, false, err
	}
	if o.Poll == 0 {
		// Options.Poll zero is the default; a variable set to zero asks for
		// something else, a stand-in spinning without pause.
		return Options{}, false, fmt.Errorf("%s=%q: want a positive Go duration such as 1s or 100ms", EnvPoll, os.Getenv(EnvPoll))
	}
	if path := strings.TrimSpace(os.Getenv(EnvList)); path != "" {
		f, err := os.Open(path)
		if err != nil {
			return Options{}, false, fmt.Errorf("%s: %w", EnvList, err)
		}
		defer f.Close()
		if err := ParseList(f, &o); err != nil {
			return Options{}, false, fmt.Errorf("%s=%s: %w", EnvList, path, err)
		}
	}
	return o, true, nil
}

func durationEnv(name string, def time.Duration) (time.Duration, error) {
	v := strings.TrimSpace(os.Getenv(name))
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s=%q: want a Go duration such as 5s or 2m, not negative", name, v)
	}
	return d, nil
}

// ParseList reads the CUPS that the distributor treats apart into o.Reject,
// o.Silent and o.Breach. Each line is a CUPS and what to do with it:
//
//	# comment
//	ES0390412903576118RC 32       reject its 01 with code 32 (table 27)
//	ES0390705316624092MP C2       reject its 03 with C2 (cannot reconnect)
//	ES0390088120045731QJ silent   never answer it
//	ES0390310877245916PH breach   cut it on the next Friday on or after the day asked for
//
// A CUPS may have one code and breach; silent goes with nothing else.
func ParseList(r io.Reader, o *Options) error {
	if o.Reject == nil {
		o.Reject = map[string]string{}
	}
	if o.Silent == nil {
		o.Silent = map[string]bool{}
	}
	if o.Breach == nil {
		o.Breach = map[string]bool{}
	}
	first := map[string]int{} // CUPS → the line it first appeared on
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if len(fields) != 2 {
			return fmt.Errorf("line %d: want a CUPS and a rejection code, silent or breach, got %q", n, strings.TrimSpace(line))
		}
		c, what := strings.ToUpper(fields[0]), fields[1]
		if err := cups.Validate(c); err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
		earlier, seen := first[c]
		if !seen {
			first[c] = n
		}
		switch strings.ToLower(what) {
		case "silent":
			if seen {
				return fmt.Errorf("line %d: %s is silent and already listed on line %d", n, c, earlier)
			}
			o.Silent[c] = true
		case "breach":
			if o.Silent[c] {
				return fmt.Errorf("line %d: %s is silent (line %d)", n, c, earlier)
			}
			o.Breach[c] = true
		default:
			code := strings.ToUpper(what)
			if atr.CodeText(code) == "" {
				return fmt.Errorf("line %d: %q is not a rejection code of table 27, silent or breach", n, what)
			}
			if o.Silent[c] {
				return fmt.Errorf("line %d: %s is silent (line %d)", n, c, earlier)
			}
			if old, ok := o.Reject[c]; ok {
				return fmt.Errorf("line %d: %s already has code %s (listed from line %d)", n, c, old, earlier)
			}
			o.Reject[c] = code
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read: %w", err)
	}
	return nil
}
