package codec

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"
)

const uiOrigin = "http://localhost:8233"

// post sends payloads to path as the Web UI does and returns the response.
func post(t *testing.T, url, path string, payloads []*commonpb.Payload, header http.Header) *http.Response {
	t.Helper()
	body, err := protojson.Marshal(&commonpb.Payloads{Payloads: payloads})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Namespace", "default")
	req.Header.Set("Origin", uiOrigin)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func payloadsOf(t *testing.T, resp *http.Response) []*commonpb.Payload {
	t.Helper()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var out commonpb.Payloads
	if err := protojson.Unmarshal(body, &out); err != nil {
		t.Fatalf("response %s: %v", body, err)
	}
	return out.Payloads
}

func TestHandlerEncodesAndDecodes(t *testing.T) {
	c := newCodec(t, testKey(1))
	srv := httptest.NewServer(Handler(c, HandlerOptions{AllowedOrigins: []string{uiOrigin}}))
	defer srv.Close()
	clear, _ := converter.GetDefaultDataConverter().ToPayload(sample)

	resp := post(t, srv.URL, "/encode", []*commonpb.Payload{clear}, nil)
	enc := payloadsOf(t, resp)
	if len(enc) != 1 || string(enc[0].Metadata[converter.MetadataEncoding]) != Encoding {
		t.Fatalf("encode answered %v", enc)
	}
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != uiOrigin {
		t.Fatalf("Access-Control-Allow-Origin %q", got)
	}
	// What the worker wrote decodes, next to a payload that was never encrypted.
	fromWorker, _ := c.Encode([]*commonpb.Payload{clear})
	dec := payloadsOf(t, post(t, srv.URL, "/decode", []*commonpb.Payload{enc[0], fromWorker[0], clear}, nil))
	if len(dec) != 3 {
		t.Fatalf("decode answered %d payloads", len(dec))
	}
	for i, p := range dec {
		var back caseInput
		if err := converter.GetDefaultDataConverter().FromPayload(p, &back); err != nil || back != sample {
			t.Fatalf("payload %d decoded to %+v %v", i, back, err)
		}
	}
	// The UI may put the namespace in the path.
	payloadsOf(t, post(t, srv.URL, "/default/decode", enc, nil))
}

func TestHandlerReportsUndecodablePayloads(t *testing.T) {
	srv := httptest.NewServer(Handler(newCodec(t, testKey(2)), HandlerOptions{}))
	defer srv.Close()
	clear, _ := converter.GetDefaultDataConverter().ToPayload(sample)
	foreign, _ := newCodec(t, testKey(1)).Encode([]*commonpb.Payload{clear})
	resp := post(t, srv.URL, "/decode", foreign, nil)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), KeyID(testKey(1))) {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	assertNoKey(t, string(body), testKey(1), testKey(2))
	if resp := post(t, srv.URL, "/decode", nil, http.Header{"Content-Type": {"application/json"}}); resp.StatusCode != http.StatusOK {
		t.Fatalf("empty list: status %d", resp.StatusCode)
	}
}

func TestHandlerAnswersCORSPreflight(t *testing.T) {
	srv := httptest.NewServer(Handler(newCodec(t, testKey(1)), HandlerOptions{AllowedOrigins: []string{uiOrigin}, AuthToken: "s3cr3t"}))
	defer srv.Close()
	for origin, allow := range map[string]bool{uiOrigin: true, "http://evil.example": false} {
		req, _ := http.NewRequest(http.MethodOptions, srv.URL+"/decode", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type,x-namespace,authorization")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("preflight from %s: status %d (a preflight carries no token and must not need one)", origin, resp.StatusCode)
		}
		got := resp.Header.Get("Access-Control-Allow-Origin")
		if allow && (got != origin || !strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "X-Namespace") ||
			!strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "POST")) {
			t.Fatalf("preflight from %s: headers %v", origin, resp.Header)
		}
		if !allow && got != "" {
			t.Fatalf("preflight from %s allowed: %q", origin, got)
		}
	}
}

func TestHandlerRequiresTheTokenWhenSet(t *testing.T) {
	c := newCodec(t, testKey(1))
	srv := httptest.NewServer(Handler(c, HandlerOptions{AllowedOrigins: []string{uiOrigin}, AuthToken: "s3cr3t"}))
	defer srv.Close()
	clear, _ := converter.GetDefaultDataConverter().ToPayload(sample)
	enc, _ := c.Encode([]*commonpb.Payload{clear})
	for name, auth := range map[string][]string{
		"no header":    nil,
		"wrong token":  {"Bearer s3cr3x"},
		"basic":        {"Basic czNjcjN0"},
		"token prefix": {"Bearer s3cr3"},
	} {
		resp := post(t, srv.URL, "/decode", enc, http.Header{"Authorization": auth})
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%s: status %d", name, resp.StatusCode)
		}
		if strings.Contains(string(body), "Zoraida") || strings.Contains(string(body), "s3cr3t") {
			t.Fatalf("%s: refusal shows data: %s", name, body)
		}
	}
	dec := payloadsOf(t, post(t, srv.URL, "/decode", enc, http.Header{"Authorization": {"Bearer s3cr3t"}}))
	if len(dec) != 1 || !bytes.Contains(dec[0].Data, []byte("Zoraida")) {
		t.Fatalf("with the token: %v", dec)
	}
}

func TestHandlerRefusesOtherRequests(t *testing.T) {
	srv := httptest.NewServer(Handler(newCodec(t, testKey(1)), HandlerOptions{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/decode")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /decode: status %d", resp.StatusCode)
	}
	resp, err = http.Post(srv.URL+"/decode", "application/json", strings.NewReader("{not json"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad JSON: status %d", resp.StatusCode)
	}
	resp, err = http.Post(srv.URL+"/other", "application/json", strings.NewReader(`{"payloads":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("POST /other: status %d", resp.StatusCode)
	}
}

func TestHandlerOptionsFromEnv(t *testing.T) {
	t.Setenv(EnvCORSOrigin, "")
	t.Setenv(EnvAuthToken, "")
	t.Setenv(EnvAuthToken+"_FILE", "")
	opts, err := HandlerOptionsFromEnv()
	if err != nil || opts.AuthToken != "" || !allowed(opts.AllowedOrigins, "http://localhost:8233") {
		t.Fatalf("defaults %+v %v", opts, err)
	}
	t.Setenv(EnvCORSOrigin, "https://temporal.elega.example/, http://localhost:8080")
	t.Setenv(EnvAuthToken, "tok")
	opts, err = HandlerOptionsFromEnv()
	if err != nil || opts.AuthToken != "tok" || !allowed(opts.AllowedOrigins, "https://temporal.elega.example") ||
		!allowed(opts.AllowedOrigins, "http://localhost:8080") || allowed(opts.AllowedOrigins, "http://localhost:8233") {
		t.Fatalf("configured %+v %v", opts, err)
	}
}

func TestServeStopsWhenTheContextEnds(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, Handler(newCodec(t, testKey(1)), HandlerOptions{})) }()
	clear, _ := converter.GetDefaultDataConverter().ToPayload(sample)
	payloadsOf(t, post(t, "http://"+ln.Addr().String(), "/encode", []*commonpb.Payload{clear}, nil))
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the codec server did not stop")
	}
}

// The SDK's handler answers with encoding/json; the UI reads protojson. Check
// the field names agree.
func TestHandlerAnswerIsProtoJSON(t *testing.T) {
	srv := httptest.NewServer(Handler(newCodec(t, testKey(1)), HandlerOptions{}))
	defer srv.Close()
	clear, _ := converter.GetDefaultDataConverter().ToPayload("hola")
	resp := post(t, srv.URL, "/encode", []*commonpb.Payload{clear}, nil)
	var raw struct {
		Payloads []struct {
			Metadata map[string]string `json:"metadata"`
			Data     string            `json:"data"`
		} `json:"payloads"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil || len(raw.Payloads) != 1 ||
		raw.Payloads[0].Metadata["encoding"] == "" || raw.Payloads[0].Data == "" {
		t.Fatalf("answer %+v %v", raw, err)
	}
}
