package scn

import (
	"strconv"
	"strings"
)

// String returns the scenario as canonical `.scn` text: the headers
// strategy, intensity, period and (unless it is "never") auto_shutdown, then
// one `child` line per static child in the order of [Scenario.All], then
// one `step` line per step. Every line ends with "\n"; there are no
// comments and tokens are separated by one space.
//
// For a Scenario returned by [Parse], parsing the result gives an equal
// Scenario except for the Line fields. String does not validate: a
// Scenario built by hand prints whatever it holds.
func (s *Scenario) String() string {
	var b strings.Builder
	b.WriteString("strategy " + s.Strategy + "\n")
	b.WriteString("intensity " + strconv.Itoa(s.Intensity) + "\n")
	b.WriteString("period " + strconv.Itoa(s.Period) + "\n")
	if s.AutoShutdown != "" && s.AutoShutdown != "never" {
		b.WriteString("auto_shutdown " + s.AutoShutdown + "\n")
	}
	for c := range s.All() {
		b.WriteString("child ")
		c.writeDef(&b)
		b.WriteByte('\n')
	}
	for i := range s.Steps {
		b.WriteString("step ")
		s.Steps[i].writeAction(&b)
		b.WriteByte('\n')
	}
	return b.String()
}

// String returns the child spec as written after `child` or
// `step start_child`, for example "s permanent infinity supervisor
// one_for_one 1 5". Nested children are not included.
func (c *Child) String() string {
	var b strings.Builder
	c.writeDef(&b)
	return b.String()
}

// writeDef writes `PATH RESTART SHUTDOWN option*` with the options in a
// fixed order.
func (c *Child) writeDef(b *strings.Builder) {
	b.WriteString(c.Path + " " + c.Restart + " " + c.Shutdown.String())
	if c.Significant {
		b.WriteString(" significant")
	}
	if c.Stubborn {
		b.WriteString(" stubborn")
	}
	if len(c.FailStarts) > 0 {
		b.WriteString(" fail_starts ")
		for i, n := range c.FailStarts {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa(n))
		}
	}
	if sup := c.Supervisor; sup != nil {
		b.WriteString(" supervisor " + sup.Strategy + " " +
			strconv.Itoa(sup.Intensity) + " " + strconv.Itoa(sup.Period))
		if sup.AutoShutdown != "" && sup.AutoShutdown != "never" {
			b.WriteString(" auto_shutdown " + sup.AutoShutdown)
		}
	}
}

// String returns the step's action as written after `step`, for example
// "crash s.x error" or "which_children".
func (st Step) String() string {
	var b strings.Builder
	st.writeAction(&b)
	return b.String()
}

func (st Step) writeAction(b *strings.Builder) {
	b.WriteString(st.Op)
	switch st.Op {
	case "crash":
		b.WriteString(" " + st.Path + " " + st.Reason)
	case "start_child":
		if st.Child != nil {
			b.WriteByte(' ')
			st.Child.writeDef(b)
		}
	case "sleep":
		b.WriteString(" " + strconv.Itoa(st.Millis))
	default:
		if st.Path != "" {
			b.WriteString(" " + st.Path)
		}
	}
}
