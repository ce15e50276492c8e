package workflows

import (
	"fmt"
	"time"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/calendar"
)

// Policy is every interval of the process. It travels in the workflow input, so
// a case keeps the policy it started with whatever changes later.
type Policy struct {
	Name string `json:"name"`
	// Scale is how many seconds of case time pass per real second: 1 in
	// production; the demo policy makes a day last two seconds. Dates a case
	// shows (notices, cut date, next action) are case time; only the
	// NextActionAt search attribute is real time, when the timer fires.
	Scale int64 `json:"scale"`
	// NoticeSpacingDays separates aviso 1, aviso 2 and aviso 3.
	NoticeSpacingDays int `json:"notice_spacing_days"`
	// RegulatoryWaitMonths follow the formal demand before a domestic cut may be scheduled.
	RegulatoryWaitMonths int `json:"regulatory_wait_months"`
	// BonoSocialWaitMonths replace RegulatoryWaitMonths for Bono Social customers.
	BonoSocialWaitMonths int `json:"bono_social_wait_months"`
	// BusinessCutLeadDays separate the business cut letter from the cut date (before moving it to an allowed day).
	BusinessCutLeadDays int `json:"business_cut_lead_days"`
	// PreCutEmailDays is how long before the cut date the customer is e-mailed that the cut is coming.
	PreCutEmailDays int `json:"pre_cut_email_days"`
	// ActionHour is the hour (Europe/Madrid) at which day-based actions happen.
	ActionHour int `json:"action_hour"`
	// ReconnectWithinDays bounds when the distributor must have reconnected
	// after payment: by the next day at the latest, so 1 is the only valid value.
	ReconnectWithinDays int `json:"reconnect_within_days"`
	// Holidays are the regional and local holidays (YYYY-MM-DD) added to the national ones.
	Holidays []string `json:"holidays,omitempty"`
	// MinimumSupplyMonths is how long a Bono Social household keeps the
	// Suministro Mínimo Vital (power limited to MinimumSupplyKW) after its
	// wait, before any cut. Zero in cases started before it: 6.
	MinimumSupplyMonths int `json:"minimum_supply_months,omitempty"`
	// AttentionAfter is how long an activity may keep failing before the case
	// raises NeedsAttention. Zero in cases started before it: 1 hour.
	AttentionAfter time.Duration `json:"attention_after,omitempty"`
	// CutBans are the decreed periods in which the consumers of the classes
	// they name are not cut.
	CutBans []activities.CutBan `json:"cut_bans,omitempty"`
	// AnswerWithinWorkingDays bounds the distributor's answer to a request
	// (B1 02, 04), and ExecuteWithinWorkingDays the cut after the day it
	// announced (05); past them the case raises NeedsAttention. Zero in cases
	// started before them: 5 and 2.
	AnswerWithinWorkingDays  int `json:"answer_within_working_days,omitempty"`
	ExecuteWithinWorkingDays int `json:"execute_within_working_days,omitempty"`
}

// MinimumSupplyKW is the power of the Suministro Mínimo Vital.
const MinimumSupplyKW = 3.5

// Defaults of the fields added after cases were running.
const (
	defaultMinimumSupplyMonths = 6
	defaultAttentionAfter      = time.Hour
	defaultAnswerWithin        = 5
	defaultExecuteWithin       = 2
)

// DecreedCutBans are the bans on cutting vulnerable consumers decreed so far
// (the "escudo social": RDL 8/2023 and its extensions, the last until
// 31/12/2025). A renewal is added here, or in IMPAGOS_CUT_BANS_FILE.
func DecreedCutBans() []activities.CutBan {
	return []activities.CutBan{{
		Name:    "prohibición de suspender el suministro a consumidores vulnerables (RDL 8/2023 y prórrogas)",
		From:    calendar.Date(2023, time.January, 1),
		To:      calendar.Date(2025, time.December, 31),
		Classes: []string{activities.ClassBonoSocial, activities.ClassProtected},
	}}
}

// DefaultPolicy is PROCESS.md's process in real time.
func DefaultPolicy() Policy {
	return Policy{
		Name:                     "default",
		Scale:                    1,
		NoticeSpacingDays:        7,
		RegulatoryWaitMonths:     2,
		BonoSocialWaitMonths:     4,
		BusinessCutLeadDays:      15,
		PreCutEmailDays:          3,
		ActionHour:               9,
		ReconnectWithinDays:      1,
		MinimumSupplyMonths:      defaultMinimumSupplyMonths,
		AttentionAfter:           defaultAttentionAfter,
		CutBans:                  DecreedCutBans(),
		AnswerWithinWorkingDays:  defaultAnswerWithin,
		ExecuteWithinWorkingDays: defaultExecuteWithin,
	}
}

// DemoPolicy is the default process with a day lasting two seconds, so a
// whole domestic case runs in a few minutes.
func DemoPolicy() Policy {
	p := DefaultPolicy()
	p.Name = "demo"
	p.Scale = 43200
	// The local distributor stand-in answers in seconds, days of this clock:
	// it is given the bounds of a slow distributor, not found late.
	p.AnswerWithinWorkingDays, p.ExecuteWithinWorkingDays = 10, 5
	return p
}

// PolicyByName returns a named policy.
func PolicyByName(name string) (Policy, error) {
	switch name {
	case "", "default":
		return DefaultPolicy(), nil
	case "demo":
		return DemoPolicy(), nil
	}
	return Policy{}, fmt.Errorf("unknown policy %q (want default or demo)", name)
}

// Validate reports the first interval that makes no sense.
func (p Policy) Validate() error {
	switch {
	case p.Scale < 1:
		return fmt.Errorf("policy %s: scale must be at least 1, got %d", p.Name, p.Scale)
	case p.NoticeSpacingDays < 1:
		return fmt.Errorf("policy %s: notice spacing must be at least 1 day, got %d", p.Name, p.NoticeSpacingDays)
	case p.RegulatoryWaitMonths < 2:
		return fmt.Errorf("policy %s: the regulatory wait is at least 2 months, got %d", p.Name, p.RegulatoryWaitMonths)
	case p.BonoSocialWaitMonths < 4:
		return fmt.Errorf("policy %s: the Bono Social wait is at least 4 months, got %d", p.Name, p.BonoSocialWaitMonths)
	case p.BusinessCutLeadDays < 1:
		return fmt.Errorf("policy %s: business cut lead must be at least 1 day, got %d", p.Name, p.BusinessCutLeadDays)
	case p.PreCutEmailDays < 1:
		return fmt.Errorf("policy %s: pre-cut e-mail lead must be at least 1 day, got %d", p.Name, p.PreCutEmailDays)
	case p.ActionHour < 0 || p.ActionHour > 23:
		return fmt.Errorf("policy %s: action hour must be 0-23, got %d", p.Name, p.ActionHour)
	case p.ReconnectWithinDays < 1:
		return fmt.Errorf("policy %s: reconnection must be due within at least 1 day, got %d", p.Name, p.ReconnectWithinDays)
	case p.MinimumSupplyMonths != 0 && p.MinimumSupplyMonths < defaultMinimumSupplyMonths:
		return fmt.Errorf("policy %s: the Suministro Mínimo Vital lasts at least %d months, got %d", p.Name, defaultMinimumSupplyMonths, p.MinimumSupplyMonths)
	case p.AnswerWithinWorkingDays < 0 || p.ExecuteWithinWorkingDays < 0:
		return fmt.Errorf("policy %s: the distributor's bounds must not be negative, got %d and %d", p.Name, p.AnswerWithinWorkingDays, p.ExecuteWithinWorkingDays)
	case p.AttentionAfter < 0:
		return fmt.Errorf("policy %s: attention bound must not be negative, got %s", p.Name, p.AttentionAfter)
	case p.ReconnectWithinDays > 1:
		// PROCESS step 8: reconnection is due by the next day at the latest.
		return fmt.Errorf("policy %s: reconnection must be due by the next day at the latest (1 day), got %d", p.Name, p.ReconnectWithinDays)
	}
	if _, err := p.Calendar(); err != nil {
		return err
	}
	return nil
}

// Calendar builds the allowed-cut-day calendar with the policy's extra holidays.
func (p Policy) Calendar() (calendar.Calendar, error) {
	extra := make([]time.Time, 0, len(p.Holidays))
	for _, h := range p.Holidays {
		d, err := time.ParseInLocation(time.DateOnly, h, calendar.Madrid)
		if err != nil {
			return calendar.Calendar{}, fmt.Errorf("policy %s: holiday %q is not YYYY-MM-DD", p.Name, h)
		}
		extra = append(extra, d)
	}
	return calendar.New(extra...), nil
}

// realDuration turns a span of case time into the real time a timer must wait.
func (p Policy) realDuration(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	// Rounded up, so the timer never fires before the case-time moment.
	r := (d + time.Duration(p.Scale) - 1) / time.Duration(p.Scale)
	if r < time.Millisecond {
		r = time.Millisecond
	}
	return r
}

// at returns the moment of day d when day-based actions happen.
func (p Policy) at(d time.Time) time.Time {
	d = d.In(calendar.Madrid)
	return time.Date(d.Year(), d.Month(), d.Day(), p.ActionHour, 0, 0, 0, calendar.Madrid)
}

// withDefaults fills the fields a case started before they existed lacks.
func (p Policy) withDefaults() Policy {
	if p.MinimumSupplyMonths == 0 {
		p.MinimumSupplyMonths = defaultMinimumSupplyMonths
	}
	if p.AttentionAfter == 0 {
		p.AttentionAfter = defaultAttentionAfter
	}
	if p.AnswerWithinWorkingDays == 0 {
		p.AnswerWithinWorkingDays = defaultAnswerWithin
	}
	if p.ExecuteWithinWorkingDays == 0 {
		p.ExecuteWithinWorkingDays = defaultExecuteWithin
	}
	return p
}

// bansOn returns the ban that covers day for a consumer with those flags.
func (p Policy) banOn(day time.Time, k activities.Contract) *activities.CutBan {
	d := calendar.Date(day.In(calendar.Madrid).Date())
	for i, b := range p.CutBans {
		if d.Before(calendar.Date(b.From.In(calendar.Madrid).Date())) || d.After(calendar.Date(b.To.In(calendar.Madrid).Date())) {
			continue
		}
		for _, class := range b.Classes {
			if (class == activities.ClassBonoSocial && k.BonoSocial) || (class == activities.ClassProtected && k.Protected) ||
				(class == activities.ClassDomestic && k.Segment == activities.SegmentDomestic) {
				return &p.CutBans[i]
			}
		}
	}
	return nil
}
