package codec

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func randomKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

// keyForms are the ways a key may be written, for checking it is never shown.
func keyForms(k []byte) []string {
	return []string{
		hex.EncodeToString(k), strings.ToUpper(hex.EncodeToString(k)),
		base64.StdEncoding.EncodeToString(k), base64.RawStdEncoding.EncodeToString(k),
		base64.URLEncoding.EncodeToString(k), base64.RawURLEncoding.EncodeToString(k),
	}
}

func TestParseKeyAcceptsHexAndBase64(t *testing.T) {
	k := randomKey(t)
	for _, form := range append(keyForms(k), "  "+hex.EncodeToString(k)+"\n") {
		got, err := ParseKey(form)
		if err != nil {
			t.Errorf("%d characters: %v", len(form), err)
			continue
		}
		if string(got) != string(k) {
			t.Errorf("%d characters: parsed another key", len(form))
		}
	}
}

func TestParseKeyRefusesBadKeysWithoutShowingThem(t *testing.T) {
	k := randomKey(t)
	bad := map[string]string{
		"empty":           "   ",
		"16 bytes base64": base64.StdEncoding.EncodeToString(k[:16]),
		"33 bytes base64": base64.StdEncoding.EncodeToString(append(k, 7)),
		"62 hex digits":   hex.EncodeToString(k)[:62],
		"66 hex digits":   hex.EncodeToString(k) + "ab",
		"64 not hex":      strings.Repeat("zq", 32) + "!",
		"a passphrase":    "correct horse battery staple de la mesa de cortes",
		"48 bytes base64": base64.StdEncoding.EncodeToString(append(append([]byte{}, k...), k[:16]...)),
	}
	for name, s := range bad {
		_, err := ParseKey(s)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if trimmed := strings.TrimSpace(s); trimmed != "" && strings.Contains(err.Error(), trimmed) {
			t.Errorf("%s: the error shows the key: %v", name, err)
		}
		assertNoKey(t, err.Error(), k)
	}
}

func TestFromEnv(t *testing.T) {
	k, old := randomKey(t), randomKey(t)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "payload.key")
	if err := os.WriteFile(keyFile, []byte(base64.StdEncoding.EncodeToString(k)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	prevFile := filepath.Join(dir, "previous.keys")
	if err := os.WriteFile(prevFile, []byte(hex.EncodeToString(old)+"\n"+hex.EncodeToString(randomKey(t))+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	emptyFile := filepath.Join(dir, "empty")
	if err := os.WriteFile(emptyFile, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		env        map[string]string
		configured bool
		keyIDs     int
		errHas     string
	}{
		{name: "nothing set", env: nil},
		{name: "base64 key", env: map[string]string{EnvKey: base64.StdEncoding.EncodeToString(k)}, configured: true, keyIDs: 1},
		{name: "hex key", env: map[string]string{EnvKey: hex.EncodeToString(k)}, configured: true, keyIDs: 1},
		{name: "key file", env: map[string]string{EnvKey + "_FILE": keyFile}, configured: true, keyIDs: 1},
		{name: "previous keys", env: map[string]string{EnvKey: hex.EncodeToString(k),
			EnvPreviousKeys: base64.StdEncoding.EncodeToString(old) + ", " + hex.EncodeToString(randomKey(t))}, configured: true, keyIDs: 3},
		{name: "previous keys file", env: map[string]string{EnvKey: hex.EncodeToString(k), EnvPreviousKeys + "_FILE": prevFile}, configured: true, keyIDs: 3},
		{name: "both key and file", env: map[string]string{EnvKey: hex.EncodeToString(k), EnvKey + "_FILE": keyFile}, errHas: "both"},
		{name: "missing file", env: map[string]string{EnvKey + "_FILE": filepath.Join(dir, "nope")}, errHas: "IMPAGOS_PAYLOAD_KEY_FILE"},
		{name: "empty file", env: map[string]string{EnvKey + "_FILE": emptyFile}, errHas: "empty"},
		{name: "short key", env: map[string]string{EnvKey: base64.StdEncoding.EncodeToString(k[:20])}, errHas: "20 bytes"},
		{name: "bad previous key", env: map[string]string{EnvKey: hex.EncodeToString(k), EnvPreviousKeys: hex.EncodeToString(k)[:40]}, errHas: "key 1"},
		{name: "previous without current", env: map[string]string{EnvPreviousKeys: hex.EncodeToString(old)}, errHas: EnvKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, name := range []string{EnvKey, EnvKey + "_FILE", EnvPreviousKeys, EnvPreviousKeys + "_FILE"} {
				t.Setenv(name, tt.env[name])
			}
			c, configured, err := FromEnv()
			if tt.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("error %v, want one mentioning %q", err, tt.errHas)
				}
				assertNoKey(t, err.Error(), k, old)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if configured != tt.configured {
				t.Fatalf("configured = %v, want %v", configured, tt.configured)
			}
			if !configured {
				if c != nil {
					t.Fatalf("codec %v without a key", c)
				}
				return
			}
			cc := c.(*Codec)
			if cc.KeyID() != KeyID(k) || len(cc.KeyIDs()) != tt.keyIDs {
				t.Fatalf("key id %s (want %s), ids %v (want %d)", cc.KeyID(), KeyID(k), cc.KeyIDs(), tt.keyIDs)
			}
		})
	}
}
