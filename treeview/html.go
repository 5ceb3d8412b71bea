package treeview

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"html/template"
	"slices"
	"strings"
	"time"

	"github.com/troupe-go/troupe/observe"
)

var (
	//go:embed assets/index.html
	indexHTML string
	//go:embed assets/app.js
	appJS string
	//go:embed assets/app.css
	appCSS string
)

// csp allows the page's own script and style, by hash, and connections
// to its own origin (for the event stream and JSON), and nothing else.
var csp = "default-src 'none'; script-src " + hashSource(appJS) + "; style-src " + hashSource(appCSS) +
	"; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'" +
	"; require-trusted-types-for 'script'"

func hashSource(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

var pageTmpl = template.Must(template.New("page").Funcs(template.FuncMap{
	"rfc3339": func(t any) string {
		switch t := t.(type) {
		case time.Time:
			return t.UTC().Format(time.RFC3339Nano)
		case *time.Time:
			if t != nil {
				return t.UTC().Format(time.RFC3339Nano)
			}
		}
		return ""
	},
	"clock": func(t time.Time) string { return t.UTC().Format("15:04:05.000") },
	// frac is a threshold of a meter: strictly inside (0, n], so that a
	// meter at n (a full mailbox, an exhausted intensity) is in the high
	// region, drawn as bad.
	"frac": func(n int, f float64) float64 { return float64(n) * f },
	"join": func(s []string) string { return strings.Join(s, ", ") },
	"tone": statusTone,
}).Parse(indexHTML))

// htmlPage is what the page template renders.
type htmlPage struct {
	*Page
	Tree   []nodeView
	Recent []TailEvent // newest first
	JS     template.JS
	CSS    template.CSS
}

// nodeView is a node with what the template computes from it.
type nodeView struct {
	*observe.Node
	Tone              string
	Unresponsive      bool
	Uptime, Countdown string
	OwnKind           bool // Kind says more than Type
	Kids              []nodeView
}

func views(ns []observe.Node, now time.Time) []nodeView {
	out := make([]nodeView, len(ns))
	for i := range ns {
		n := &ns[i]
		v := nodeView{Node: n, Tone: tone(n), Kids: views(n.Children, now)}
		v.Unresponsive = n.Supervisor != nil && n.Supervisor.Unresponsive
		if n.Started != nil && n.Status == observe.StatusRunning {
			v.Uptime = duration(now.Sub(*n.Started))
		}
		if n.NextStart != nil {
			if d := n.NextStart.Sub(now); d > 0 {
				v.Countdown = "in " + duration(d)
			} else {
				v.Countdown = "due"
			}
		}
		v.OwnKind = n.Kind != "" && n.Kind != string(n.Type)
		out[i] = v
	}
	return out
}

// duration is d rounded for a person: 850ms, 2.4s, 3m12s, 5h3m.
func duration(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	}
	return strings.TrimSuffix(d.Round(time.Minute).String(), "0s")
}

func writeHTML(buf *bytes.Buffer, p *Page) error {
	recent := slices.Clone(p.Events)
	slices.Reverse(recent)
	return pageTmpl.Execute(buf, htmlPage{Page: p, Tree: views(p.Nodes, p.Time), Recent: recent,
		JS: template.JS(appJS), CSS: template.CSS(appCSS)})
}
