package treeview

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/troupe-go/troupe/observe"
)

// tone is the colour class of a node: ok (running), warn (starting,
// restarting, backoff), off (down, stopping, stopped), bad (unresponsive).
func tone(n *observe.Node) string {
	if n.Supervisor != nil && n.Supervisor.Unresponsive {
		return "bad"
	}
	return statusTone(n.Status)
}

func statusTone(s observe.Status) string {
	switch s {
	case observe.StatusRunning:
		return "ok"
	case observe.StatusStarting, observe.StatusRestarting, observe.StatusBackoff:
		return "warn"
	}
	return "off"
}

var dotColors = map[string]string{"ok": "#d8f3dc", "warn": "#ffe8a3", "off": "#e0e0e0", "bad": "#ffc9c9"}

// nodeLines is what a graph shows of a node, one line each.
func nodeLines(n *observe.Node) []string {
	lines := []string{n.Name}
	kind := string(n.Type)
	if n.Supervisor != nil {
		kind += " " + n.Supervisor.Strategy
	}
	if n.Kind != "" && n.Kind != string(n.Type) {
		kind += " (" + n.Kind + ")"
	}
	lines = append(lines, kind)
	st := string(n.Status)
	if n.Supervisor != nil && n.Supervisor.Unresponsive {
		st += ", unresponsive"
	}
	if n.Restarts > 0 {
		st += fmt.Sprintf(", %d restarts", n.Restarts)
	}
	return append(lines, st)
}

func stageLines(s *observe.Stage) []string {
	return []string{s.Name, fmt.Sprintf("in %d, out %d, failed %d", s.Received, s.Emitted, s.Failures)}
}

// dotQuote returns s as a DOT quoted string: quotes and backslashes
// escaped (so no escString sequence like \N is interpreted), line breaks
// as \n, other control characters dropped.
func dotQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case unicode.IsControl(r):
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func dotLabel(lines []string) string {
	return dotQuote(strings.Join(lines, "\n"))
}

func writeDOT(buf *bytes.Buffer, p *Page) error {
	fmt.Fprintf(buf, "digraph troupe {\n\tgraph [label=%s, labelloc=t];\n", dotQuote("troupe system "+p.System))
	buf.WriteString("\tnode [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\"];\n")
	id := 0
	var walk func(ns []observe.Node, parent string)
	walk = func(ns []observe.Node, parent string) {
		for i := range ns {
			n := &ns[i]
			me := "n" + strconv.Itoa(id)
			id++
			fmt.Fprintf(buf, "\t%s [label=%s, fillcolor=%s, tooltip=%s];\n", me, dotLabel(nodeLines(n)), dotQuote(dotColors[tone(n)]), dotQuote(n.Path))
			if parent != "" {
				fmt.Fprintf(buf, "\t%s -> %s;\n", parent, me)
			}
			walk(n.Children, me)
		}
	}
	walk(p.Nodes, "")
	for pi := range p.Pipelines {
		pl := &p.Pipelines[pi]
		fmt.Fprintf(buf, "\tsubgraph cluster_p%d {\n\t\tlabel=%s;\n", pi, dotQuote("pipeline "+pl.Name+" ("+pl.State+")"))
		ids, inputs := graphStages(fmt.Sprintf("p%ds", pi), pl, func(sid string, s *observe.Stage) {
			fmt.Fprintf(buf, "\t\t%s [label=%s, fillcolor=%s];\n", sid, dotLabel(stageLines(s)), dotQuote(dotColors["ok"]))
		}, func(sid, name string) {
			fmt.Fprintf(buf, "\t\t%s [label=%s, shape=ellipse, style=solid];\n", sid, dotQuote(name))
		})
		for _, e := range inputs {
			fmt.Fprintf(buf, "\t\t%s -> %s;\n", ids[e[0]], ids[e[1]])
		}
		buf.WriteString("\t}\n")
	}
	if p.Truncated > 0 {
		fmt.Fprintf(buf, "\ttruncated [label=%s, shape=note, style=solid];\n", dotQuote(fmt.Sprintf("%d nodes not shown", p.Truncated)))
	}
	buf.WriteString("}\n")
	return nil
}

// graphStages names the stages of pl (ids prefix0, prefix1, ...) and
// the sources they read from (inputs that are not stages), calls stage
// and source for each, and returns the names' ids and the edges [from,
// to] by name, in wiring order.
func graphStages(prefix string, pl *observe.Pipeline, stage func(id string, s *observe.Stage), source func(id, name string)) (map[string]string, [][2]string) {
	ids := map[string]string{}
	for si := range pl.Stages {
		s := &pl.Stages[si]
		if _, dup := ids[s.Name]; dup {
			continue
		}
		ids[s.Name] = prefix + strconv.Itoa(len(ids))
	}
	var edges [][2]string
	for si := range pl.Stages {
		for _, in := range pl.Stages[si].Inputs {
			if _, ok := ids[in]; !ok {
				ids[in] = prefix + strconv.Itoa(len(ids))
				source(ids[in], in)
			}
			edges = append(edges, [2]string{in, pl.Stages[si].Name})
		}
	}
	for si := range pl.Stages {
		stage(ids[pl.Stages[si].Name], &pl.Stages[si])
	}
	return ids, edges
}

// mermaidText returns s for a quoted Mermaid label: every character but
// letters, digits, spaces and ._-/:(), as an entity code (#60; for <), so
// neither Mermaid's syntax nor the HTML it renders labels into can be
// reached from a name.
func mermaidText(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r < 0x80 && (unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune(" ._-/:(),", r)):
			b.WriteRune(r)
		case unicode.IsControl(r):
		default:
			fmt.Fprintf(&b, "#%d;", r)
		}
	}
	return b.String()
}

func mermaidLabel(lines []string) string {
	parts := make([]string, len(lines))
	for i, l := range lines {
		parts[i] = mermaidText(l)
	}
	return `"` + strings.Join(parts, "<br/>") + `"`
}

func writeMermaid(buf *bytes.Buffer, p *Page) error {
	buf.WriteString("flowchart TD\n")
	fmt.Fprintf(buf, "\t%%%% troupe system %s\n", mermaidText(p.System))
	id := 0
	var walk func(ns []observe.Node, parent string)
	walk = func(ns []observe.Node, parent string) {
		for i := range ns {
			n := &ns[i]
			me := "n" + strconv.Itoa(id)
			id++
			fmt.Fprintf(buf, "\t%s[%s]:::%s\n", me, mermaidLabel(nodeLines(n)), tone(n))
			if parent != "" {
				fmt.Fprintf(buf, "\t%s --> %s\n", parent, me)
			}
			walk(n.Children, me)
		}
	}
	walk(p.Nodes, "")
	for pi := range p.Pipelines {
		pl := &p.Pipelines[pi]
		fmt.Fprintf(buf, "\tsubgraph p%d[%s]\n\t\tdirection LR\n", pi, mermaidLabel([]string{"pipeline " + pl.Name + " (" + pl.State + ")"}))
		ids, edges := graphStages(fmt.Sprintf("p%ds", pi), pl, func(sid string, s *observe.Stage) {
			fmt.Fprintf(buf, "\t\t%s[%s]:::ok\n", sid, mermaidLabel(stageLines(s)))
		}, func(sid, name string) {
			fmt.Fprintf(buf, "\t\t%s([%s])\n", sid, mermaidLabel([]string{name}))
		})
		for _, e := range edges {
			fmt.Fprintf(buf, "\t\t%s --> %s\n", ids[e[0]], ids[e[1]])
		}
		buf.WriteString("\tend\n")
	}
	if p.Truncated > 0 {
		fmt.Fprintf(buf, "\ttruncated>%s]\n", mermaidLabel([]string{fmt.Sprintf("%d nodes not shown", p.Truncated)}))
	}
	buf.WriteString("\tclassDef ok fill:#d8f3dc,stroke:#2d6a4f\n")
	buf.WriteString("\tclassDef warn fill:#ffe8a3,stroke:#b7791f\n")
	buf.WriteString("\tclassDef off fill:#e0e0e0,stroke:#757575\n")
	buf.WriteString("\tclassDef bad fill:#ffc9c9,stroke:#c92a2a\n")
	return nil
}
