package supervisor_test

import (
	"errors"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/strategy"
	"github.com/troupe-go/troupe/supervisor"
)

// TestStartInvalid checks that Start refuses unusable specs and options
// with an error naming the problem, before any child starts, and leaves
// the supervisor's name free.
func TestStartInvalid(t *testing.T) {
	cases := []struct {
		name  string
		specs func(r *rig) []supervisor.ChildSpec
		opts  []supervisor.Option
		want  []error // every one must match with errors.Is
	}{
		{
			name: "empty id",
			specs: func(r *rig) []supervisor.ChildSpec {
				return []supervisor.ChildSpec{r.spec("a", hooks{}), r.spec("", hooks{})}
			},
			want: []error{supervisor.ErrInvalidSpec},
		},
		{
			name:  "spec not built with NewWorker",
			specs: func(r *rig) []supervisor.ChildSpec { return []supervisor.ChildSpec{r.spec("a", hooks{}), {ID: "raw"}} },
			want:  []error{supervisor.ErrInvalidSpec},
		},
		{
			name: "restart type out of range",
			specs: func(r *rig) []supervisor.ChildSpec {
				s := r.spec("a", hooks{})
				s.Restart = strategy.Restart(7)
				return []supervisor.ChildSpec{s}
			},
			want: []error{supervisor.ErrInvalidSpec},
		},
		{
			name: "negative shutdown",
			specs: func(r *rig) []supervisor.ChildSpec {
				s := r.spec("a", hooks{})
				s.Shutdown = -5 * time.Second
				return []supervisor.ChildSpec{s}
			},
			want: []error{supervisor.ErrInvalidSpec},
		},
		{
			name:  "duplicate ids",
			specs: func(r *rig) []supervisor.ChildSpec { return r.specs("a", "b", "a") },
			want:  []error{supervisor.ErrDuplicateID, strategy.ErrDuplicateID},
		},
		{
			name: "significant permanent",
			specs: func(r *rig) []supervisor.ChildSpec {
				s := r.spec("a", hooks{})
				s.Significant = true
				return []supervisor.ChildSpec{s}
			},
			opts: []supervisor.Option{supervisor.WithAutoShutdown(supervisor.AnySignificant)},
			want: []error{supervisor.ErrBadCombination},
		},
		{
			name: "significant with auto shutdown never",
			specs: func(r *rig) []supervisor.ChildSpec {
				s := r.spec("a", hooks{})
				s.Restart, s.Significant = supervisor.Transient, true
				return []supervisor.ChildSpec{s}
			},
			want: []error{supervisor.ErrBadCombination, strategy.ErrBadCombination},
		},
		{
			name:  "negative intensity",
			specs: func(r *rig) []supervisor.ChildSpec { return r.specs("a") },
			opts:  []supervisor.Option{supervisor.WithIntensity(-1, time.Second)},
			want:  []error{supervisor.ErrInvalidSpec},
		},
		{
			name:  "zero period",
			specs: func(r *rig) []supervisor.ChildSpec { return r.specs("a") },
			opts:  []supervisor.Option{supervisor.WithIntensity(1, 0)},
			want:  []error{supervisor.ErrInvalidSpec},
		},
		{
			name:  "backoff max below min",
			specs: func(r *rig) []supervisor.ChildSpec { return r.specs("a") },
			opts:  []supervisor.Option{supervisor.WithBackoff(strategy.Backoff{Min: time.Second, Max: time.Millisecond})},
			want:  []error{supervisor.ErrInvalidSpec, strategy.ErrInvalidBackoff},
		},
		{
			name:  "backoff jitter above 1",
			specs: func(r *rig) []supervisor.ChildSpec { return r.specs("a") },
			opts:  []supervisor.Option{supervisor.WithBackoff(strategy.Backoff{Min: time.Millisecond, Max: time.Second, Jitter: 2})},
			want:  []error{supervisor.ErrInvalidSpec, strategy.ErrInvalidBackoff},
		},
		{
			name:  "backoff factor below 1",
			specs: func(r *rig) []supervisor.ChildSpec { return r.specs("a") },
			opts:  []supervisor.Option{supervisor.WithBackoff(strategy.Backoff{Min: time.Millisecond, Max: time.Second, Factor: 0.5})},
			want:  []error{supervisor.ErrInvalidSpec, strategy.ErrInvalidBackoff},
		},
		{
			name:  "unknown strategy",
			specs: func(r *rig) []supervisor.ChildSpec { return r.specs("a") },
			opts:  []supervisor.Option{supervisor.WithStrategy(strategy.Strategy(9))},
			want:  []error{supervisor.ErrInvalidSpec},
		},
		{
			name:  "unknown auto shutdown",
			specs: func(r *rig) []supervisor.ChildSpec { return r.specs("a") },
			opts:  []supervisor.Option{supervisor.WithAutoShutdown(strategy.AutoShutdown(9))},
			want:  []error{supervisor.ErrInvalidSpec},
		},
		{
			name: "nested supervisor with invalid options",
			specs: func(r *rig) []supervisor.ChildSpec {
				return []supervisor.ChildSpec{supervisor.NewSupervisor("sub", r.specs("x"), supervisor.WithIntensity(-1, time.Second))}
			},
			want: []error{supervisor.ErrInvalidSpec, supervisor.ErrStartFailed},
		},
		{
			name: "nested supervisor with duplicate ids",
			specs: func(r *rig) []supervisor.ChildSpec {
				return []supervisor.ChildSpec{supervisor.NewSupervisor("sub", r.specs("x", "x"))}
			},
			want: []error{supervisor.ErrDuplicateID, supervisor.ErrStartFailed},
		},
		{
			name: "nil factory",
			specs: func(r *rig) []supervisor.ChildSpec {
				return []supervisor.ChildSpec{supervisor.NewWorker[msg]("a", nil)}
			},
			want: []error{supervisor.ErrInvalidSpec},
		},
		{
			// A spec error after a good child: nothing starts (it used to
			// start and stop "a", then fail with ErrStartFailed).
			name: "nil factory after a good child",
			specs: func(r *rig) []supervisor.ChildSpec {
				return []supervisor.ChildSpec{r.spec("a", hooks{}), supervisor.NewWorker[msg]("b", nil)}
			},
			want: []error{supervisor.ErrInvalidSpec},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newRig(t)
				sup, err := supervisor.Start(r.sys, "top", tc.specs(r), tc.opts...)
				if err == nil {
					_ = sup.Stop(callCtx(t))
					t.Fatalf("Start: got nil error; want one matching %v", tc.want)
				}
				if sup != nil {
					t.Errorf("Start: got supervisor %v with error %v; want nil", sup, err)
				}
				for _, w := range tc.want {
					if !errors.Is(err, w) {
						t.Errorf("Start: got %v; want an error matching %v", err, w)
					}
				}
				if l := r.log(); len(l) != 0 {
					t.Errorf("children started by an invalid Start: got %q; want none", l)
				}
				// The failed supervisor left nothing behind: its name is free.
				sup, err = supervisor.Start(r.sys, "top", r.specs("ok"))
				if err != nil {
					t.Fatalf("Start after the failed one: got %v; want nil", err)
				}
				if err := sup.Stop(callCtx(t)); err != nil {
					t.Errorf("Stop: got %v; want nil", err)
				}
			})
		})
	}
}

// TestValidate checks ChildSpec.Validate and Kind on their own.
func TestValidate(t *testing.T) {
	good := supervisor.NewWorker("w", func() actor.Actor[msg] { return &kid{} })
	brutal := good
	brutal.Shutdown = actor.BrutalKill
	inf := good
	inf.Shutdown = actor.Infinity
	cases := []struct {
		name string
		spec supervisor.ChildSpec
		ok   bool
	}{
		{"worker", good, true},
		{"supervisor", supervisor.NewSupervisor("s", nil), true},
		{"brutal kill", brutal, true},
		{"infinity", inf, true},
		{"zero spec", supervisor.ChildSpec{}, false},
		{"no start", supervisor.ChildSpec{ID: "x"}, false},
		{"empty id", supervisor.NewWorker("", func() actor.Actor[msg] { return &kid{} }), false},
		{"nil factory", supervisor.NewWorker[msg]("w", nil), false},
	}
	for _, tc := range cases {
		err := tc.spec.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("%s: Validate() = %v; want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && !errors.Is(err, supervisor.ErrInvalidSpec) {
			t.Errorf("%s: got %v; want an error matching ErrInvalidSpec", tc.name, err)
		}
	}
	if got, want := good.Type(), supervisor.TypeWorker; got != want {
		t.Errorf("NewWorker Kind: got %v; want %v", got, want)
	}
	if got, want := supervisor.NewSupervisor("s", nil).Type(), supervisor.TypeSupervisor; got != want {
		t.Errorf("NewSupervisor Kind: got %v; want %v", got, want)
	}
}

// TestStartChildFails checks that a child failing to start makes Start
// fail with a *ChildStartError naming it, after the children already
// started stopped in reverse order; the children after it never start.
func TestStartChildFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		specs := []supervisor.ChildSpec{
			r.spec("a", hooks{}),
			r.spec("b", hooks{}),
			r.spec("c", hooks{}),
			r.spec("bad", hooks{start: func(actor.Context, int) error { return errBoom }}),
			r.spec("d", hooks{}),
		}
		sup, err := supervisor.Start(r.sys, "top", specs)
		if err == nil {
			t.Fatalf("Start: got nil error, supervisor %v; want a *ChildStartError", sup)
		}
		var cse *supervisor.ChildStartError
		if !errors.As(err, &cse) {
			t.Fatalf("Start: got %T %v; want a *ChildStartError", err, err)
		}
		if got, want := cse.ID, "bad"; got != want {
			t.Errorf("ChildStartError.ID: got %q; want %q", got, want)
		}
		for _, w := range []error{supervisor.ErrStartFailed, errBoom} {
			if !errors.Is(err, w) {
				t.Errorf("Start: got %v; want an error matching %v", err, w)
			}
		}
		want := []string{
			"start a", "start b", "start c", "start_failed bad",
			"stop c shutdown", "stop b shutdown", "stop a shutdown",
		}
		if got := r.log(); !slices.Equal(got, want) {
			t.Errorf("log: got %q; want %q", got, want)
		}
	})
}

// TestStartNestedChildFails checks that a failed start deep in a tree
// unwinds it: the nested supervisor's started children stop in reverse
// order, then the top's, and the error names the top's child.
func TestStartNestedChildFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		specs := []supervisor.ChildSpec{
			r.spec("a", hooks{}),
			supervisor.NewSupervisor("sub", []supervisor.ChildSpec{
				r.spec("x", hooks{}),
				r.spec("y", hooks{start: func(actor.Context, int) error { return errBoom }}),
			}),
		}
		_, err := supervisor.Start(r.sys, "top", specs)
		var cse *supervisor.ChildStartError
		if !errors.As(err, &cse) || cse.ID != "sub" {
			t.Fatalf("Start: got %v; want a *ChildStartError for sub", err)
		}
		if !errors.Is(err, errBoom) {
			t.Errorf("Start: got %v; want it to wrap %v", err, errBoom)
		}
		want := []string{"start a", "start x", "start_failed y", "stop x shutdown", "stop a shutdown"}
		if got := r.log(); !slices.Equal(got, want) {
			t.Errorf("log: got %q; want %q", got, want)
		}
	})
}

// TestStartTwice checks that a second supervisor cannot take a used name.
func TestStartTwice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		if _, err := supervisor.Start(r.sys, "top", r.specs("a")); err != nil {
			t.Fatalf("Start: got %v; want nil", err)
		}
		if _, err := supervisor.Start(r.sys, "top", nil); !errors.Is(err, actor.ErrNameTaken) {
			t.Errorf("second Start: got %v; want an error matching %v", err, actor.ErrNameTaken)
		}
	})
}
