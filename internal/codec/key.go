package codec

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"strings"

	"go.temporal.io/sdk/converter"
)

// Names of the variables that configure the codec.
const (
	EnvKey          = "IMPAGOS_PAYLOAD_KEY"
	EnvPreviousKeys = "IMPAGOS_PAYLOAD_PREVIOUS_KEYS"
)

// FromEnv builds the codec from IMPAGOS_PAYLOAD_KEY (or _FILE) and
// IMPAGOS_PAYLOAD_PREVIOUS_KEYS (or _FILE). configured is false when no key is
// set: payloads then travel in clear. Errors name the variable, never the key.
func FromEnv() (c converter.PayloadCodec, configured bool, err error) {
	key, err := Secret(EnvKey)
	if err != nil {
		return nil, false, err
	}
	previous, err := Secret(EnvPreviousKeys)
	if err != nil {
		return nil, false, err
	}
	if key == "" {
		if previous != "" {
			return nil, false, fmt.Errorf("%s is set but %s is not: set the current key too", EnvPreviousKeys, EnvKey)
		}
		return nil, false, nil
	}
	k, err := ParseKey(key)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", EnvKey, err)
	}
	var olds [][]byte
	for i, s := range strings.FieldsFunc(previous, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' }) {
		old, err := ParseKey(s)
		if err != nil {
			return nil, false, fmt.Errorf("%s: key %d: %w", EnvPreviousKeys, i+1, err)
		}
		olds = append(olds, old)
	}
	codec, err := New(k, olds...)
	if err != nil {
		return nil, false, err
	}
	return codec, true, nil
}

// ParseKey reads a 32-byte key written as 64 hex digits or as base64 (standard
// or URL alphabet, padded or not). Surrounding spaces are ignored. The error
// describes the input only by its length.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("the key is empty")
	}
	if len(s) == 2*KeySize {
		if k, err := hex.DecodeString(s); err == nil {
			return k, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		k, err := enc.DecodeString(s)
		if err != nil {
			continue
		}
		if len(k) != KeySize {
			return nil, fmt.Errorf("the key decodes to %d bytes, want %d (generate one with: openssl rand -base64 32)", len(k), KeySize)
		}
		return k, nil
	}
	return nil, fmt.Errorf("the key (%d characters) is neither 64 hex digits nor base64 of %d bytes "+
		"(generate one with: openssl rand -base64 32)", len(s), KeySize)
}

// Secret returns the value of the variable name, or the contents of the file
// that name_FILE points to, trimmed of surrounding white space; "" when
// neither is set. Setting both is an error. Errors never quote the value.
func Secret(name string) (string, error) {
	value := os.Getenv(name)
	file := os.Getenv(name + "_FILE")
	switch {
	case value != "" && file != "":
		return "", fmt.Errorf("both %s and %s_FILE are set: keep one", name, name)
	case file != "":
		data, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("%s_FILE: %w", name, err)
		}
		v := strings.TrimSpace(string(data))
		if v == "" {
			return "", fmt.Errorf("%s_FILE: %s is empty", name, file)
		}
		return v, nil
	}
	return strings.TrimSpace(value), nil
}
