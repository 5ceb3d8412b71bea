package strategy

// Plan is the work of one restart under a [Strategy], as returned by [Group].
// Every index refers to the children slice given to Group, as it was
// before any of the plan was applied. Apply the phases in this order:
//
//  1. Stop each child in Stop, one after the other, with its shutdown
//     procedure.
//  2. Remove the spec of each child in Remove, and mark every other child
//     of the group (each one in Start) [Down].
//  3. Start each child in Start, one after the other. If a start fails,
//     that child becomes [Restarting], the children after it in Start stay
//     Down and are not started, and the supervisor retries: an
//     [Intensity] check, then a new Group call with the failed child.
//
// Removing specs shifts the positions of later children, so resolve the
// indexes (to ids or to the supervisor's own records) before removing.
type Plan struct {
	// Stop holds the running children of the group other than the failed
	// one, in reverse start order.
	Stop []int
	// Remove holds the temporary children of the group, in start order.
	// They are never started again.
	Remove []int
	// Start holds every child of the group that is not temporary, in start
	// order, whatever its status was: a transient child that had exited
	// normally and a child stopped with terminate_child are started too.
	// For OneForOne it holds just the failed child (unless it is
	// temporary).
	Start []int
}

// Group returns the plan for restarting children[failed] under the
// strategy kind (FORMAT §4.5 and the restart procedure of §5, OTP
// restart/3). The group is children[failed] alone for [OneForOne], every
// child for [OneForAll], and children[failed] with every child after it
// for [RestForOne]; a kind outside the constants is treated as OneForOne.
// Children before the group are never touched.
//
// children must be the supervisor's children in start order with their
// current status. The failed child is never in Plan.Stop, whatever its
// status: it already ended, or its start failed. Only [Running] children
// are stopped; [Down] and [Restarting] ones have nothing to stop.
//
// Call Group only after [Intensity.Allow] granted the restart. Group panics
// if failed is not a valid index of children.
func Group(kind Strategy, children []ChildState, failed int) Plan {
	if failed < 0 || failed >= len(children) {
		panic("strategy: Group: failed child index out of range")
	}
	first, end := failed, failed+1
	switch kind {
	case OneForAll:
		first, end = 0, len(children)
	case RestForOne:
		end = len(children)
	}
	var p Plan
	for i := end - 1; i >= first; i-- {
		if i != failed && children[i].Status == Running {
			p.Stop = append(p.Stop, i)
		}
	}
	for i := first; i < end; i++ {
		if children[i].Restart == Temporary {
			p.Remove = append(p.Remove, i)
		} else {
			p.Start = append(p.Start, i)
		}
	}
	return p
}
