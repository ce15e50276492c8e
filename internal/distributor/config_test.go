package distributor

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestConfigFromEnv(t *testing.T) {
	for _, tc := range []struct {
		name                      string
		outbox, inbox, code, poll string
		want                      Config
		wantErr                   string
	}{
		{name: "nothing set: messages stay in the ledger", want: Config{Poll: DefaultPoll}},
		{name: "outbox and inbox", outbox: "/srv/atr/out", inbox: "/srv/atr/in", code: "0999", poll: "500ms",
			want: Config{Outbox: "/srv/atr/out", Inbox: "/srv/atr/in", REECode: "0999", Poll: 500 * time.Millisecond}},
		{name: "inbox alone needs no code", inbox: "/srv/atr/in", want: Config{Inbox: "/srv/atr/in", Poll: DefaultPoll}},
		{name: "outbox without code", outbox: "/srv/atr/out", wantErr: "IMPAGOS_ATR_OUTBOX is set but not IMPAGOS_ATR_REE_CODE"},
		{name: "code of three digits", outbox: "/srv/atr/out", code: "999", wantErr: `IMPAGOS_ATR_REE_CODE="999": want our code at REE, 4 digits`},
		{name: "code with a letter", code: "09A9", wantErr: `IMPAGOS_ATR_REE_CODE="09A9"`},
		{name: "poll not a duration", poll: "2", wantErr: `IMPAGOS_ATR_POLL="2": want a positive duration`},
		{name: "poll zero", poll: "0s", wantErr: `IMPAGOS_ATR_POLL="0s"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(EnvOutbox, tc.outbox)
			t.Setenv(EnvInbox, tc.inbox)
			t.Setenv(EnvREECode, tc.code)
			t.Setenv(EnvPoll, tc.poll)
			got, err := ConfigFromEnv()
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}
