package standin

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// setEnv sets every variable of the stand-in, "" for those not given.
func setEnv(t *testing.T, vars map[string]string) {
	t.Helper()
	for _, name := range []string{EnvEnabled, EnvOutbox, EnvInbox, EnvAcceptAfter, EnvActivateAfter, EnvPoll, EnvList} {
		t.Setenv(name, vars[name])
	}
}

func writeList(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "distribuidora.txt")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
	return path
}

func TestOptionsFromEnv_OffUnlessOne(t *testing.T) {
	for _, v := range []string{"", "0"} {
		setEnv(t, map[string]string{EnvEnabled: v, EnvAcceptAfter: "nonsense"})
		o, enabled, err := OptionsFromEnv()
		require.NoError(t, err, "nothing else is read when off")
		require.False(t, enabled)
		require.Equal(t, Options{}, o)
	}
	setEnv(t, map[string]string{EnvEnabled: "yes"})
	_, _, err := OptionsFromEnv()
	require.ErrorContains(t, err, EnvEnabled)
}

func TestOptionsFromEnv_ReadsEverything(t *testing.T) {
	list := writeList(t, `# CUPS que la distribuidora trata aparte
ES0390412903576118RC 32      # suministro esencial

es0390088120045731qj silent
ES0390705316624092MP breach
ES0390705316624092MP c2
`)
	setEnv(t, map[string]string{
		EnvEnabled: "1", EnvOutbox: "/srv/atr/salida", EnvInbox: "/srv/atr/entrada",
		EnvAcceptAfter: "2s", EnvActivateAfter: "1m", EnvPoll: "50ms", EnvList: list,
	})
	o, enabled, err := OptionsFromEnv()
	require.NoError(t, err)
	require.True(t, enabled)
	require.Equal(t, Options{
		Outbox: "/srv/atr/salida", Inbox: "/srv/atr/entrada",
		AcceptAfter: 2 * time.Second, ActivateAfter: time.Minute, Poll: 50 * time.Millisecond,
		Reject: map[string]string{"ES0390412903576118RC": "32", "ES0390705316624092MP": "C2"},
		Silent: map[string]bool{"ES0390088120045731QJ": true},
		Breach: map[string]bool{"ES0390705316624092MP": true},
	}, o)
}

func TestOptionsFromEnv_Defaults(t *testing.T) {
	setEnv(t, map[string]string{EnvEnabled: "1", EnvOutbox: "salida", EnvInbox: "entrada"})
	o, enabled, err := OptionsFromEnv()
	require.NoError(t, err)
	require.True(t, enabled)
	require.Equal(t, DefaultAcceptAfter, o.AcceptAfter)
	require.Equal(t, DefaultActivateAfter, o.ActivateAfter)
	require.Equal(t, DefaultPoll, o.Poll)
	require.Empty(t, o.Reject)
}

func TestOptionsFromEnv_BadValuesNameTheirVariable(t *testing.T) {
	ok := map[string]string{EnvEnabled: "1", EnvOutbox: "salida", EnvInbox: "entrada"}
	with := func(name, value string) map[string]string {
		vars := map[string]string{}
		for k, v := range ok {
			vars[k] = v
		}
		vars[name] = value
		return vars
	}
	tests := []struct {
		name string
		vars map[string]string
		want []string
	}{
		{"no outbox", with(EnvOutbox, ""), []string{EnvOutbox}},
		{"no inbox", with(EnvInbox, " "), []string{EnvInbox}},
		{"accept delay not a duration", with(EnvAcceptAfter, "5"), []string{EnvAcceptAfter}},
		{"negative activate delay", with(EnvActivateAfter, "-1s"), []string{EnvActivateAfter}},
		{"poll not a duration", with(EnvPoll, "100"), []string{EnvPoll}},
		{"zero poll", with(EnvPoll, "0s"), []string{EnvPoll, "positive"}},
		{"list missing", with(EnvList, filepath.Join(t.TempDir(), "none.txt")), []string{EnvList}},
		{"list with a bad CUPS", with(EnvList, writeList(t, "# ok\nES0390412903576118RC 32\nES0390412903576118CR 32\n")), []string{EnvList, "line 3", "control letters"}},
		{"list with an unknown code", with(EnvList, writeList(t, "ES0390412903576118RC 3\n")), []string{EnvList, "line 1", `"3"`}},
		{"list with three fields", with(EnvList, writeList(t, "\nES0390412903576118RC 32 silent\n")), []string{EnvList, "line 2"}},
		{"list with one field", with(EnvList, writeList(t, "ES0390412903576118RC\n")), []string{EnvList, "line 1"}},
		{"list with two codes", with(EnvList, writeList(t, "ES0390412903576118RC 32\nES0390412903576118RC 83\n")), []string{EnvList, "line 2", "line 1"}},
		{"list silent and rejected", with(EnvList, writeList(t, "ES0390412903576118RC silent\nES0390412903576118RC 32\n")), []string{EnvList, "line 2"}},
		{"list rejected then silent", with(EnvList, writeList(t, "ES0390412903576118RC 32\nES0390412903576118RC silent\n")), []string{EnvList, "line 2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setEnv(t, tt.vars)
			_, enabled, err := OptionsFromEnv()
			require.Error(t, err)
			require.False(t, enabled)
			for _, w := range tt.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestParseList_CodesAreOfTable27(t *testing.T) {
	var o Options
	require.NoError(t, ParseList(strings.NewReader("ES0390412903576118RC g4\n"), &o))
	require.Equal(t, "G4", o.Reject["ES0390412903576118RC"])
}
