package chaos_test

import (
	"context"
	"testing"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/chaos"
)

// BenchmarkInject measures a fault point that injects nothing: in code
// built without chaos (a nil monkey), and with a monkey whose rules do not
// match the site, or match it and do not fire.
func BenchmarkInject(b *testing.B) {
	ctx := context.Background()
	cases := []struct {
		name string
		m    *chaos.Monkey
	}{
		{"nil", nil},
		{"disarmed", disarmed(newMonkey(b, 1, chaos.Rule{Kind: chaos.Kill, Rate: 0.5}))},
		{"no-match", newMonkey(b, 1, chaos.Rule{Kind: chaos.Kill, Pattern: "other", Rate: 0.5})},
		{"match-no-fire", newMonkey(b, 1, chaos.Rule{Kind: chaos.Kill, Pattern: "site", Rate: 1e-12})},
	}
	for _, c := range cases {
		b.Run(c.name+"/item", func(b *testing.B) {
			b.ReportAllocs()
			for i := range b.N {
				if err := c.m.InjectItem(ctx, "site", uint64(i)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func disarmed(m *chaos.Monkey) *chaos.Monkey { m.Disarm(); return m }

// BenchmarkReceive measures one actor's message throughput without a
// fault injector (the runtime's nil check) and with a monkey installed
// whose rules do not touch the actor, or that is disarmed: the cost of
// leaving chaos wired in but off.
func BenchmarkReceive(b *testing.B) {
	cases := []struct {
		name string
		opts []actor.Option
	}{
		{"no-injector", nil},
		{"monkey-no-match", []actor.Option{actor.WithFaultInjector(newMonkey(b, 1, chaos.Rule{Kind: chaos.Kill, Pattern: "/other", Rate: 0.5}))}},
		{"monkey-disarmed", []actor.Option{actor.WithFaultInjector(disarmed(newMonkey(b, 1, chaos.Rule{Kind: chaos.Kill, Rate: 0.5})))}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			sys := actor.NewSystem(c.opts...)
			defer sys.Shutdown(context.Background())
			done := make(chan struct{})
			n := b.N
			ref, err := actor.Spawn(sys, "a", func() actor.Actor[int] {
				return actor.Func[int](func(_ actor.Context, v int) error {
					if v == n-1 {
						close(done)
					}
					return nil
				})
			})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := range n {
				_ = ref.Tell(ctx, i)
			}
			<-done
		})
	}
}
