package codec

import (
	"context"
	"crypto/subtle"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"

	"go.temporal.io/sdk/converter"

	"github.com/elega/impagos/internal/httpserve"
)

// Names of the variables that configure the codec server.
const (
	EnvAddr       = "IMPAGOS_CODEC_ADDR"
	EnvCORSOrigin = "IMPAGOS_CODEC_CORS_ORIGIN"
	EnvAuthToken  = "IMPAGOS_CODEC_AUTH_TOKEN"
)

// DefaultCORSOrigins are the addresses of the local dev server's Web UI.
var DefaultCORSOrigins = []string{"http://localhost:8233", "http://127.0.0.1:8233"}

// maxBody bounds a request; the UI sends the payloads of one event or query.
const maxBody = 32 << 20

// HandlerOptions say who may call the codec server.
type HandlerOptions struct {
	// AllowedOrigins are the Web UI origins a browser may call from ("*": any).
	AllowedOrigins []string
	// AuthToken, when not empty, must come as "Authorization: Bearer <token>".
	AuthToken string
}

// HandlerOptionsFromEnv reads IMPAGOS_CODEC_CORS_ORIGIN and
// IMPAGOS_CODEC_AUTH_TOKEN (or _FILE).
func HandlerOptionsFromEnv() (HandlerOptions, error) {
	token, err := Secret(EnvAuthToken)
	if err != nil {
		return HandlerOptions{}, err
	}
	opts := HandlerOptions{AllowedOrigins: DefaultCORSOrigins, AuthToken: token}
	if v := strings.TrimSpace(os.Getenv(EnvCORSOrigin)); v != "" {
		opts.AllowedOrigins = nil
		for o := range strings.SplitSeq(v, ",") {
			if o = strings.TrimRight(strings.TrimSpace(o), "/"); o != "" {
				opts.AllowedOrigins = append(opts.AllowedOrigins, o)
			}
		}
	}
	return opts, nil
}

// Handler serves the codec server protocol the Temporal Web UI and CLI speak:
// POST .../encode and POST .../decode with a JSON body {"payloads": [...]}
// answered in the same form. It adds CORS for the allowed origins (answering
// preflight OPTIONS requests) and, when opts.AuthToken is set, refuses requests
// without that bearer token.
func Handler(c converter.PayloadCodec, opts HandlerOptions) http.Handler {
	inner := converter.NewPayloadCodecHTTPHandler(c)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if origin := r.Header.Get("Origin"); origin != "" && allowed(opts.AllowedOrigins, origin) {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Content-Type, Authorization, X-Namespace")
			h.Set("Access-Control-Max-Age", "600")
			h.Add("Vary", "Origin")
		}
		if r.Method == http.MethodOptions {
			// A preflight never carries credentials; the POST that follows does.
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if opts.AuthToken != "" && !authorized(r, opts.AuthToken) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="impagos codec"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		inner.ServeHTTP(w, r)
	})
}

func allowed(origins []string, origin string) bool {
	return slices.Contains(origins, "*") || slices.Contains(origins, strings.TrimRight(origin, "/"))
}

func authorized(r *http.Request, token string) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(token)) == 1
}

// Serve serves h on ln until ctx is done, then shuts down (see httpserve).
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	return httpserve.Serve(ctx, "codec server", ln, h)
}
