package metrics

import (
	"bytes"
	"context"
	"os/exec"
	"reflect"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
)

// newTouchedRegistry returns a registry holding the service's collectors in which every vector
// has at least one child, so that Gather reports every family the service can export. It fails
// the test when a collector of Metrics still exports nothing, which is how a collector added to
// Metrics without a line here is caught.
func newTouchedRegistry(t testing.TB) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewRegistry()
	m := New(reg)
	m.HTTPRequests.WithLabelValues("GET", "/chats/all", "200").Inc()
	m.HTTPDuration.WithLabelValues("GET", "/chats/all").Observe(0.01)
	for _, d := range []string{DepDatabase, DepRedis, DepMaxAPI} {
		m.DependencyUp.WithLabelValues(d).Set(1)
	}
	m.MaxAPIDuration.Observe(0.1)
	m.CacheDuration.WithLabelValues("get").Observe(0.001)
	m.DatabaseDuration.WithLabelValues("list_chats").Observe(0.002)
	m.DatabaseErrors.WithLabelValues("list_chats")
	m.BuildInfo.WithLabelValues("test").Set(1)

	v := reflect.ValueOf(m).Elem()
	for i := range v.NumField() {
		c, ok := v.Field(i).Interface().(prometheus.Collector)
		if !ok {
			t.Fatalf("field Metrics.%s is not a prometheus.Collector", v.Type().Field(i).Name)
		}
		if testutil.CollectAndCount(c) == 0 {
			t.Fatalf("collector Metrics.%s exports no series: give it a child in newTouchedRegistry", v.Type().Field(i).Name)
		}
	}
	return reg
}

// TestExpositionPassesPromtoolCheckMetrics runs the service's /metrics text through
// `promtool check metrics`, the linter Prometheus ships for naming and help conventions.
func TestExpositionPassesPromtoolCheckMetrics(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool is needed to lint the exposition; install Debian's prometheus package (apt-get install -y prometheus): %v", err)
	}
	families, err := newTouchedRegistry(t).Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	var text bytes.Buffer
	enc := expfmt.NewEncoder(&text, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, f := range families {
		if err := enc.Encode(f); err != nil {
			t.Fatalf("encode %s: %v", f.GetName(), err)
		}
	}

	if !bytes.Contains(text.Bytes(), []byte("\nparticipants_cache_errors_total ")) {
		t.Fatalf("the exposition lacks participants_cache_errors_total:\n%s", text.String())
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, promtool, "check", "metrics")
	cmd.Stdin = &text
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}
