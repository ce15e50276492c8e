// Package codec encrypts what a case sends to Temporal, so that the Temporal
// database holds no readable personal data: workflow inputs and results,
// activity inputs and results, signals, query answers, the summaries and
// details shown on a case's page, and failure messages. It is opt-in: without
// a key nothing changes.
//
// Each payload is marshalled whole and sealed with AES-256-GCM under a random
// 12-byte nonce; the new payload says "encoding: binary/encrypted" and names
// the key by its id (the first 8 hex digits of the key's SHA-256), never the
// key itself. Decoding opens only such payloads and passes every other one
// through, so histories written before the codec was switched on still read.
//
// Search attributes are not payloads of the data converter: the SDK always
// writes them in clear, so the Web UI can filter by them.
//
// Configuration (environment variables):
//
//	IMPAGOS_PAYLOAD_KEY             the key: base64 of 32 bytes, or 64 hex digits;
//	IMPAGOS_PAYLOAD_KEY_FILE        or a file holding it (not both)
//	IMPAGOS_PAYLOAD_PREVIOUS_KEYS   keys replaced by a rotation, still needed to read
//	IMPAGOS_PAYLOAD_PREVIOUS_KEYS_FILE  the cases started under them (comma, space or
//	                                newline separated); never used to encrypt
//	IMPAGOS_CODEC_ADDR              where the worker serves the codec server for the
//	                                Web UI (e.g. 127.0.0.1:8081); unset: no server
//	IMPAGOS_CODEC_CORS_ORIGIN       origins of the Web UI allowed to call it, comma
//	                                separated (default http://localhost:8233 and
//	                                http://127.0.0.1:8233)
//	IMPAGOS_CODEC_AUTH_TOKEN        when set (or _FILE), requests must carry
//	                                "Authorization: Bearer <token>"
package codec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"
)

// Metadata of an encrypted payload.
const (
	// Encoding is the value of the payload's "encoding" metadata.
	Encoding = "binary/encrypted"
	// MetadataKeyID names the metadata that holds the id of the key used.
	MetadataKeyID = "encryption-key-id"
)

// KeySize is the length of an AES-256 key in bytes.
const KeySize = 32

const nonceSize = 12

// ErrUnknownKey means a payload was encrypted with a key the codec does not
// hold: the key was rotated without keeping the old one as a previous key.
var ErrUnknownKey = errors.New("payload encrypted with an unknown key")

// ErrCorrupt means an encrypted payload does not open: it was altered, cut
// short, or sealed by another key that happens to share the id.
var ErrCorrupt = errors.New("encrypted payload does not authenticate")

// Codec is a converter.PayloadCodec that encrypts with AES-256-GCM. It is safe
// for concurrent use.
type Codec struct {
	keyID string                 // id of the key that encrypts
	keys  map[string]cipher.AEAD // every key that decrypts, by id
}

var _ converter.PayloadCodec = (*Codec)(nil)

// New returns a codec that encrypts with key and decrypts with key or any of
// the previous keys. Every key must be KeySize bytes.
func New(key []byte, previous ...[]byte) (*Codec, error) {
	c := &Codec{keys: map[string]cipher.AEAD{}}
	for i, k := range append([][]byte{key}, previous...) {
		if len(k) != KeySize {
			return nil, fmt.Errorf("payload key %d is %d bytes long, want %d", i+1, len(k), KeySize)
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("payload key %d: %w", i+1, err)
		}
		aead, err := cipher.NewGCMWithNonceSize(block, nonceSize)
		if err != nil {
			return nil, fmt.Errorf("payload key %d: %w", i+1, err)
		}
		id := KeyID(k)
		if i == 0 {
			c.keyID = id
		}
		if _, dup := c.keys[id]; !dup {
			c.keys[id] = aead
		}
	}
	return c, nil
}

// KeyID is the id under which a key is named in payloads and messages: the
// first 8 hex digits of its SHA-256. It tells keys apart and reveals nothing
// usable about them.
func KeyID(key []byte) string {
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:4])
}

// KeyID returns the id of the key that encrypts.
func (c *Codec) KeyID() string { return c.keyID }

// KeyIDs returns the ids of every key that decrypts, sorted.
func (c *Codec) KeyIDs() []string {
	ids := make([]string, 0, len(c.keys))
	for id := range c.keys {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Encode encrypts each payload whole, metadata included.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	aead := c.keys[c.keyID]
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if p == nil {
			continue
		}
		plain, err := proto.Marshal(p)
		if err != nil {
			return payloads, fmt.Errorf("encrypt payload: %w", err)
		}
		sealed := make([]byte, nonceSize, nonceSize+len(plain)+aead.Overhead())
		if _, err := rand.Read(sealed); err != nil {
			return payloads, fmt.Errorf("encrypt payload: nonce: %w", err)
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{
				converter.MetadataEncoding: []byte(Encoding),
				MetadataKeyID:              []byte(c.keyID),
			},
			Data: aead.Seal(sealed, sealed, plain, nil),
		}
	}
	return out, nil
}

// Decode decrypts the payloads this codec encrypted and returns every other
// payload unchanged.
//
// Its errors are converter.WorkflowTaskFailureError: a worker holding the
// wrong key fails the workflow task, which the server retries until a worker
// with the right key takes it, instead of failing the case itself.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if !encrypted(p) {
			out[i] = p
			continue
		}
		id := string(p.GetMetadata()[MetadataKeyID])
		aead, ok := c.keys[id]
		if !ok {
			return payloads, converter.NewWorkflowTaskFailureError(fmt.Errorf(
				"%w: the payload names key id %q, the keys configured have ids %v "+
					"(set the key with that id in %s)", ErrUnknownKey, id, c.KeyIDs(), EnvPreviousKeys))
		}
		plain, err := open(aead, p.GetData())
		if err != nil {
			return payloads, converter.NewWorkflowTaskFailureError(fmt.Errorf("%w: key id %s: %v", ErrCorrupt, id, err))
		}
		var decoded commonpb.Payload
		if err := proto.Unmarshal(plain, &decoded); err != nil {
			return payloads, converter.NewWorkflowTaskFailureError(fmt.Errorf("%w: key id %s: %v", ErrCorrupt, id, err))
		}
		out[i] = &decoded
	}
	return out, nil
}

func encrypted(p *commonpb.Payload) bool {
	return p != nil && string(p.GetMetadata()[converter.MetadataEncoding]) == Encoding
}

func open(aead cipher.AEAD, data []byte) ([]byte, error) {
	if len(data) < nonceSize+aead.Overhead() {
		return nil, fmt.Errorf("%d bytes is too short", len(data))
	}
	plain, err := aead.Open(nil, data[:nonceSize], data[nonceSize:], nil)
	if err != nil {
		return nil, errors.New("altered or damaged")
	}
	return plain, nil
}

// Keyless is the codec of a process that has no payload key: it leaves every
// payload as it is, but an encrypted one fails with a WorkflowTaskFailureError
// naming the key id it needs. Without it, a worker started without the key
// would fail every encrypted case it touched, for good ("payload encoding is
// not supported"); with it, the cases wait for a worker that has the key.
func Keyless() converter.PayloadCodec { return keyless{} }

type keyless struct{}

func (keyless) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	return payloads, nil
}

func (keyless) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	for _, p := range payloads {
		if encrypted(p) {
			return payloads, converter.NewWorkflowTaskFailureError(fmt.Errorf(
				"%w: the payload names key id %q and no %s is set", ErrUnknownKey, p.GetMetadata()[MetadataKeyID], EnvKey))
		}
	}
	return payloads, nil
}

// DataConverter is the SDK's default data converter with the codec applied to
// every payload it produces and reads.
func DataConverter(c converter.PayloadCodec) converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
}

// FailureConverter moves the message and stack trace of every failure into its
// encoded attributes and converts its details with dc, so that error texts
// (which may quote a customer) are encrypted too. The client decodes them back
// into ordinary errors.
func FailureConverter(dc converter.DataConverter) converter.FailureConverter {
	return temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{
		DataConverter:          dc,
		EncodeCommonAttributes: true,
	})
}
