package troupeotel_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sort"
	"testing"
	"testing/synctest"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/troupe-go/troupe/observe"
	troupeotel "github.com/troupe-go/troupe/otel"
)

// notExported are the metrics of observe.Metrics that neither a Snapshot
// nor an event gives.
var notExported = map[string]bool{
	"troupe.message.process.duration": true,
	"troupe.message.wait.duration":    true,
	"troupe.ask.duration":             true,
	"troupe.stage.process.duration":   true,
	"troupe.chaos.faults":             true,
	"troupe.stage.batch.size":         true,
}

// testSnapshot has something for every metric a Snapshot gives.
func testSnapshot() observe.Snapshot {
	sup := func(name string, limit, used int, gaveUp uint64, kids ...observe.Node) observe.Node {
		return observe.Node{Name: name, Path: "/" + name, Type: observe.TypeSupervisor, Children: kids,
			Supervisor: &observe.Supervisor{Strategy: "one_for_all", MaxRestarts: limit, RestartsInWindow: used, GaveUp: gaveUp}}
	}
	return observe.Snapshot{
		Schema: observe.SchemaVersion,
		System: "shop",
		Kinds: []observe.KindStats{
			{Kind: "main.worker", Spawns: 5, Running: 4, Restarts: 3, Processed: 100,
				Stops:        map[string]uint64{"failure": 1, "normal": 2},
				Failures:     map[string]uint64{"panic": 2, "error": 1},
				MailboxDepth: 7, MailboxMax: 5, MailboxLimit: 40,
				Dropped: map[string]uint64{"drop_newest": 6}},
			{Kind: "main.reader", Spawns: 1, Running: 1, Processed: 9},
		},
		Nodes: []observe.Node{
			sup("top", 5, 2, 1,
				sup("pool", 3, 3, 2),
				observe.Node{Name: "w1", Type: observe.TypeWorker},
				sup("grp", 10, 0, 0, sup("pool", 3, 1, 1))),
		},
		DeadLetters: map[string]uint64{"stopped": 4, "poison": 1},
		Pipelines: []observe.Pipeline{{Name: "etl", Stages: []observe.Stage{
			{Name: "parse", Received: 10, Emitted: 9, Failures: 1, InFlight: 2, BlockedSeconds: 1.5},
			{Name: "store", Received: 9, Emitted: 9},
		}}},
	}
}

// point is one data point: its attributes and its value.
type point struct {
	attrs map[string]string
	value float64
}

func attrMap(s attribute.Set) map[string]string {
	out := map[string]string{}
	for _, kv := range s.ToSlice() {
		out[string(kv.Key)] = kv.Value.Emit()
	}
	return out
}

// collected is one collection, by metric name.
type collected map[string]metricdata.Metrics

func collect(t *testing.T, r *sdkmetric.ManualReader) (collected, metricdata.ResourceMetrics) {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("Collect: %v", err)
	}
	out := collected{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out, rm
}

// points returns the data points of m (a histogram's value is its sum).
func points(t *testing.T, m metricdata.Metrics) []point {
	t.Helper()
	var out []point
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		for _, p := range d.DataPoints {
			out = append(out, point{attrMap(p.Attributes), float64(p.Value)})
		}
	case metricdata.Sum[float64]:
		for _, p := range d.DataPoints {
			out = append(out, point{attrMap(p.Attributes), p.Value})
		}
	case metricdata.Gauge[int64]:
		for _, p := range d.DataPoints {
			out = append(out, point{attrMap(p.Attributes), float64(p.Value)})
		}
	case metricdata.Histogram[float64]:
		for _, p := range d.DataPoints {
			out = append(out, point{attrMap(p.Attributes), p.Sum})
		}
	default:
		t.Fatalf("%s: unexpected data %T", m.Name, m.Data)
	}
	return out
}

// instrumentOf says which observe instrument kind data is.
func instrumentOf(data metricdata.Aggregation) string {
	switch d := data.(type) {
	case metricdata.Sum[int64]:
		if d.IsMonotonic {
			return observe.Counter
		}
		return observe.UpDownCounter
	case metricdata.Sum[float64]:
		if d.IsMonotonic {
			return observe.Counter
		}
		return observe.UpDownCounter
	case metricdata.Gauge[int64], metricdata.Gauge[float64]:
		return observe.Gauge
	case metricdata.Histogram[float64], metricdata.Histogram[int64]:
		return observe.Histogram
	}
	return ""
}

// newMeter returns a MeterProvider with a ManualReader.
func newMeter(t *testing.T) (*sdkmetric.MeterProvider, *sdkmetric.ManualReader) {
	r := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	return mp, r
}

func register(t *testing.T, src observe.Source, opts ...troupeotel.Option) *troupeotel.Registration {
	t.Helper()
	reg, err := troupeotel.Register(src, opts...)
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	t.Cleanup(func() { _ = reg.Close() })
	return reg
}

// TestMetricsMatchCanonicalSet checks that every metric of observe.Metrics
// that a Snapshot or an event gives is exported, with exactly the name,
// unit, description, instrument and attribute keys observe.Metrics lists,
// under the ScopeName scope, and that no other metric is.
func TestMetricsMatchCanonicalSet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mp, r := newMeter(t)
		src := newFakeSource(testSnapshot())
		register(t, src, troupeotel.WithMeterProvider(mp))
		src.send(observe.Event{Kind: "backoff", Path: "/top/pool/w", FailureID: 3, DelaySeconds: 0.5, Time: time.Now()})
		synctest.Wait()

		got, rm := collect(t, r)
		if len(rm.ScopeMetrics) != 1 || rm.ScopeMetrics[0].Scope.Name != troupeotel.ScopeName {
			t.Fatalf("scopes: got %+v; want one, %q", rm.ScopeMetrics, troupeotel.ScopeName)
		}
		want := map[string]bool{}
		for _, def := range observe.Metrics {
			if notExported[def.Name] {
				if _, ok := got[def.Name]; ok {
					t.Errorf("%s: exported; want it left out", def.Name)
				}
				continue
			}
			want[def.Name] = true
			m, ok := got[def.Name]
			if !ok {
				t.Errorf("%s: not exported", def.Name)
				continue
			}
			if len(points(t, m)) == 0 {
				t.Errorf("%s: no data points", def.Name)
			}
		}
		checkCanonical(t, got, "shop")
		for name := range got {
			if !want[name] {
				t.Errorf("%s: exported; not in observe.Metrics", name)
			}
		}
		if h, ok := got["troupe.supervisor.backoff.delay"].Data.(metricdata.Histogram[float64]); ok {
			if b := h.DataPoints[0].Bounds; !slices.Equal(b, observe.BackoffBuckets) {
				t.Errorf("backoff buckets: got %v; want %v", b, observe.BackoffBuckets)
			}
		}
	})
}

// checkCanonical checks every metric of got against its definition in
// observe.Metrics: unit, description, instrument, and exactly its
// attribute keys on every data point, with troupe.system=system.
func checkCanonical(t *testing.T, got collected, system string) {
	t.Helper()
	for _, def := range observe.Metrics {
		m, ok := got[def.Name]
		if !ok {
			continue
		}
		if m.Unit != def.Unit || m.Description != def.Description {
			t.Errorf("%s: unit %q description %q; want %q %q", def.Name, m.Unit, m.Description, def.Unit, def.Description)
		}
		if in := instrumentOf(m.Data); in != def.Instrument {
			t.Errorf("%s: instrument %s (%T); want %s", def.Name, in, m.Data, def.Instrument)
		}
		wantKeys := slices.Sorted(slices.Values(def.Attributes))
		for _, p := range points(t, m) {
			if keys := slices.Sorted(maps.Keys(p.attrs)); !slices.Equal(keys, wantKeys) {
				t.Errorf("%s: attribute keys %v; want %v", def.Name, keys, wantKeys)
			}
			if p.attrs[observe.AttrSystem] != system {
				t.Errorf("%s: %s=%q; want %q", def.Name, observe.AttrSystem, p.attrs[observe.AttrSystem], system)
			}
		}
	}
}

// value returns the value of the data point of metric name whose
// attributes include attrs, failing if there is not exactly one.
func value(t *testing.T, got collected, name string, attrs ...string) float64 {
	t.Helper()
	m, ok := got[name]
	if !ok {
		t.Fatalf("%s: not exported", name)
	}
	var found []point
	for _, p := range points(t, m) {
		match := true
		for i := 0; i < len(attrs); i += 2 {
			if p.attrs[attrs[i]] != attrs[i+1] {
				match = false
			}
		}
		if match {
			found = append(found, p)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s %v: %d data points %v; want 1", name, attrs, len(found), found)
	}
	return found[0].value
}

// TestMetricsValues checks what each metric observes from a Snapshot:
// per-kind counts, supervisors grouped by name (escalations add up, usage
// and limit are the highest), dead letters by reason, stages.
func TestMetricsValues(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mp, r := newMeter(t)
		src := newFakeSource(testSnapshot())
		register(t, src, troupeotel.WithMeterProvider(mp))
		got, _ := collect(t, r)
		const kind, sup, stage = observe.AttrActorKind, observe.AttrSupervisor, observe.AttrStage
		for _, c := range []struct {
			name  string
			attrs []string
			want  float64
		}{
			{"troupe.actor.spawns", []string{kind, "main.worker"}, 5},
			{"troupe.actor.spawns", []string{kind, "main.reader"}, 1},
			{"troupe.actor.running", []string{kind, "main.worker"}, 4},
			{"troupe.actor.restarts", []string{kind, "main.worker"}, 3},
			{"troupe.actor.stops", []string{kind, "main.worker", observe.AttrStopReason, "failure"}, 1},
			{"troupe.actor.stops", []string{kind, "main.worker", observe.AttrStopReason, "normal"}, 2},
			{"troupe.actor.failures", []string{kind, "main.worker", observe.AttrErrorType, "panic"}, 2},
			{"troupe.actor.failures", []string{kind, "main.worker", observe.AttrErrorType, "error"}, 1},
			{"troupe.message.processed", []string{kind, "main.worker"}, 100},
			{"troupe.message.processed", []string{kind, "main.reader"}, 9},
			{"troupe.mailbox.depth", []string{kind, "main.worker"}, 7},
			{"troupe.mailbox.depth.max", []string{kind, "main.worker"}, 5},
			{"troupe.mailbox.limit", []string{kind, "main.worker"}, 40},
			{"troupe.mailbox.dropped", []string{kind, "main.worker", observe.AttrMailboxPolicy, "drop_newest"}, 6},
			{"troupe.supervisor.escalations", []string{sup, "top"}, 1},
			{"troupe.supervisor.escalations", []string{sup, "pool"}, 3},
			{"troupe.supervisor.escalations", []string{sup, "grp"}, 0},
			{"troupe.supervisor.restart.usage", []string{sup, "pool"}, 3},
			{"troupe.supervisor.restart.usage", []string{sup, "top"}, 2},
			{"troupe.supervisor.restart.limit", []string{sup, "pool"}, 3},
			{"troupe.supervisor.restart.limit", []string{sup, "grp"}, 10},
			{"troupe.message.dead_lettered", []string{observe.AttrDeadLetterReason, "stopped"}, 4},
			{"troupe.message.dead_lettered", []string{observe.AttrDeadLetterReason, "poison"}, 1},
			{"troupe.stage.received", []string{stage, "parse"}, 10},
			{"troupe.stage.emitted", []string{stage, "parse"}, 9},
			{"troupe.stage.failures", []string{stage, "parse"}, 1},
			{"troupe.stage.in_flight", []string{stage, "parse"}, 2},
			{"troupe.stage.blocked.time", []string{stage, "parse"}, 1.5},
			{"troupe.stage.received", []string{stage, "store", observe.AttrPipeline, "etl"}, 9},
			{"troupe.telemetry.kind_overflow", nil, 0},
		} {
			if v := value(t, got, c.name, c.attrs...); v != c.want {
				t.Errorf("%s %v: got %v; want %v", c.name, c.attrs, v, c.want)
			}
		}
		if n := len(points(t, got["troupe.actor.stops"])); n != 2 {
			t.Errorf("troupe.actor.stops: %d data points; want 2 (no reader stops)", n)
		}
	})
}

// TestMetricsPullOneSnapshotPerCollection checks that each collection takes
// exactly one Snapshot and observes what it holds then, and that after
// Close nothing is observed and no Snapshot is taken.
func TestMetricsPullOneSnapshotPerCollection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mp, r := newMeter(t)
		src := newFakeSource(testSnapshot())
		reg := register(t, src, troupeotel.WithMeterProvider(mp))
		before := src.snapshots()
		got, _ := collect(t, r)
		if n := src.snapshots() - before; n != 1 {
			t.Fatalf("Snapshots per collection: got %d; want 1", n)
		}
		if v := value(t, got, "troupe.actor.spawns", observe.AttrActorKind, "main.worker"); v != 5 {
			t.Fatalf("spawns: got %v; want 5", v)
		}
		s := testSnapshot()
		s.Kinds[0].Spawns = 8
		src.set(s)
		got, _ = collect(t, r)
		if v := value(t, got, "troupe.actor.spawns", observe.AttrActorKind, "main.worker"); v != 8 {
			t.Fatalf("spawns after the change: got %v; want 8", v)
		}
		if err := reg.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := reg.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		before = src.snapshots()
		got, _ = collect(t, r)
		for name, m := range got {
			if pts := points(t, m); len(pts) > 0 {
				t.Errorf("after Close: %s has %d data points; want none", name, len(pts))
			}
		}
		if n := src.snapshots() - before; n != 0 {
			t.Errorf("after Close: %d Snapshots; want 0", n)
		}
		if !src.sub.isClosed() {
			t.Errorf("after Close: subscription open; want closed")
		}
	})
}

// TestMetricsKindCap checks WithMaxKinds: kinds past the cap, in the order
// the System reports them, are observed as "other" (together with the
// System's own "other"), and the overflow counts the kinds folded.
func TestMetricsKindCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mp, r := newMeter(t)
		snap := observe.Snapshot{System: "s", Kinds: []observe.KindStats{
			{Kind: "a", Spawns: 1}, {Kind: "b", Spawns: 2}, {Kind: "c", Spawns: 4}, {Kind: observe.ErrorOtherKind, Spawns: 8},
		}}
		register(t, newFakeSource(snap), troupeotel.WithMeterProvider(mp), troupeotel.WithMaxKinds(2))
		got, _ := collect(t, r)
		var kinds []string
		for _, p := range points(t, got["troupe.actor.spawns"]) {
			kinds = append(kinds, p.attrs[observe.AttrActorKind])
		}
		sort.Strings(kinds)
		if want := []string{"a", "b", "other"}; !slices.Equal(kinds, want) {
			t.Fatalf("kinds: got %v; want %v", kinds, want)
		}
		if v := value(t, got, "troupe.actor.spawns", observe.AttrActorKind, "other"); v != 12 {
			t.Errorf("other's spawns: got %v; want 12 (c and the System's other)", v)
		}
		if v := value(t, got, "troupe.telemetry.kind_overflow"); v != 1 {
			t.Errorf("kind_overflow: got %v; want 1 (c)", v)
		}
	})
}

// TestRegisterErrors checks the bad inputs of Register.
func TestRegisterErrors(t *testing.T) {
	if _, err := troupeotel.Register(nil); !errors.Is(err, troupeotel.ErrNilSource) {
		t.Errorf("nil source: got %v; want ErrNilSource", err)
	}
	for name, opt := range map[string]troupeotel.Option{
		"timeout 0":   troupeotel.WithSnapshotTimeout(0),
		"timeout < 0": troupeotel.WithSnapshotTimeout(-time.Second),
		"kinds 0":     troupeotel.WithMaxKinds(0),
		"settle 0":    troupeotel.WithSettleTime(0),
	} {
		src := newFakeSource(observe.Snapshot{})
		if _, err := troupeotel.Register(src, opt); !errors.Is(err, troupeotel.ErrInvalidOption) {
			t.Errorf("%s: got %v; want ErrInvalidOption", name, err)
		}
	}
}
