package supervisor_test

import (
	"errors"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/supervisor"
)

// TestFindChild checks that FindChild and FindSupervisor tell "no such
// child" (ErrNotFound) from "wrong type" (ErrWrongType, naming both
// types), and that LookupChild and LookupSupervisor agree with them.
func TestFindChild(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		sup := mustStart(t, r, []supervisor.ChildSpec{r.spec("a", hooks{}), supervisor.NewSupervisor("s", r.specs("x"))})
		defer stopSup(t, sup)

		a, err := supervisor.FindChild[msg](sup, "a")
		if err != nil || a.Path() != "/top/a" {
			t.Errorf("FindChild[msg](a): got %v, %v; want /top/a, nil", a, err)
		}
		if got, ok := supervisor.LookupChild[msg](sup, "a"); !ok || got != a {
			t.Errorf("LookupChild[msg](a): got %v, %v; want %v, true", got, ok, a)
		}
		nested, err := supervisor.FindSupervisor(sup, "s")
		if err != nil || nested.Path() != "/top/s" {
			t.Fatalf("FindSupervisor(s): got %v, %v; want /top/s, nil", nested, err)
		}
		if _, err := supervisor.FindChild[msg](nested, "x"); err != nil {
			t.Errorf("FindChild[msg](s, x): got %v; want nil", err)
		}

		var te *actor.TypeError
		_, err = supervisor.FindChild[string](sup, "a")
		if !errors.Is(err, supervisor.ErrWrongType) || errors.Is(err, supervisor.ErrNotFound) || !errors.As(err, &te) {
			t.Fatalf("FindChild[string](a): got %v; want a *actor.TypeError matching ErrWrongType only", err)
		}
		if te.Want != "string" || !strings.HasSuffix(te.Have, ".msg") {
			t.Errorf("TypeError: got %+v; want Want string, Have ...msg", te)
		}
		_, err = supervisor.FindChild[msg](sup, "s")
		if !errors.As(err, &te) || te.Have != "supervisor" {
			t.Errorf("FindChild[msg](s): got %v; want a *actor.TypeError with Have \"supervisor\"", err)
		}
		_, err = supervisor.FindSupervisor(sup, "a")
		if !errors.As(err, &te) || te.Want != "supervisor" {
			t.Errorf("FindSupervisor(a): got %v; want a *actor.TypeError with Want \"supervisor\"", err)
		}
		if _, ok := supervisor.LookupSupervisor(sup, "a"); ok {
			t.Errorf("LookupSupervisor(a): got true; want false")
		}

		for _, id := range []string{"nobody", "x"} { // x is a grandchild, not a child
			_, err = supervisor.FindChild[msg](sup, id)
			if !errors.Is(err, supervisor.ErrNotFound) || errors.Is(err, supervisor.ErrWrongType) || !strings.Contains(err.Error(), `"`+id+`"`) {
				t.Errorf("FindChild(%s): got %v; want ErrNotFound naming it", id, err)
			}
		}
		if _, err := supervisor.FindSupervisor(sup, "nobody"); !errors.Is(err, supervisor.ErrNotFound) {
			t.Errorf("FindSupervisor(nobody): got %v; want ErrNotFound", err)
		}
		if _, err := supervisor.FindChild[msg](nil, "a"); !errors.Is(err, supervisor.ErrNotFound) {
			t.Errorf("FindChild(nil supervisor): got %v; want ErrNotFound", err)
		}
		if _, ok := supervisor.LookupChild[msg](nil, "a"); ok {
			t.Errorf("LookupChild(nil supervisor): got true; want false")
		}
	})
}
