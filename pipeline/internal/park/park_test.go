package park

import (
	"slices"
	"testing"
	"time"
)

var t0 = time.Unix(1000, 0)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// drain removes the entries earliest first and returns their values.
func drain(q *Queue[string]) []string {
	var got []string
	for e := q.First(); e != nil; e = q.First() {
		got = append(got, e.Value)
		q.Remove(e)
	}
	return got
}

func TestEarliestFirstTiesInParkOrder(t *testing.T) {
	var q Queue[string]
	if q.First() != nil || q.Len() != 0 {
		t.Fatal("the zero Queue is not empty")
	}
	q.Push("c", at(30))
	q.Push("a1", at(10))
	q.Push("b", at(20))
	q.Push("a2", at(10))
	q.Push("a3", at(10))
	if q.Len() != 5 {
		t.Fatalf("Len = %d; want 5", q.Len())
	}
	if got, want := drain(&q), []string{"a1", "a2", "a3", "b", "c"}; !slices.Equal(got, want) {
		t.Fatalf("order %v; want %v", got, want)
	}
}

// TestDelayGoesBehindTies: a delayed entry goes behind the entries
// already due at its new time, as if parked again.
func TestDelayGoesBehindTies(t *testing.T) {
	var q Queue[string]
	a := q.Push("a", at(10))
	q.Push("b", at(20))
	q.Push("c", at(30))
	q.Delay(a, at(20))
	if a.Due() != at(20) {
		t.Fatalf("Due = %v after Delay; want %v", a.Due(), at(20))
	}
	if got, want := drain(&q), []string{"b", "a", "c"}; !slices.Equal(got, want) {
		t.Fatalf("order %v; want %v", got, want)
	}
}

func TestRemoveFromTheMiddle(t *testing.T) {
	var q Queue[string]
	q.Push("a", at(10))
	b := q.Push("b", at(20))
	q.Push("c", at(30))
	q.Remove(b)
	if got, want := drain(&q), []string{"a", "c"}; !slices.Equal(got, want) {
		t.Fatalf("order %v; want %v", got, want)
	}
}

func TestEntriesAndClear(t *testing.T) {
	var q Queue[string]
	q.Push("a", at(10))
	q.Push("b", at(5))
	var got []string
	for _, e := range q.Entries() {
		got = append(got, e.Value)
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("Entries hold %v; want a and b", got)
	}
	q.Clear()
	if q.Len() != 0 || q.First() != nil || len(q.Entries()) != 0 {
		t.Fatal("Clear left entries")
	}
}

// FuzzQueue runs pushes, delays and removals against a model (a slice
// kept in (due, order) order) and checks that First is always the
// model's first and every entry's Due is the model's.
func FuzzQueue(f *testing.F) {
	f.Add([]byte{0, 5, 0, 5, 1, 0, 3, 2, 1, 3, 0})
	f.Add([]byte{0, 1, 0, 2, 0, 3, 2, 0, 2, 0, 2, 0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		type ref struct {
			e   *Entry[int]
			due int
			ord int
		}
		var q Queue[int]
		var model []ref
		ord := 0
		sortModel := func() {
			slices.SortFunc(model, func(a, b ref) int {
				if a.due != b.due {
					return a.due - b.due
				}
				return a.ord - b.ord
			})
		}
		for i := 0; i+1 < len(ops); i += 2 {
			op, arg := ops[i]%4, int(ops[i+1])
			switch {
			case op == 0 || len(model) == 0: // push, due in [0, 16): many ties
				ord++
				model = append(model, ref{q.Push(ord, at(arg%16)), arg % 16, ord})
			case op == 1: // delay one
				r := &model[arg%len(model)]
				ord++
				q.Delay(r.e, at(arg%16))
				r.due, r.ord = arg%16, ord
			case op == 2: // remove the first
				q.Remove(q.First())
				sortModel()
				model = model[1:]
			default: // remove one
				k := arg % len(model)
				q.Remove(model[k].e)
				model = slices.Delete(model, k, k+1)
			}
			sortModel()
			if q.Len() != len(model) {
				t.Fatalf("Len = %d; model has %d", q.Len(), len(model))
			}
			if len(model) == 0 {
				if q.First() != nil {
					t.Fatal("First of an empty queue is not nil")
				}
				continue
			}
			if q.First() != model[0].e {
				t.Fatalf("First = %d (due %v); model's first is %d", q.First().Value, q.First().Due(), model[0].e.Value)
			}
			for _, r := range model {
				if r.e.Due() != at(r.due) {
					t.Fatalf("entry %d due %v; want %v", r.e.Value, r.e.Due(), at(r.due))
				}
			}
		}
	})
}
