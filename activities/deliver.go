package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/elega/impagos/internal/calendar"
	"github.com/elega/impagos/internal/mail"
)

// Outbox statuses.
const (
	StatusPending = "pending"  // stored; e-mail not yet sent, or a text/letter for the clerks
	StatusSent    = "sent"     // accepted by the e-mail provider
	StatusFailed  = "failed"   // refused for good (e.g. an invalid address)
	StatusNotSent = "not_sent" // no e-mail provider configured
	// StatusSending marks an e-mail claimed for sending: the provider is being
	// called, or the attempt that called it was cut short before it recorded
	// the answer. Such a row is settled from the provider's events (see
	// DeliverNotice); until then it is never sent again, since the customer may
	// have it.
	StatusSending = "sending"
)

// DefaultConfirmGrace is how long, by default, an e-mail whose sending attempt
// was cut short waits for SendGrid's event before it is taken as never sent.
// SendGrid posts its events in batches, normally within a minute; when the
// receiver is down (as it is while the worker that died restarts, if that
// worker served it) SendGrid posts them again some minutes later. Half an hour
// covers such a retry with room to spare; the price is that an e-mail that
// truly never left goes out half an hour late, and that takes a crash in the
// instant between the claim and the request.
const DefaultConfirmGrace = 30 * time.Minute

// How soon a row awaiting the provider's event is looked at again.
const (
	confirmPoll = time.Minute     // within the grace: an event may settle it any moment
	quietPoll   = 5 * time.Minute // past it, with no later e-mail reported: the events are not coming through
)

// Mailer sends e-mail; internal/mail does it with SendGrid.
type Mailer interface {
	Enabled() bool
	Send(ctx context.Context, m mail.Message) (messageID string, err error)
}

// Certifier sends a communication by a channel that keeps evidence of what was
// sent and when. A provider such as Logalty plugs in here. A qualified
// provider returns its certificate of delivery in Evidence.Certificate: the
// ledger records it, when the row is marked sent, as the proof of the formal
// notice the cut must follow.
type Certifier interface {
	Certify(ctx context.Context, m mail.Message) (Evidence, error)
}

// MailEvidence is the default certified channel: it sends the e-mail and
// keeps SHA-256 hashes of the exact content and attachments, the time and the
// provider's message id. It records evidence; it is not a legal certification,
// so it never returns a Certificate, and SendGrid's "delivered" event proves
// nothing either: a clerk records the proof (starter proof).
type MailEvidence struct {
	Mailer Mailer
	Now    func() time.Time
}

// Certify sends m and returns its evidence.
func (c MailEvidence) Certify(ctx context.Context, m mail.Message) (Evidence, error) {
	id, err := c.Mailer.Send(ctx, m)
	if err != nil {
		return Evidence{}, err
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	return Evidence{
		Provider:          "sendgrid+sha256",
		ContentSHA256:     ContentHash(m),
		AttachmentsSHA256: attachmentHashes(m.Attachments),
		MessageID:         id,
		SentAt:            now().UTC(),
	}, nil
}

// ContentHash is the SHA-256 of what the customer reads: recipient, subject,
// plain text and HTML, in that order, each followed by a zero byte.
func ContentHash(m mail.Message) string {
	h := sha256.New()
	for _, part := range []string{m.To, m.Subject, m.Text, m.HTML} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

func attachmentHashes(atts []mail.Attachment) map[string]string {
	out := make(map[string]string, len(atts))
	for _, a := range atts {
		sum := sha256.Sum256(a.Content)
		out[a.Filename] = hex.EncodeToString(sum[:])
	}
	return out
}

// DeliverNotice sends the e-mails of a notice that are still pending. Each
// e-mail is claimed ('sending', committed) before the provider is called and
// its outcome recorded afterwards, so a retried activity never sends a row the
// provider may have. 429 and 5xx answers put the row back to pending and fail
// the attempt (Temporal retries with backoff); other refusals mark the row
// failed and are reported, never retried. WhatsApp, SMS and paper letters stay
// pending for the clerks.
//
// A row found 'sending' was claimed by an attempt cut short (a worker killed
// mid-send). SendGrid's events (internal/mailevents) settle it: an event of
// its outbox key proves SendGrid got it, and it is marked sent with the event
// as evidence. Without one, the attempt fails and comes back while the claim
// is younger than the grace (ConfirmGrace) or its attempt could still be
// running; once both have passed, and SendGrid has meanwhile reported e-mails
// it got after the claim, the e-mail never reached it and is claimed and sent
// again. Where no events reach the system at all, or for a claim older than
// this scheme, the row stays 'sending' for a clerk, never sent twice.
func (a *Activities) DeliverNotice(ctx context.Context, in DeliverInput) (DeliverResult, error) {
	var res DeliverResult
	var retry, waiting []string
	var wait time.Duration
	for _, id := range in.OutboxIDs {
		var sendErr error
		send := func(it OutboxItem) Delivery {
			d, err := a.deliver(ctx, it)
			sendErr = err
			return d
		}
		item, err := a.Store.Deliver(ctx, id, send)
		if err != nil {
			return res, err
		}
		if item.Status == StatusSending && item.Claim != nil {
			var w time.Duration
			if item, w, err = a.settle(ctx, item, send); err != nil {
				return res, err
			}
			if w > 0 {
				waiting = append(waiting, fmt.Sprintf("outbox #%d: %s", id, item.Detail))
				if wait == 0 || w < wait {
					wait = w
				}
			}
		}
		if sendErr != nil && item.Status == StatusPending {
			retry = append(retry, fmt.Sprintf("outbox #%d: %v", id, sendErr))
		}
		res.Delivered = append(res.Delivered, Delivered{OutboxID: item.ID, Channel: item.Channel,
			Status: item.Status, MessageID: item.MessageID, Detail: item.Detail})
	}
	switch {
	case len(retry) > 0:
		// Logged here too: a local activity's failed attempt leaves no line
		// of the SDK's, and the provider's refusals are the operators' to see.
		why := strings.Join(append(retry, waiting...), "; ")
		activity.GetLogger(ctx).Warn("e-mail not accepted yet", "invoice", in.Case.Invoice, "error", why)
		return res, temporal.NewApplicationError("e-mail not accepted yet: "+why, "DeliveryRetry")
	case len(waiting) > 0:
		return res, temporal.NewApplicationErrorWithOptions("e-mail awaiting the provider's event: "+strings.Join(waiting, "; "),
			"DeliveryUnconfirmed", temporal.ApplicationErrorOptions{NextRetryDelay: wait})
	}
	return res, nil
}

// settle decides what becomes of an e-mail left 'sending' by an attempt that
// was cut short, and says how long to wait before looking at it again (zero:
// settled, or left for a clerk).
func (a *Activities) settle(ctx context.Context, it OutboxItem, send func(OutboxItem) Delivery) (OutboxItem, time.Duration, error) {
	grace := a.ConfirmGrace
	if grace <= 0 {
		grace = DefaultConfirmGrace
	}
	// A release is followed by a new claim; another look is needed only when
	// an event or another attempt got there between the two.
	for range 3 {
		c := it.Claim
		if c.Event != nil {
			out, err := a.Store.Confirm(ctx, it.ID, it.Attempts, confirmed(it, *c.Event))
			return out, 0, err
		}
		if !c.Dated || !c.Webhook || !a.resends(it) {
			it.Detail = "the attempt that sent it was cut short and no event of the provider tells whether it left: not sent again, check with the provider"
			return it, 0, nil
		}
		if left := max(grace-c.Age, c.Running); left > 0 {
			it.Detail = fmt.Sprintf("the attempt that sent it (claim %d) was cut short; awaiting the provider's event, %s of grace left",
				it.Attempts, left.Round(time.Second))
			return it, min(left, confirmPoll), nil
		}
		if !c.Later {
			it.Detail = fmt.Sprintf("the attempt that sent it (claim %d) was cut short and the provider has reported no e-mail since: "+
				"not sent again until its events come through", it.Attempts)
			return it, quietPoll, nil
		}
		if _, err := a.Store.Release(ctx, it.ID, it.Attempts, grace, fmt.Sprintf(
			"claim %d never reached the provider: no event of it within %s while later e-mails had theirs; sent again",
			it.Attempts, grace)); err != nil {
			return it, 0, err
		}
		// Released, it is claimed and sent now. If not (an event came in
		// between), or if another attempt claimed it first, the row is looked
		// at again as it stands.
		next, err := a.Store.Deliver(ctx, it.ID, send)
		if err != nil || next.Status != StatusSending || next.Claim == nil {
			return next, 0, err
		}
		it = next
	}
	return it, confirmPoll, nil
}

// resends reports whether an e-mail left 'sending' may be sent again once the
// provider's events show it never got it: only if it goes through the mailer
// whose events are received (not through another certifier).
func (a *Activities) resends(it OutboxItem) bool {
	if a.Mailer == nil || !a.Mailer.Enabled() {
		return false
	}
	if it.Channel == ChannelCertified && a.Certifier != nil {
		_, ok := a.Certifier.(MailEvidence)
		return ok
	}
	return true
}

// confirmed is the outcome of a claimed e-mail that the provider's event proves
// it got; a certified one keeps its evidence, dated and identified by the event.
func confirmed(it OutboxItem, ev MailEvent) Delivery {
	d := Delivery{Status: StatusSent, MessageID: ev.MessageID, Detail: fmt.Sprintf(
		"the attempt that sent it (claim %d) was cut short; the provider's %s event of %s confirms it got it",
		it.Attempts, ev.Event, ev.At.In(calendar.Madrid).Format("02/01/2006 15:04:05"))}
	if it.Channel == ChannelCertified {
		m := message(it)
		d.Evidence = &Evidence{
			Provider:          "sendgrid+sha256",
			ContentSHA256:     ContentHash(m),
			AttachmentsSHA256: attachmentHashes(m.Attachments),
			MessageID:         ev.MessageID,
			SentAt:            ev.At.UTC(),
		}
	}
	return d
}

// message is the e-mail of an outbox row. Its custom arguments come back in the
// provider's events: outbox_key and outbox_attempt (the claim) identify the
// row and the attempt.
func message(it OutboxItem) mail.Message {
	m := mail.Message{
		To:      it.Recipient,
		Subject: it.Subject,
		Text:    it.Body,
		HTML:    mail.HTMLFromText(it.Body),
		CustomArgs: map[string]string{"outbox_key": it.Key, "outbox_attempt": strconv.Itoa(int(it.Attempts)),
			"invoice": it.Invoice, "kind": it.Kind},
		Categories: []string{"impagos", it.Kind},
	}
	for _, at := range it.Attachments {
		m.Attachments = append(m.Attachments, mail.Attachment{Filename: at.Filename, ContentType: at.ContentType, Content: at.Content})
	}
	sort.Slice(m.Attachments, func(i, j int) bool { return m.Attachments[i].Filename < m.Attachments[j].Filename })
	return m
}

func (a *Activities) deliver(ctx context.Context, it OutboxItem) (Delivery, error) {
	if it.Channel != ChannelEmail && it.Channel != ChannelCertified {
		return Delivery{Status: StatusPending, Detail: "para enviar por el equipo de cobros"}, nil
	}
	if a.Mailer == nil || !a.Mailer.Enabled() {
		return Delivery{Status: StatusNotSent, Detail: "SENDGRID_API_KEY not set: the e-mail stays in the outbox"}, nil
	}
	m := message(it)
	var (
		d   Delivery
		err error
	)
	if it.Channel == ChannelCertified {
		certifier := a.Certifier
		if certifier == nil {
			certifier = MailEvidence{Mailer: a.Mailer}
		}
		var ev Evidence
		ev, err = certifier.Certify(ctx, m)
		if err == nil {
			d = Delivery{Status: StatusSent, MessageID: ev.MessageID, Evidence: &ev}
		}
	} else {
		var id string
		id, err = a.Mailer.Send(ctx, m)
		d = Delivery{Status: StatusSent, MessageID: id}
	}
	switch {
	case err == nil:
		return d, nil
	case mail.IsPermanent(err):
		return Delivery{Status: StatusFailed, Detail: err.Error()}, nil
	case errors.Is(err, context.Canceled):
		return Delivery{Detail: "cancelled"}, err
	}
	return Delivery{Detail: err.Error()}, err
}
