package distributor

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// The variables the worker and the starter read.
const (
	EnvOutbox  = "IMPAGOS_ATR_OUTBOX"   // folder the distributor collects our messages from
	EnvInbox   = "IMPAGOS_ATR_INBOX"    // folder the distributor leaves its answers in
	EnvREECode = "IMPAGOS_ATR_REE_CODE" // our code at REE, 4 digits: the sender of every message
	EnvPoll    = "IMPAGOS_ATR_POLL"     // how often the worker reads the inbox (a Go duration)
)

// DefaultPoll is how often the worker reads the inbox when EnvPoll is unset.
const DefaultPoll = 2 * time.Second

// Config is where the ATR messages go and come from.
type Config struct {
	// Outbox is the folder messages are written to; empty keeps them in the
	// ledger, unsent.
	Outbox string
	// Inbox is the folder answers are read from; empty reads none.
	Inbox string
	// REECode is the retailer's code at REE; required with an outbox.
	REECode string
	Poll    time.Duration
}

// ConfigFromEnv reads IMPAGOS_ATR_OUTBOX, IMPAGOS_ATR_INBOX,
// IMPAGOS_ATR_REE_CODE and IMPAGOS_ATR_POLL (default 2s). A bad value is an
// error that names its variable.
func ConfigFromEnv() (Config, error) {
	c := Config{
		Outbox:  strings.TrimSpace(os.Getenv(EnvOutbox)),
		Inbox:   strings.TrimSpace(os.Getenv(EnvInbox)),
		REECode: strings.TrimSpace(os.Getenv(EnvREECode)),
		Poll:    DefaultPoll,
	}
	if c.REECode == "" && c.Outbox != "" {
		return c, fmt.Errorf("%s is set but not %s: the messages need our code at REE as their sender", EnvOutbox, EnvREECode)
	}
	if c.REECode != "" && !isREECode(c.REECode) {
		return c, fmt.Errorf("%s=%q: want our code at REE, 4 digits", EnvREECode, c.REECode)
	}
	if v := strings.TrimSpace(os.Getenv(EnvPoll)); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return c, fmt.Errorf("%s=%q: want a positive duration such as 2s or 1m", EnvPoll, v)
		}
		c.Poll = d
	}
	return c, nil
}

func isREECode(s string) bool {
	if len(s) != 4 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
