// Package metrics serves what the people who keep impagos running watch in
// Prometheus: the Temporal SDK's own metrics (requests, workers, task
// queues), the ledger's business figures, read when scraped, and the Go
// runtime's. The worker serves them on IMPAGOS_METRICS_ADDR at /metrics; the
// alerts built on them are in docs/alerts.yml.
//
// The SDK's metrics reach Prometheus through the SDK's OpenTelemetry
// integration (go.temporal.io/sdk/contrib/opentelemetry) and OpenTelemetry's
// Prometheus exporter, under the SDK's names: temporal_request_total,
// temporal_worker_task_slots_available, the histograms
// temporal_activity_schedule_to_start_latency_seconds and
// temporal_workflow_task_schedule_to_start_latency_seconds, and so on.
package metrics

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.temporal.io/sdk/client"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"

	"github.com/elega/impagos/internal/httpserve"
)

// EnvAddr names the address the worker serves its metrics on; unset, it
// serves none.
const EnvAddr = "IMPAGOS_METRICS_ADDR"

// Path is where the metrics are served.
const Path = "/metrics"

// NewRegistry is a registry with the Go runtime's and the process's metrics
// (go_*, process_*), for the SDK's and the ledger's to join.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// latencyBuckets are the bounds, in seconds, of the SDK's latency
// histograms: OpenTelemetry's default bounds are meant for milliseconds, and
// a task's schedule-to-start latency spans milliseconds to minutes.
var latencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800}

// SDKHandler is the metrics handler of a Temporal client (client.Options
// .MetricsHandler) that records the SDK's metrics into reg. Its counters are
// monotonic, so they are exported as Prometheus counters (_total).
func SDKHandler(reg prometheus.Registerer) (client.MetricsHandler, error) {
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo(), otelprom.WithoutTargetInfo())
	if err != nil {
		return nil, fmt.Errorf("metrics of the Temporal SDK: %w", err)
	}
	seconds := sdkmetric.NewView(sdkmetric.Instrument{Unit: "s"},
		sdkmetric.Stream{Aggregation: sdkmetric.AggregationExplicitBucketHistogram{Boundaries: latencyBuckets}})
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter), sdkmetric.WithView(seconds))
	return temporalotel.NewMetricsHandler(temporalotel.MetricsHandlerOptions{
		Meter:                provider.Meter("temporal-sdk-go"),
		UseMonotonicCounters: true,
		// The default panics: a metric the meter cannot take is no reason
		// to stop running cases.
		OnError: func(err error) { slog.Warn("Temporal SDK metric not recorded", "error", err) },
	}), nil
}

// Handler serves reg's metrics. A collector that fails leaves its metrics
// out of the answer (and says so in the log) rather than fail the scrape.
func Handler(reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(Path, promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(slog.Default().Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
	}))
	return mux
}

// Serve serves h on ln until ctx is done.
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	return httpserve.Serve(ctx, "metrics server", ln, h)
}
