package store

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/mailevents"
)

func TestPruneMailEventsKeepsRecentOnesAndThoseOfAnEmailStillSending(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	c := ref("F-1", "ES0021000000000001JN")
	open(t, s, c)
	c.Stage = "aviso_1"
	at := day(2025, 3, 11, 9)
	msgs, err := s.PutOutbox(ctx, c, []activities.OutboxMessage{
		{Key: "impago-F-1/run-1/aviso_1/email", Kind: activities.KindAviso1, Channel: activities.ChannelEmail,
			Recipient: "cliente@example.com", Subject: "Factura devuelta", Body: "...", At: at},
		{Key: "impago-F-1/run-1/aviso_2/email", Kind: activities.KindAviso2, Channel: activities.ChannelEmail,
			Recipient: "cliente@example.com", Subject: "Segundo aviso", Body: "...", At: at},
	})
	require.NoError(t, err)
	// aviso 1 was sent; aviso 2 was claimed by an attempt cut short long ago.
	_, err = s.pool.Exec(ctx, `UPDATE outbox SET status = CASE WHEN id = $1 THEN 'sent' ELSE 'sending' END, attempts = 1`, msgs[0].OutboxID)
	require.NoError(t, err)

	var events []mailevents.Event
	add := func(id, key string) {
		raw, err := json.Marshal(map[string]string{"sg_event_id": id})
		require.NoError(t, err)
		events = append(events, mailevents.Event{ID: id, Event: "processed", OutboxKey: key, At: time.Now().Truncate(time.Second), Raw: raw})
	}
	for i := range 12_000 { // more than one batch of old events of other e-mails
		add(fmt.Sprintf("old-%d", i), "")
	}
	add("old-sent", "impago-F-1/run-1/aviso_1/email")
	add("old-sending", "impago-F-1/run-1/aviso_2/email")
	add("new", "")
	add("new-sent", "impago-F-1/run-1/aviso_1/email")
	stored, err := s.RecordMailEvents(ctx, events)
	require.NoError(t, err)
	require.Equal(t, len(events), stored)
	_, err = s.pool.Exec(ctx, `UPDATE mail_events SET received_at = now() - interval '200 days' WHERE event_id LIKE 'old-%'`)
	require.NoError(t, err)

	n, err := s.PruneMailEvents(ctx, mailevents.DefaultKeep)
	require.NoError(t, err)
	require.Equal(t, int64(12_001), n, "every old event but the one of the e-mail still sending")
	var left []string
	require.NoError(t, s.pool.QueryRow(ctx, `SELECT array_agg(event_id ORDER BY event_id) FROM mail_events`).Scan(&left))
	require.Equal(t, []string{"new", "new-sent", "old-sending"}, left)

	n, err = s.PruneMailEvents(ctx, mailevents.DefaultKeep)
	require.NoError(t, err)
	require.Zero(t, n, "nothing more to prune")

	// Once the e-mail is settled, its old event goes too.
	_, err = s.pool.Exec(ctx, `UPDATE outbox SET status = 'sent' WHERE id = $1`, msgs[1].OutboxID)
	require.NoError(t, err)
	n, err = s.PruneMailEvents(ctx, mailevents.DefaultKeep)
	require.NoError(t, err)
	require.Equal(t, int64(1), n)
}
