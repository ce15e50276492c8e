package codec

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"
)

// testKey returns a fixed 32-byte key whose every byte is b.
func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func newCodec(t *testing.T, key []byte, previous ...[]byte) *Codec {
	t.Helper()
	c, err := New(key, previous...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type caseInput struct {
	Invoice  string
	Customer string
	Cents    int64
}

var sample = caseInput{Invoice: "F2026-0001", Customer: "Zoraida Pérez Gil", Cents: 8437}

func TestRoundTripThroughTheDataConverter(t *testing.T) {
	dc := DataConverter(newCodec(t, testKey(1)))
	p, err := dc.ToPayload(sample)
	if err != nil {
		t.Fatal(err)
	}
	if enc := string(p.Metadata[converter.MetadataEncoding]); enc != Encoding {
		t.Fatalf("encoding %q, want %q", enc, Encoding)
	}
	if id := string(p.Metadata[MetadataKeyID]); id != KeyID(testKey(1)) {
		t.Fatalf("key id %q, want %q", id, KeyID(testKey(1)))
	}
	if bytes.Contains(p.Data, []byte("Zoraida")) || bytes.Contains(p.Data, []byte("json/plain")) {
		t.Fatalf("encrypted payload shows clear text: %q", p.Data)
	}
	var back caseInput
	if err := dc.FromPayload(p, &back); err != nil {
		t.Fatal(err)
	}
	if back != sample {
		t.Fatalf("round trip gave %+v, want %+v", back, sample)
	}
}

func TestEachEncodingUsesAFreshNonce(t *testing.T) {
	c := newCodec(t, testKey(1))
	p, _ := converter.GetDefaultDataConverter().ToPayload(sample)
	a, err := c.Encode([]*commonpb.Payload{p})
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Encode([]*commonpb.Payload{p})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a[0].Data, b[0].Data) {
		t.Fatal("the same payload encrypted twice gave the same bytes")
	}
}

func TestEncodeKeepsTheWholePayloadMetadataIncluded(t *testing.T) {
	c := newCodec(t, testKey(1))
	in := []*commonpb.Payload{
		{Metadata: map[string][]byte{"encoding": []byte("json/protobuf"), "messageType": []byte("x.Y")}, Data: []byte(`{"a":1}`)},
		nil,
		{},
	}
	enc, err := c.Encode(in)
	if err != nil {
		t.Fatal(err)
	}
	if enc[1] != nil {
		t.Fatalf("a nil payload became %v", enc[1])
	}
	dec, err := c.Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	for i := range in {
		if !proto.Equal(in[i], dec[i]) {
			t.Fatalf("payload %d: got %v, want %v", i, dec[i], in[i])
		}
	}
}

func TestTamperedPayloadIsRefused(t *testing.T) {
	c := newCodec(t, testKey(1))
	p, _ := converter.GetDefaultDataConverter().ToPayload(sample)
	enc, err := c.Encode([]*commonpb.Payload{p})
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range []int{0, nonceSize, len(enc[0].Data) / 2, len(enc[0].Data) - 1} {
		bad := proto.Clone(enc[0]).(*commonpb.Payload)
		bad.Data[at] ^= 0x01
		if _, err := c.Decode([]*commonpb.Payload{bad}); !errors.Is(err, ErrCorrupt) {
			t.Errorf("byte %d flipped: error %v, want ErrCorrupt", at, err)
		}
	}
	short := proto.Clone(enc[0]).(*commonpb.Payload)
	short.Data = short.Data[:nonceSize+3]
	if _, err := c.Decode([]*commonpb.Payload{short}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("truncated payload: error %v, want ErrCorrupt", err)
	}
}

func TestWrongKeyNamesBothKeyIDsAndNoKey(t *testing.T) {
	writer := newCodec(t, testKey(1))
	reader := newCodec(t, testKey(2))
	p, _ := converter.GetDefaultDataConverter().ToPayload(sample)
	enc, err := writer.Encode([]*commonpb.Payload{p})
	if err != nil {
		t.Fatal(err)
	}
	_, err = reader.Decode(enc)
	if !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("error %v, want ErrUnknownKey", err)
	}
	msg := err.Error()
	for _, want := range []string{KeyID(testKey(1)), KeyID(testKey(2))} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not name key id %s", msg, want)
		}
	}
	assertNoKey(t, msg, testKey(1), testKey(2))

	// The data converter reports it too, instead of handing back garbage.
	var back caseInput
	if err := DataConverter(reader).FromPayload(enc[0], &back); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("data converter: %v", err)
	}
}

func TestPreviousKeyDecryptsButNeverEncrypts(t *testing.T) {
	old := newCodec(t, testKey(1))
	rotated := newCodec(t, testKey(2), testKey(1))
	p, _ := converter.GetDefaultDataConverter().ToPayload(sample)
	enc, err := old.Encode([]*commonpb.Payload{p})
	if err != nil {
		t.Fatal(err)
	}
	dec, err := rotated.Decode(enc)
	if err != nil || !proto.Equal(dec[0], p) {
		t.Fatalf("a case started under the previous key: %v %v", dec, err)
	}
	again, err := rotated.Encode([]*commonpb.Payload{p})
	if err != nil {
		t.Fatal(err)
	}
	if id := string(again[0].Metadata[MetadataKeyID]); id != KeyID(testKey(2)) {
		t.Fatalf("encrypted with key id %s, want the current %s", id, KeyID(testKey(2)))
	}
	if got := rotated.KeyIDs(); len(got) != 2 {
		t.Fatalf("key ids %v", got)
	}
}

func TestClearPayloadsPassThroughDecode(t *testing.T) {
	c := newCodec(t, testKey(1))
	clear, _ := converter.GetDefaultDataConverter().ToPayloads(sample, "texto", 42, nil)
	dec, err := c.Decode(clear.Payloads)
	if err != nil {
		t.Fatal(err)
	}
	for i := range clear.Payloads {
		if dec[i] != clear.Payloads[i] {
			t.Fatalf("clear payload %d changed: %v", i, dec[i])
		}
	}
	// A history written before the codec was on reads with the codec on.
	var back caseInput
	if err := DataConverter(c).FromPayload(clear.Payloads[0], &back); err != nil || back != sample {
		t.Fatalf("clear payload through the codec data converter: %+v %v", back, err)
	}
}

func TestFailureMessagesAreEncrypted(t *testing.T) {
	dc := DataConverter(newCodec(t, testKey(1)))
	fc := FailureConverter(dc)
	err := temporal.NewApplicationError("Zoraida Pérez Gil no tiene contrato", "NoContract", "detalle Zoraida")
	f := fc.ErrorToFailure(err)
	if strings.Contains(f.GetMessage(), "Zoraida") || f.GetEncodedAttributes() == nil {
		t.Fatalf("failure keeps its message in clear: %v", f)
	}
	if enc := string(f.GetEncodedAttributes().GetMetadata()[converter.MetadataEncoding]); enc != Encoding {
		t.Fatalf("encoded attributes have encoding %q", enc)
	}
	details := f.GetApplicationFailureInfo().GetDetails().GetPayloads()
	if len(details) != 1 || string(details[0].GetMetadata()[converter.MetadataEncoding]) != Encoding {
		t.Fatalf("failure details not encrypted: %v", details)
	}
	back := fc.FailureToError(f)
	var app *temporal.ApplicationError
	if !errors.As(back, &app) || !strings.Contains(app.Error(), "Zoraida Pérez Gil no tiene contrato") || app.Type() != "NoContract" {
		t.Fatalf("decoded failure %v", back)
	}
}

func TestNewRefusesKeysOfTheWrongSize(t *testing.T) {
	for _, n := range []int{0, 16, 24, 31, 33, 64} {
		if _, err := New(make([]byte, n)); err == nil {
			t.Errorf("a %d-byte key was accepted", n)
		}
	}
	if _, err := New(testKey(1), make([]byte, 16)); err == nil {
		t.Error("a 16-byte previous key was accepted")
	}
}

func TestKeyIDIsEightHexDigitsOfSHA256(t *testing.T) {
	// sha256 of 32 zero bytes is 66687aadf862bd77...
	if got := KeyID(make([]byte, KeySize)); got != "66687aad" {
		t.Fatalf("KeyID = %q", got)
	}
}

// assertNoKey fails when text holds a key in any of the forms it is written.
func assertNoKey(t *testing.T, text string, keys ...[]byte) {
	t.Helper()
	for _, k := range keys {
		for _, form := range keyForms(k) {
			if strings.Contains(text, form) {
				t.Errorf("text shows a key (%s...): %q", form[:6], text)
			}
		}
	}
}

func TestDecodeErrorsFailTheWorkflowTaskNotTheCase(t *testing.T) {
	p, _ := converter.GetDefaultDataConverter().ToPayload(sample)
	enc, err := newCodec(t, testKey(1)).Encode([]*commonpb.Payload{p})
	if err != nil {
		t.Fatal(err)
	}
	tampered := proto.Clone(enc[0]).(*commonpb.Payload)
	tampered.Data[nonceSize] ^= 1
	for name, decode := range map[string]func() error{
		"wrong key": func() error { _, err := newCodec(t, testKey(2)).Decode(enc); return err },
		"tampered":  func() error { _, err := newCodec(t, testKey(1)).Decode([]*commonpb.Payload{tampered}); return err },
		"no key":    func() error { _, err := Keyless().Decode(enc); return err },
	} {
		err := decode()
		var task *converter.WorkflowTaskFailureError
		if !errors.As(err, &task) {
			t.Errorf("%s: error %v is not a WorkflowTaskFailureError", name, err)
		}
	}
}

func TestKeylessPassesClearPayloadsAndNamesTheKeyNeeded(t *testing.T) {
	clear, _ := converter.GetDefaultDataConverter().ToPayloads(sample, "texto")
	k := Keyless()
	if out, err := k.Encode(clear.Payloads); err != nil || len(out) != 2 || out[0] != clear.Payloads[0] {
		t.Fatalf("Encode: %v %v", out, err)
	}
	if out, err := k.Decode(clear.Payloads); err != nil || out[1] != clear.Payloads[1] {
		t.Fatalf("Decode of clear payloads: %v %v", out, err)
	}
	enc, _ := newCodec(t, testKey(1)).Encode(clear.Payloads)
	_, err := k.Decode(enc)
	if !errors.Is(err, ErrUnknownKey) || !strings.Contains(err.Error(), KeyID(testKey(1))) || !strings.Contains(err.Error(), EnvKey) {
		t.Fatalf("Decode of an encrypted payload without a key: %v", err)
	}
	assertNoKey(t, err.Error(), testKey(1))
}
