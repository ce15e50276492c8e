package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/elega/impagos/internal/mail"
)

// Outbox statuses.
const (
	StatusPending = "pending"  // stored; e-mail not yet sent, or a text/letter for the clerks
	StatusSent    = "sent"     // accepted by the e-mail provider
	StatusFailed  = "failed"   // refused for good (e.g. an invalid address)
	StatusNotSent = "not_sent" // no e-mail provider configured
	// StatusSending marks an e-mail handed to the provider whose outcome was
	// never recorded (the attempt was cut short): it is not sent again, since
	// the customer may have it; a clerk checks it.
	StatusSending = "sending"
)

// Mailer sends e-mail; internal/mail does it with SendGrid.
type Mailer interface {
	Enabled() bool
	Send(ctx context.Context, m mail.Message) (messageID string, err error)
}

// Certifier sends a communication by a channel that keeps evidence of what was
// sent and when. A provider such as Logalty plugs in here.
type Certifier interface {
	Certify(ctx context.Context, m mail.Message) (Evidence, error)
}

// MailEvidence is the default certified channel: it sends the e-mail and
// keeps SHA-256 hashes of the exact content and attachments, the time and the
// provider's message id. It records evidence; it is not a legal certification.
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

// DeliverNotice sends the e-mails of a notice that are still pending. Each row
// is locked while it is sent and marked sent with the provider's message id in
// the same transaction, so a retried activity never sends a row twice. 429 and
// 5xx answers fail the attempt (Temporal retries with backoff); other refusals
// mark the row failed and are reported, never retried. WhatsApp, SMS and paper
// letters stay pending for the clerks.
func (a *Activities) DeliverNotice(ctx context.Context, in DeliverInput) (DeliverResult, error) {
	var res DeliverResult
	var retry []string
	for _, id := range in.OutboxIDs {
		var sendErr error
		item, err := a.Store.Deliver(ctx, id, func(it OutboxItem) Delivery {
			d, err := a.deliver(ctx, it)
			sendErr = err
			return d
		})
		if err != nil {
			return res, err
		}
		if item.Status == StatusSending && item.Detail == "" {
			item.Detail = "the attempt that sent it was cut short: not sent again, check with the provider"
		}
		if sendErr != nil && item.Status == StatusPending {
			retry = append(retry, fmt.Sprintf("outbox #%d: %v", id, sendErr))
		}
		res.Delivered = append(res.Delivered, Delivered{OutboxID: item.ID, Channel: item.Channel,
			Status: item.Status, MessageID: item.MessageID, Detail: item.Detail})
	}
	if len(retry) > 0 {
		return res, temporal.NewApplicationError("e-mail not accepted yet: "+strings.Join(retry, "; "), "DeliveryRetry")
	}
	return res, nil
}

func (a *Activities) deliver(ctx context.Context, it OutboxItem) (Delivery, error) {
	if it.Channel != ChannelEmail && it.Channel != ChannelCertified {
		return Delivery{Status: StatusPending, Detail: "para enviar por el equipo de cobros"}, nil
	}
	if a.Mailer == nil || !a.Mailer.Enabled() {
		return Delivery{Status: StatusNotSent, Detail: "SENDGRID_API_KEY not set: the e-mail stays in the outbox"}, nil
	}
	m := mail.Message{
		To:         it.Recipient,
		Subject:    it.Subject,
		Text:       it.Body,
		HTML:       mail.HTMLFromText(it.Body),
		CustomArgs: map[string]string{"outbox_key": it.Key, "invoice": it.Invoice, "kind": it.Kind},
		Categories: []string{"impagos", it.Kind},
	}
	for _, at := range it.Attachments {
		m.Attachments = append(m.Attachments, mail.Attachment{Filename: at.Filename, ContentType: at.ContentType, Content: at.Content})
	}
	sort.Slice(m.Attachments, func(i, j int) bool { return m.Attachments[i].Filename < m.Attachments[j].Filename })
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
