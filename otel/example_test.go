package troupeotel_test

import (
	"context"
	"fmt"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/troupe-go/troupe/actor"
	troupeotel "github.com/troupe-go/troupe/otel"
)

// ExampleRegister exports a System's metrics to a MeterProvider (here
// read by a ManualReader; in a service, the SDK with the exporter of your
// choice, and WithTracerProvider for the supervision spans).
func ExampleRegister() {
	sys := actor.NewSystem(actor.WithName("shop"))
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = sys.Shutdown(ctx)
	}()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(context.Background()) }()

	reg, err := troupeotel.Register(sys, troupeotel.WithMeterProvider(mp))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = reg.Close() }()

	if _, err := actor.Spawn(sys, "greeter", func() actor.Actor[string] {
		return actor.Func[string](func(actor.Context, string) error { return nil })
	}, actor.WithKind("greeter")); err != nil {
		fmt.Println(err)
		return
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		fmt.Println(err)
		return
	}
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if m.Name == "troupe.actor.running" {
			p := m.Data.(metricdata.Sum[int64]).DataPoints[0]
			kind, _ := p.Attributes.Value("troupe.actor.kind")
			fmt.Println(m.Name, kind.AsString(), p.Value)
		}
	}
	// Output: troupe.actor.running greeter 1
}
