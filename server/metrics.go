package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ftpd/ftpd/acl"
	"github.com/ftpd/ftpd/storage/s3store"
)

// Refusal reasons that are not data-connection verdicts (those come from
// acl.Reason). Stable: they are metric labels and log values.
const (
	reasonAllowedIPs    = "allowed_ips"
	reasonBanned        = "banned"
	reasonMaxConns      = "max_connections"
	reasonMaxConnsPerIP = "max_connections_per_ip"
	reasonMaxSessions   = "max_sessions"
	reasonTLSRequired   = "tls_required"
)

// metrics are one server's Prometheus collectors, on a registry of its own
// (never the process-wide default), so two servers in one process do not
// collide.
type metrics struct {
	registry    *prometheus.Registry
	connections prometheus.Gauge
	sessions    prometheus.Gauge
	logins      *prometheus.CounterVec
	transfers   *prometheus.CounterVec
	active      prometheus.Gauge
	bytes       *prometheus.CounterVec
	refusals    *prometheus.CounterVec
	bans        prometheus.Gauge
	duration    *prometheus.HistogramVec
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ftpd_connections", Help: "Open control connections.",
		}),
		sessions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ftpd_sessions", Help: "Logged-in sessions.",
		}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ftpd_logins_total", Help: "Login attempts by result (ok, failed, refused).",
		}, []string{"result"}),
		transfers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ftpd_transfers_total", Help: "File transfers by command, result (ok, failed, refused) and whether the data peer was foreign.",
		}, []string{"command", "result", "fxp"}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ftpd_transfers_active", Help: "File transfers in progress.",
		}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ftpd_transfer_bytes_total", Help: "File bytes moved, by direction (send, receive) and whether the data peer was foreign.",
		}, []string{"direction", "fxp"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ftpd_refusals_total", Help: "Refused connections, logins and data connections, by reason.",
		}, []string{"reason"}),
		bans: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ftpd_bans_active", Help: "IPs currently banned for failed logins.",
		}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ftpd_transfer_duration_seconds", Help: "Duration of completed file transfers.",
			Buckets: prometheus.ExponentialBuckets(0.01, 4, 10), // 10ms .. ~44min
		}, []string{"command", "fxp"}),
	}
	m.registry.MustRegister(m.connections, m.sessions, m.logins, m.transfers, m.active,
		m.bytes, m.refusals, m.bans, m.duration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Pre-create the series people alert on, so rate() works from zero.
	for _, r := range acl.Reasons() {
		m.refusals.WithLabelValues(r.String())
	}
	for _, r := range []string{reasonAllowedIPs, reasonBanned, reasonMaxConns, reasonMaxConnsPerIP, reasonMaxSessions, reasonTLSRequired} {
		m.refusals.WithLabelValues(r)
	}
	for _, r := range []string{"ok", "failed", "refused"} {
		m.logins.WithLabelValues(r)
	}
	return m
}

// watchS3 adds the S3 store's upload buffer gauges.
func (m *metrics) watchS3(st *s3store.Store) {
	m.registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ftpd_s3_upload_buffers", Help: "S3 upload part buffers lent to uploads (each part_size bytes; at most upload_memory together).",
		}, func() float64 { return float64(st.Budget().InUse) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ftpd_s3_uploads_waiting", Help: "S3 uploads waiting for a part buffer (upload_memory or upload_memory_per_client spent).",
		}, func() float64 { return float64(st.Budget().Waiting) }),
	)
}

func (m *metrics) refused(reason string) { m.refusals.WithLabelValues(reason).Inc() }

func fxpLabel(foreign bool) string { return strconv.FormatBool(foreign) }

// metricsServer serves /metrics on addr until ctx ends.
type metricsServer struct {
	http *http.Server
	ln   net.Listener
}

func startMetrics(addr string, m *metrics, log *slog.Logger) (*metricsServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server", "err", err)
		}
	}()
	log.Info("metrics listening", "addr", ln.Addr().String())
	return &metricsServer{http: srv, ln: ln}, nil
}

func (s *metricsServer) close(ctx context.Context) error { return s.http.Shutdown(ctx) }
